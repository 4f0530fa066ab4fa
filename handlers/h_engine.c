/* h_engine: Docker routes (images, networks, system, compose): the table, shared helpers,
 * networks and the system routes (info, df, prune). Images, events and compose live in
 * h_engine_images.c, h_engine_events.c and h_engine_compose.c. */
#include <string.h>
#include <httpd.h>
#include <http_protocol.h>
#include <util_filter.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "dp_dk_policy.h"
#include "dp_dk_misc.h"
#include "h_owner.h"

/* ------------------------------------------------------------------------------------------ */
/* shared helpers */

/* Aborts a long engine call when the client has gone away: a write failed before, or a
 * non-blocking peek at the connection sees its end. */
apr_status_t dp_engine_tick(void *baton)
{
    request_rec *r = baton;
    conn_rec *c = r->connection;
    apr_bucket_brigade *bb;
    apr_status_t rv;

    if (c->aborted) {
        return APR_ECONNABORTED;
    }
    bb = apr_brigade_create(r->pool, c->bucket_alloc);
    rv = ap_get_brigade(c->input_filters, bb, AP_MODE_SPECULATIVE, APR_NONBLOCK_READ, 1);
    apr_brigade_destroy(bb);
    if (rv == APR_EOF || (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv))) {
        c->aborted = 1;
        return APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

/* Sends the outcome of operation c: logs its notice, records its target, then the answer. */
int dp_engine_reply(dp_req_t *q, const dp_dk_ctx_t *c, apr_status_t rv, const dp_problem_t *prob, int status,
                    json_object *body)
{
    if (c->notice) {
        DP_LOG(q, c->notice_error ? APLOG_ERR : APLOG_NOTICE, 0, "%s", c->notice);
    }
    if (c->target) {
        q->target = c->target;
    }
    return dp_send_result(q, rv, prob, status, body);
}

/* Answers fn on a route parameter. */
int dp_engine_get(dp_req_t *q, dp_dk_get_fn *fn, const char *param, int status)
{
    json_object *out = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    rv = fn(&out, &prob, &c, apr_table_get(q->params, param));
    return dp_engine_reply(q, &c, rv, prob, status, out);
}

/* Answers fn on the JSON body. */
int dp_engine_post(dp_req_t *q, dp_dk_body_fn *fn, int optional, int status)
{
    json_object *body, *out = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if ((rv = dp_read_json(&body, &prob, q, optional)) == APR_SUCCESS) {
        rv = fn(&out, &prob, &c, body);
    }
    return dp_engine_reply(q, &c, rv, prob, status, out);
}

/* Answers a read-only operation. */
int dp_engine_read(dp_req_t *q, dp_dk_read_fn *fn)
{
    json_object *o = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    rv = fn(&o, &prob, &c);
    return dp_engine_reply(q, &c, rv, prob, 200, o);
}

/* Answers a delete. */
int dp_engine_delete(dp_req_t *q, dp_dk_delete_fn *fn, const char *param)
{
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    rv = fn(&prob, &c, apr_table_get(q->params, param), q->query);
    return dp_engine_reply(q, &c, rv, prob, 204, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* networks */

/* GET /networks: Docker's list. */
static int networks_list(dp_req_t *q)
{
    json_object *list = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;

    dp_engine_ctx(&c, q);
    if (dp_dk_network_list(&list, &prob, &c) != APR_SUCCESS) {
        return dp_engine_reply(q, &c, DP_EPROBLEM, prob, 0, NULL);
    }
    return dp_send_items(q, 200, list, NULL);
}

/* GET /networks/{id}: Docker's inspect object. */
static int networks_inspect(dp_req_t *q)
{
    return dp_engine_get(q, dp_dk_network_inspect, "id", 200);
}

/* POST /networks: {"name","driver","internal","labels","subnet","gateway"} -> 201 {"id","warning"}. */
static int networks_create(dp_req_t *q)
{
    json_object *body, *out = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_netspec_t spec;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if ((rv = dp_read_json(&body, &prob, q, 0)) == APR_SUCCESS
        && (rv = dp_dk_network_read(&spec, &prob, q->pool, body)) == APR_SUCCESS) {
        rv = dp_dk_network_create(&out, &prob, &c, &spec);
    }
    return dp_engine_reply(q, &c, rv, prob, 201, out);
}

/* DELETE /networks/{id}: 204; 409 network_in_use while containers are attached. */
static int networks_delete(dp_req_t *q)
{
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    rv = dp_dk_network_delete(&prob, &c, apr_table_get(q->params, "id"));
    return dp_engine_reply(q, &c, rv, prob, 204, NULL);
}

/* POST /networks/{id}/connect and /disconnect: 200 {"changed": bool}. */
static int networks_attach(dp_req_t *q, int connect)
{
    json_object *body, *out = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    int changed = 0;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if ((rv = dp_read_json(&body, &prob, q, 0)) == APR_SUCCESS
        && (rv = dp_dk_network_attach(&changed, &prob, &c, apr_table_get(q->params, "id"), connect, body))
           == APR_SUCCESS) {
        out = dp_json_object(q->pool);
        json_object_object_add(out, "changed", json_object_new_boolean(changed));
    }
    return dp_engine_reply(q, &c, rv, prob, 200, out);
}

static int networks_connect(dp_req_t *q)
{
    return networks_attach(q, 1);
}

static int networks_disconnect(dp_req_t *q)
{
    return networks_attach(q, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* system */

/* GET /system/info: Docker's /info. */
static int system_info(dp_req_t *q)
{
    return dp_engine_read(q, dp_dk_system_info);
}

/* GET /system/df: Docker's answer for admin; for other keys only their own containers,
 * volumes and (labelled) images, no build cache and no host-wide layer total. */
static int system_df(dp_req_t *q)
{
    return dp_engine_read(q, dp_dk_system_df);
}

/* POST /system/prune: the kinds asked for; per-kind engine results and space_reclaimed. */
static int system_prune(dp_req_t *q)
{
    q->target = "system";
    return dp_engine_post(q, dp_dk_system_prune, 1, 200);
}

/* ------------------------------------------------------------------------------------------ */

const dp_handler_entry_t dp_engine_handlers[] = {
    { "images.list", dp_images_list },
    { "images.inspect", dp_images_inspect },
    { "images.pull", dp_images_pull },
    { "images.build", dp_images_build },
    { "images.delete", dp_images_delete },
    { "networks.list", networks_list },
    { "networks.inspect", networks_inspect },
    { "networks.create", networks_create },
    { "networks.delete", networks_delete },
    { "networks.connect", networks_connect },
    { "networks.disconnect", networks_disconnect },
    { "system.info", system_info },
    { "system.df", system_df },
    { "system.prune", system_prune },
    { "system.events", dp_system_events },
    { "compose.list", dp_compose_list },
    { "compose.inspect", dp_compose_inspect },
    { "compose.up", dp_compose_up },
    { "compose.down", dp_compose_down },
    { "compose.start", dp_compose_start },
    { "compose.stop", dp_compose_stop },
    { "compose.restart", dp_compose_restart },
    { NULL, NULL }
};
