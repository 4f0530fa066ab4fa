/* h_engine_compose: Compose projects. Listing and lifecycle work from the engine's labels;
 * "up" writes the posted file under DockpayComposeRoot and runs DockpayComposeCommand. */
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "dp_dk_compose.h"

#define COMPOSE_FILE "docker-compose.yml"

/* Reads the {project} route parameter; NULL after sending a 404. */
static const char *project_param(dp_req_t *q)
{
    const char *name = apr_table_get(q->params, "project");

    if (!dp_dk_compose_name_ok(name)) {
        dp_fail(q, 404, "project_not_found", "no such compose project: %s", name ? name : "");
        return NULL;
    }
    q->target = name;
    return name;
}

/* Returns the engine's objects of kind ("networks", "volumes") labelled with the project. */
static apr_status_t labelled(json_object **plist, dp_problem_t **pprob, dp_req_t *q, const char *kind,
                             const char *name)
{
    json_object *f = dp_json_object(q->pool), *a = json_object_new_array(), *res = NULL;
    const char *path;
    apr_status_t rv;

    json_object_array_add(a, json_object_new_string(apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)));
    json_object_object_add(f, "label", a);
    path = apr_pstrcat(q->pool, "/", kind, "?filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL);
    if ((rv = dp_engine_call(&res, NULL, pprob, q, "GET", path, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (!strcmp(kind, "volumes")) {
        res = dp_json_get(res, "Volumes");  /* {"Volumes": [...] or null, "Warnings": ...} */
    }
    *plist = (res && json_object_is_type(res, json_type_array)) ? res : dp_json_array(q->pool);
    return APR_SUCCESS;
}

/* Loads a project: its summary plus "containers", "networks", "volumes" (Docker's list
 * objects). 404 project_not_found when no container carries its label. */
static apr_status_t project_load(json_object **pout, json_object **pcontainers, dp_problem_t **pprob, dp_req_t *q,
                                 const char *name)
{
    json_object *cs = NULL, *nets = NULL, *vols = NULL, *groups, *out;
    apr_status_t rv;

    if ((rv = dp_engine_containers_by_label(&cs, pprob, q,
                                            apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)))
        != APR_SUCCESS) {
        return rv;
    }
    if (cs == NULL || json_object_array_length(cs) == 0) {
        return dp_problem_fail(pprob, q->pool, 404, "project_not_found", "no container belongs to the compose project '%s'",
                               name);
    }
    if ((rv = labelled(&nets, pprob, q, "networks", name)) != APR_SUCCESS
        || (rv = labelled(&vols, pprob, q, "volumes", name)) != APR_SUCCESS) {
        return rv;
    }
    groups = dp_dk_compose_group(q->pool, cs);
    if (json_object_array_length(groups) > 0) {
        out = json_object_get(json_object_array_get_idx(groups, 0));
        dp_json_own(q->pool, out);
    }
    else {  /* only one-off containers */
        out = dp_json_object(q->pool);
        dp_json_set_str(out, "name", name);
        dp_json_set_str(out, "status", dp_dk_compose_status(q->pool, cs));
        json_object_object_add(out, "services", json_object_new_array());
        dp_json_set_int(out, "container_count", 0);
    }
    dp_json_set_ref(out, "containers", cs);
    dp_json_set_ref(out, "networks", nets);
    dp_json_set_ref(out, "volumes", vols);
    *pout = out;
    if (pcontainers) {
        *pcontainers = cs;
    }
    return APR_SUCCESS;
}

/* GET /compose: the projects found from container labels. */
int dp_compose_list(dp_req_t *q)
{
    json_object *cs = NULL;
    dp_problem_t *prob = NULL;

    if (dp_engine_containers_by_label(&cs, &prob, q, DP_DK_COMPOSE_LABEL_PROJECT) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_engine_send_items(q, dp_dk_compose_group(q->pool, cs));
}

/* GET /compose/{project}: the project with its containers, networks and volumes. */
int dp_compose_inspect(dp_req_t *q)
{
    const char *name = project_param(q);
    json_object *out = NULL;
    dp_problem_t *prob = NULL;

    if (name == NULL) {
        return OK;
    }
    if (project_load(&out, NULL, &prob, q, name) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* Returns a container's first name without the leading '/'. */
static const char *container_name(json_object *c)
{
    json_object *names = dp_json_get(c, "Names");
    const char *n = names && json_object_is_type(names, json_type_array) && json_object_array_length(names) > 0
                    ? json_object_get_string(json_object_array_get_idx(names, 0)) : NULL;

    return n ? (n[0] == '/' ? n + 1 : n) : "";
}

/* Applies action ("start", "stop", "restart") to every container of the project: start and
 * restart in service/number order, stop in reverse; {"project","results":[{"id","name","changed"}]}.
 * On a failure: the engine's problem with the results so far. */
static int compose_action(dp_req_t *q, const char *action)
{
    const char *name = project_param(q), *suffix = "";
    json_object *cs = NULL, *ordered, *results, *out;
    dp_problem_t *prob = NULL;
    apr_int64_t t = -1;
    size_t i;

    if (name == NULL) {
        return OK;
    }
    if (strcmp(action, "start") != 0) {
        if (dp_query_int(&t, &prob, q, "t", -1, 0, 3600) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        if (t >= 0) {
            suffix = apr_psprintf(q->pool, "?t=%" APR_INT64_T_FMT, t);
        }
    }
    if (dp_engine_containers_by_label(&cs, &prob, q,
                                      apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (cs == NULL || json_object_array_length(cs) == 0) {
        return dp_fail(q, 404, "project_not_found", "no container belongs to the compose project '%s'", name);
    }
    ordered = dp_dk_compose_order(q->pool, cs, !strcmp(action, "stop"));
    results = dp_json_array(q->pool);
    for (i = 0; i < json_object_array_length(ordered); ++i) {
        json_object *c = json_object_array_get_idx(ordered, i), *res;
        const char *id = dp_json_get_str(c, "Id");
        int status = 0;

        if (id == NULL) {
            continue;
        }
        if (dp_engine_call(NULL, &status, &prob, q, "POST",
                           apr_pstrcat(q->pool, "/containers/", dp_url_encode(q->pool, id), "/", action, suffix, NULL),
                           NULL) != APR_SUCCESS) {
            dp_problem_add(prob, q->pool, "results", json_object_get(results));
            return dp_send_problem(q, prob);
        }
        res = json_object_new_object();
        dp_json_set_str(res, "id", id);
        dp_json_set_str(res, "name", container_name(c));
        json_object_object_add(res, "changed", json_object_new_boolean(status != 304));
        json_object_array_add(results, res);
    }
    out = dp_json_object(q->pool);
    dp_json_set_str(out, "project", name);
    dp_json_set_ref(out, "results", results);
    return dp_send_json(q, 200, out);
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

/* DELETE /compose/{project}: "down": stops and removes its containers (reverse order), then
 * removes its networks, and its volumes with ?volumes=true; a summary of what went. */
int dp_compose_down(dp_req_t *q)
{
    const char *name = project_param(q), *label;
    json_object *cs = NULL, *nets = NULL, *vols = NULL, *ordered, *out, *gone_c, *gone_n, *gone_v;
    dp_problem_t *prob = NULL;
    apr_int64_t t = 10;
    int volumes = 0;
    size_t i;

    if (name == NULL) {
        return OK;
    }
    if (dp_query_bool(&volumes, &prob, q, "volumes", 0) != APR_SUCCESS
        || dp_query_int(&t, &prob, q, "t", 10, 0, 3600) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    label = apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL);
    if (dp_engine_containers_by_label(&cs, &prob, q, label) != APR_SUCCESS
        || labelled(&nets, &prob, q, "networks", name) != APR_SUCCESS
        || (volumes && labelled(&vols, &prob, q, "volumes", name) != APR_SUCCESS)) {
        return dp_send_problem(q, prob);
    }
    if ((cs == NULL || json_object_array_length(cs) == 0) && json_object_array_length(nets) == 0
        && (vols == NULL || json_object_array_length(vols) == 0)) {
        return dp_fail(q, 404, "project_not_found", "nothing belongs to the compose project '%s'", name);
    }
    out = dp_json_object(q->pool);
    gone_c = json_object_new_array();
    gone_n = json_object_new_array();
    gone_v = json_object_new_array();
    dp_json_set_str(out, "project", name);
    json_object_object_add(out, "containers", gone_c);
    json_object_object_add(out, "networks", gone_n);
    json_object_object_add(out, "volumes", gone_v);

    ordered = dp_dk_compose_order(q->pool, cs, 1);
    for (i = 0; i < json_object_array_length(ordered); ++i) {
        json_object *c = json_object_array_get_idx(ordered, i), *res;
        const char *id = dp_json_get_str(c, "Id"), *eid;
        int status = 0;

        if (id == NULL) continue;
        eid = dp_url_encode(q->pool, id);
        if (dp_engine_call(NULL, &status, &prob, q, "POST",
                           apr_psprintf(q->pool, "/containers/%s/stop?t=%" APR_INT64_T_FMT, eid, t), NULL) != APR_SUCCESS
            && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        if (dp_engine_call(NULL, &status, &prob, q, "DELETE",
                           apr_psprintf(q->pool, "/containers/%s?force=1&v=%d", eid, volumes), NULL) != APR_SUCCESS
            && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        res = json_object_new_object();
        dp_json_set_str(res, "id", id);
        dp_json_set_str(res, "name", container_name(c));
        json_object_array_add(gone_c, res);
    }
    for (i = 0; i < json_object_array_length(nets); ++i) {
        const char *nid = dp_json_get_str(json_object_array_get_idx(nets, i), "Id");
        const char *nname = dp_json_get_str(json_object_array_get_idx(nets, i), "Name");
        int status = 0;

        if (nid == NULL) continue;
        if (dp_engine_call(NULL, &status, &prob, q, "DELETE", apr_pstrcat(q->pool, "/networks/", dp_url_encode(q->pool, nid), NULL),
                           NULL) != APR_SUCCESS && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        json_object_array_add(gone_n, json_object_new_string(nname ? nname : nid));
    }
    for (i = 0; vols && i < json_object_array_length(vols); ++i) {
        const char *vname = dp_json_get_str(json_object_array_get_idx(vols, i), "Name");
        int status = 0;

        if (vname == NULL) continue;
        if (dp_engine_call(NULL, &status, &prob, q, "DELETE", apr_pstrcat(q->pool, "/volumes/", dp_url_encode(q->pool, vname), NULL),
                           NULL) != APR_SUCCESS && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        json_object_array_add(gone_v, json_object_new_string(vname));
    }
    return dp_send_json(q, 200, out);
}

/* POST /compose: "up" {"project","compose"}: checks the name and the file (403 for refused
 * settings), writes <root>/<project>/docker-compose.yml, runs "<command> -p <project> -f <file>
 * up -d" with a time limit; 422 compose_failed / 504 compose_timeout with the output, else
 * the project as GET /compose/{project} shows it plus "output". */
int dp_compose_up(dp_req_t *q)
{
    static const char *const fields[] = { "project", "compose", NULL };
    const char *root = q->conf->compose_root ? q->conf->compose_root : "/var/lib/dockpay/compose";
    const char *command = q->conf->compose_command ? q->conf->compose_command : "docker-compose";
    int timeout = dp_conf_int(q->conf->compose_timeout, 300);
    const char *name = NULL, *yaml, *dir, *file, *env[6];
    const char *const *argv;
    json_object *body, *v, *out = NULL, *outstr;
    dp_problem_t *prob = NULL;
    dp_dk_run_t run;
    apr_size_t len;

    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, fields) != APR_SUCCESS
        || dp_json_field_str(&name, &prob, q->pool, body, "project", 1, 255) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = name;
    if (!dp_dk_compose_name_ok(name)) {
        return dp_fail(q, 422, "invalid_value",
                       "the field 'project' must match ^[a-z0-9][a-z0-9_-]{0,62}$");
    }
    if ((v = dp_json_get(body, "compose")) == NULL) {
        return dp_fail(q, 400, "missing_field", "the field 'compose' is required");
    }
    if (!json_object_is_type(v, json_type_string)) {
        return dp_fail(q, 400, "wrong_type", "the field 'compose' must be a string (the compose YAML)");
    }
    yaml = json_object_get_string(v);
    len = (apr_size_t)json_object_get_string_len(v);
    if (len == 0) {
        return dp_fail(q, 422, "invalid_value", "the field 'compose' must not be empty");
    }
    if (dp_dk_compose_policy(&prob, q->pool, yaml, len) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    dir = apr_pstrcat(q->pool, root, "/", name, NULL);
    file = apr_pstrcat(q->pool, dir, "/", COMPOSE_FILE, NULL);
    if (dp_dk_write_file(&prob, q->pool, dir, COMPOSE_FILE, yaml, len) != APR_SUCCESS) {
        DP_LOG(q, APLOG_ERR, 0, "cannot write %s", file);
        return dp_send_problem(q, prob);
    }
    {
        const char *const args[] = { "-p", name, "-f", file, "up", "-d", NULL };
        argv = dp_dk_compose_argv(q->pool, command, args);
    }
    env[0] = apr_pstrcat(q->pool, "DOCKER_HOST=unix://", dp_docker_socket(q->proc->docker), NULL);
    env[1] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    env[2] = apr_pstrcat(q->pool, "HOME=", dir, NULL);
    env[3] = "LC_ALL=C.UTF-8";
    env[4] = "COMPOSE_INTERACTIVE_NO_CLI=1";
    env[5] = NULL;
    if (dp_dk_run(&run, &prob, q->pool, argv, env, dir, timeout, DP_DK_COMPOSE_OUTPUT_MAX) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    outstr = json_object_new_string_len(run.output, (int)run.output_len);
    if (run.timed_out || run.exit_code != 0) {
        prob = run.timed_out
            ? dp_problem_make(q->pool, 504, "compose_timeout", "the compose command did not finish within %d seconds "
                              "(DockpayComposeTimeout)", timeout)
            : dp_problem_make(q->pool, 422, "compose_failed", "the compose command failed (exit status %d)",
                              run.exit_code);
        dp_problem_add(prob, q->pool, "output", outstr);
        return dp_send_problem(q, prob);
    }
    if (project_load(&out, NULL, &prob, q, name) != APR_SUCCESS) {
        json_object_put(outstr);
        if (prob && prob->status == 404) {  /* a file without services: nothing runs */
            out = dp_json_object(q->pool);
            dp_json_set_str(out, "name", name);
            json_object_object_add(out, "output", json_object_new_string_len(run.output, (int)run.output_len));
            return dp_send_json(q, 200, out);
        }
        return dp_send_problem(q, prob);
    }
    json_object_object_add(out, "output", outstr);
    return dp_send_json(q, 200, out);
}
