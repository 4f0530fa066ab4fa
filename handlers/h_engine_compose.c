/* h_engine_compose: the Compose project routes over the core's dp_dk_project_* operations
 * (lib/dp_dk_projects.c): list, inspect, start/stop/restart, down and up. */
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "h_owner.h"
#include "h_billing.h"
#include "dp_billing.h"

/* GET /compose: the projects found from container labels; a non-admin key sees only the
 * projects whose every container carries its key. */
int dp_compose_list(dp_req_t *q)
{
    json_object *list = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;

    dp_engine_ctx(&c, q);
    if (dp_dk_project_list(&list, &prob, &c) != APR_SUCCESS) {
        return dp_engine_reply(q, &c, DP_EPROBLEM, prob, 0, NULL);
    }
    return dp_send_items(q, 200, list, NULL);
}

/* GET /compose/{project}: the project with its containers, networks and volumes. */
int dp_compose_inspect(dp_req_t *q)
{
    return dp_engine_get(q, dp_dk_project_inspect, "project", 200);
}

/* POST /compose/{project}/{start,stop,restart}: {"project","results":[{"id","name","changed"}]}. */
static int compose_action(dp_req_t *q, const char *action)
{
    json_object *out = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if (strcmp(action, "stop") != 0 && c.owner != NULL) {   /* billing (issue 15): past_due customers */
        const char *name = apr_table_get(q->params, "project");
        json_object *seen = NULL;
        if (dp_dk_project_inspect(&seen, &prob, &c, name) != APR_SUCCESS   /* its own, or 404 */
            || dp_billing_check_start(&prob, q, "project", name) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
    }
    rv = dp_dk_project_action(&out, &prob, &c, apr_table_get(q->params, "project"), action, q->query);
    return dp_engine_reply(q, &c, rv, prob, 200, out);
}

int dp_compose_start(dp_req_t *q)
{
    return compose_action(q, "start");
}

int dp_compose_stop(dp_req_t *q)
{
    return compose_action(q, "stop");
}

int dp_compose_restart(dp_req_t *q)
{
    return compose_action(q, "restart");
}

/* DELETE /compose/{project}: "down" (?volumes=, ?t=); a summary of what went. */
int dp_compose_down(dp_req_t *q)
{
    json_object *out = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    rv = dp_dk_project_down(&out, &prob, &c, apr_table_get(q->params, "project"), q->query);
    return dp_engine_reply(q, &c, rv, prob, 200, out);
}

/* POST /compose: "up" {"project","compose"} (dp_dk_project_up) with DockpayComposeRoot,
 * DockpayComposeCommand and DockpayComposeTimeout; the project plus "output". */
int dp_compose_up(dp_req_t *q)
{
    dp_dk_compose_conf_t conf;
    json_object *body, *out = NULL;
    dp_problem_t *prob = NULL;
    const char *customer = NULL, *name;
    dp_dk_ctx_t c;
    apr_status_t rv;

    conf.root = q->conf->compose_root;
    conf.command = q->conf->compose_command;
    conf.timeout = q->conf->compose_timeout;
    dp_engine_ctx(&c, q);
    if ((rv = dp_read_json(&body, &prob, q, 0)) == APR_SUCCESS
        && (rv = dp_billing_bind_from_body(&customer, &prob, q, body, 0)) == APR_SUCCESS) {   /* billing */
        if (customer) {   /* the binding's label on every service, as on a bound container */
            c.labels = dp_json_object(q->pool);
            dp_json_set_str(c.labels, DP_BILLING_LABEL, customer);
        }
        rv = dp_dk_project_up(&out, &prob, &c, body, &conf);
        name = dp_json_get_str(body, "project");
        if (rv == APR_SUCCESS && customer && name
            && (rv = dp_billing_bind_created(&prob, q, customer, "project", name)) != APR_SUCCESS) {
            out = NULL;
        }
    }
    return dp_engine_reply(q, &c, rv, prob, 200, out);
}
