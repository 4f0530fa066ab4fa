/* h_containers: Docker routes for containers (list, inspect, create under the create policy,
 * actions, delete, logs with follow streams, stats) and volumes. */
#include <string.h>
#include <strings.h>
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_glue.h"
#include "dp_dk_progress.h"
#include "dp_dk_misc.h"
#include "h_stream.h"
#include "dp_dk_policy.h"
#include "dp_dk_logs.h"
#include "dp_dk_stats.h"
#include "h_watch.h"
#include "h_owner.h"
#include "h_billing.h"
#include "h_engine.h"
#include "dp_dk_build.h"

#define Q_DOCKER(q) ((q)->proc->docker)

/* ------------------------------------------------------------------------------------------ */
/* shared helpers */

/* Gives Docker's generic 404 the code of the resource kind. */
static int send_problem(dp_req_t *q, dp_problem_t *prob, const char *not_found_code)
{
    if (prob && prob->status == 404 && prob->code && !strcmp(prob->code, "not_found")) {
        prob->code = not_found_code;
    }
    return dp_send_problem(q, prob);
}

/* Calls the engine with a transfer timeout of timeout_ms (for calls that may take long:
 * stop/restart with ?t=, pulls); the buffered answer is in *presp, a status >= 400 a problem. */
static apr_status_t engine_long(dp_http_resp_t **presp, dp_problem_t **pprob, dp_req_t *q,
                                const char *method, const char *path, long timeout_ms)
{
    dp_http_req_t req;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = path;
    req.timeout_ms = timeout_ms;
    if ((rv = dp_docker_send(presp, pprob, Q_DOCKER(q), q->pool, &req)) != APR_SUCCESS) {
        return rv;
    }
    if ((*presp)->status >= 400) {
        *pprob = dp_docker_problem(q->pool, (*presp)->status, (*presp)->body, (*presp)->len);
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}

/* Returns "/containers/ID" + suffix with ID %-encoded. */
static const char *cpath(dp_req_t *q, const char *id, const char *suffix)
{
    return apr_pstrcat(q->pool, "/containers/", dp_url_encode(q->pool, id), suffix, NULL);
}

static const char *flag(int v)
{
    return v ? "1" : "0";
}

/* Reads the route's {id}: 404 for anything that is not a container id or name. When the
 * container's inspect object is wanted, DockpayManagedOnly is on or the key is not admin,
 * inspects it first (404 for containers outside the key's view: not its own, or not managed)
 * and sets *pid to its full Id. */
static apr_status_t find_container(const char **pid, json_object **pinfo, dp_problem_t **pprob,
                                   dp_req_t *q, int want_info)
{
    const char *id = apr_table_get(q->params, "id");
    int managed_only = dp_conf_int(q->conf->managed_only, 0);
    apr_status_t rv;

    if (pinfo) {
        *pinfo = NULL;
    }
    if (!dp_dk_valid_id(id)) {
        return dp_problem_fail(pprob, q->pool, 404, "container_not_found", "no such container");
    }
    q->target = id;
    *pid = id;
    if (!want_info && !managed_only && dp_owner(q) == NULL) {
        return APR_SUCCESS;   /* admin without DockpayManagedOnly: Docker says what exists */
    }
    if ((rv = dp_owner_container(pid, pinfo, pprob, q, id)) != APR_SUCCESS) {
        return rv;
    }
    q->target = *pid;
    return APR_SUCCESS;
}


/* The networks a built create body names must not be the host's network reached by id. */
static apr_status_t check_networks(dp_problem_t **pprob, dp_req_t *q, const dp_dk_policy_t *pol, json_object *body)
{
    apr_array_header_t *refs = dp_dk_policy_networks(q->pool, body);
    int i, status;
    apr_status_t rv;

    for (i = 0; i < refs->nelts; ++i) {
        const dp_dk_netref_t *r = &APR_ARRAY_IDX(refs, i, dp_dk_netref_t);
        json_object *net = NULL;
        status = 0;
        if ((rv = dp_docker_call(&net, &status, pprob, Q_DOCKER(q), q->pool, "GET",
                                 apr_pstrcat(q->pool, "/networks/", dp_url_encode(q->pool, r->name), NULL), NULL))
            != APR_SUCCESS) {
            if (status == 404) {
                *pprob = NULL;
                continue;   /* no such network: Docker's create answers for it */
            }
            return rv;
        }
        if ((rv = dp_dk_policy_network_driver(pprob, q->pool, pol, dp_json_get_str(net, "Driver"), r->field))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Before a start or restart: the container's host bind sources must still resolve inside
 * DockpayBindAllow (a symlink planted since create must not lead a bind elsewhere), and the
 * options of the local volumes it mounts must still pass the volume policy. */
static apr_status_t recheck_binds(dp_problem_t **pprob, dp_req_t *q, json_object *info)
{
    apr_array_header_t *vols;
    dp_dk_policy_t pol;
    int i;
    apr_status_t rv;

    dp_owner_policy(&pol, q);
    if ((rv = dp_dk_policy_recheck(&vols, pprob, q->pool, &pol, info)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < vols->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(vols, i, const char *);
        json_object *vol = NULL;
        if (!dp_dk_valid_volume_name(name)) {
            continue;   /* an anonymous volume's id: nothing of the host */
        }
        if ((rv = dp_docker_call(&vol, NULL, pprob, Q_DOCKER(q), q->pool, "GET",
                                 apr_pstrcat(q->pool, "/volumes/", name, NULL), NULL)) != APR_SUCCESS) {
            return rv;
        }
        if ((rv = dp_dk_policy_volume(pprob, q->pool, &pol, dp_json_get_str(vol, "Driver"),
                                      dp_json_get(vol, "Options"), apr_pstrcat(q->pool, "volumes.", name,
                                                                               ".driver_opts", NULL)))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* list, inspect, delete */

typedef struct {
    json_object *filters;
    const char *key;      /* query parameter name */
    const char *filter;   /* Docker filter name */
} filter_ctx_t;

static int add_filter(void *baton, const char *key, const char *val)
{
    filter_ctx_t *f = baton;
    json_object *list;

    if (strcmp(key, f->key) || *val == '\0') {
        return 1;
    }
    if ((list = dp_json_get(f->filters, f->filter)) == NULL) {
        list = json_object_new_array();
        json_object_object_add(f->filters, f->filter, list);
    }
    json_object_array_add(list, json_object_new_string(val));
    return 1;
}

/* Adds every ?key= value of the query to filters[filter]. */
static void query_filters(dp_req_t *q, json_object *filters, const char *key, const char *filter)
{
    filter_ctx_t f = { filters, key, filter };
    apr_table_do(add_filter, &f, q->query, key, NULL);
}

/* Returns "?" / "&" + "filters=<json>" when filters has members, else "". */
static const char *filters_arg(dp_req_t *q, json_object *filters, const char *sep)
{
    if (json_object_object_length(filters) == 0) {
        return "";
    }
    return apr_pstrcat(q->pool, sep, "filters=", dp_url_encode(q->pool, dp_json_str(q->pool, filters)), NULL);
}

/* Sends {"items": list}. */
static int send_items(dp_req_t *q, json_object *list, json_object *warnings)
{
    json_object *o = dp_json_object(q->pool);

    json_object_object_add(o, "items", list ? json_object_get(list) : json_object_new_array());
    if (warnings) {
        dp_json_set_ref(o, "warnings", warnings);
    }
    return dp_send_json(q, 200, o);
}

/* GET /containers */
static int containers_list(dp_req_t *q)
{
    json_object *filters = dp_json_object(q->pool), *list = NULL;
    dp_problem_t *prob = NULL;
    int all;

    if (dp_query_bool(&all, &prob, q, "all", 1) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    query_filters(q, filters, "status", "status");
    query_filters(q, filters, "label", "label");
    query_filters(q, filters, "name", "name");
    if (dp_conf_int(q->conf->managed_only, 0)) {
        json_object *l = dp_json_get(filters, "label");
        if (l == NULL) {
            l = json_object_new_array();
            json_object_object_add(filters, "label", l);
        }
        json_object_array_add(l, json_object_new_string(DP_DK_LABEL_MANAGED "=true"));
    }
    if (dp_owner(q)) {
        /* a non-admin key lists its own: the cache filters in memory, the relay asks Docker */
        dp_dk_owner_filters_add(filters, q->pool, dp_owner(q));
    }
    if (dp_watch_list(q, all, filters) == OK) {
        return OK;   /* answered from the event-fed snapshot, or Docker's answer relayed */
    }
    if (dp_docker_call(&list, NULL, &prob, Q_DOCKER(q), q->pool, "GET",
                       apr_pstrcat(q->pool, "/containers/json?all=", flag(all), filters_arg(q, filters, "&"), NULL),
                       NULL) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return send_items(q, list, NULL);
}

/* GET /containers/{id}: Docker's inspect object; Config.Env values hidden from non-admin keys. */
static int containers_inspect(dp_req_t *q)
{
    json_object *info, *env;
    const char *id;
    dp_problem_t *prob = NULL;
    apr_size_t i;

    if (find_container(&id, &info, &prob, q, 1) != APR_SUCCESS) {
        return send_problem(q, prob, "container_not_found");
    }
    env = dp_json_get(dp_json_get(info, "Config"), "Env");
    if (env && json_object_is_type(env, json_type_array) && !(q->key && (q->key->scopes & DP_SCOPE_ADMIN))) {
        for (i = 0; i < json_object_array_length(env); ++i) {
            const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
            const char *eq = kv ? strchr(kv, '=') : NULL;
            const char *hidden = apr_pstrcat(q->pool, eq ? apr_pstrmemdup(q->pool, kv, (apr_size_t)(eq - kv)) : kv,
                                             "=***", NULL);
            json_object_array_put_idx(env, i, json_object_new_string(hidden));
        }
    }
    return dp_send_json(q, 200, info);
}

/* DELETE /containers/{id} */
static int containers_delete(dp_req_t *q)
{
    const char *id;
    dp_problem_t *prob = NULL;
    int force, vols;

    if (find_container(&id, NULL, &prob, q, 0) != APR_SUCCESS
        || dp_query_bool(&force, &prob, q, "force", 0) != APR_SUCCESS
        || dp_query_bool(&vols, &prob, q, "volumes", 0) != APR_SUCCESS
        || dp_docker_call(NULL, NULL, &prob, Q_DOCKER(q), q->pool, "DELETE",
                          apr_pstrcat(q->pool, cpath(q, id, ""), "?force=", flag(force), "&v=", flag(vols), NULL),
                          NULL) != APR_SUCCESS) {
        return send_problem(q, prob, "container_not_found");
    }
    return dp_send_empty(q, 204);
}

/* ------------------------------------------------------------------------------------------ */
/* actions */

typedef struct {
    const char *route;     /* route id */
    const char *verb;      /* engine path suffix */
    const char *param;     /* the query parameter it takes ("t", "signal") or NULL */
} action_t;

static const action_t actions[] = {
    { "containers.start",   "/start",   NULL },
    { "containers.stop",    "/stop",    "t" },
    { "containers.restart", "/restart", "t" },
    { "containers.kill",    "/kill",    "signal" },
    { "containers.pause",   "/pause",   NULL },
    { "containers.unpause", "/unpause", NULL },
    { NULL, NULL, NULL }
};

/* True for a signal name or number ("SIGTERM", "HUP", "9", "SIGRTMIN+3"). */
static int signal_ok(const char *s)
{
    apr_size_t i;
    for (i = 0; s[i]; ++i) {
        if (!(apr_isalnum(s[i]) || s[i] == '+' || s[i] == '-') || i > 20) return 0;
    }
    return i > 0;
}

/* POST /containers/{id}/{start,stop,restart,kill,pause,unpause}: 200 {"changed": bool}. */
static int containers_action(dp_req_t *q)
{
    const action_t *a;
    const char *id, *arg = "";
    dp_problem_t *prob = NULL;
    dp_http_resp_t *resp;
    json_object *o;
    long timeout = 0;

    for (a = actions; a->route && strcmp(a->route, q->route->id); ++a) {}
    if (a->route == NULL) {
        return dp_fail(q, 501, "not_implemented", "no such action");
    }
    if (!strcmp(a->verb, "/start") || !strcmp(a->verb, "/restart")) {
        json_object *info;
        if (find_container(&id, &info, &prob, q, 1) != APR_SUCCESS) {
            return send_problem(q, prob, "container_not_found");
        }
        if (recheck_binds(&prob, q, info) != APR_SUCCESS) {
            DP_LOG(q, APLOG_NOTICE, 0, "%s refused by policy: %s", a->verb + 1, prob->detail);
            return dp_send_problem(q, prob);
        }
    }
    else if (find_container(&id, NULL, &prob, q, 0) != APR_SUCCESS) {
        return send_problem(q, prob, "container_not_found");
    }
    if ((!strcmp(a->verb, "/start") || !strcmp(a->verb, "/restart") || !strcmp(a->verb, "/unpause"))
        && dp_billing_check_start(&prob, q, "container", id) != APR_SUCCESS) {   /* billing (issue 15) */
        return dp_send_problem(q, prob);
    }
    if (a->param && !strcmp(a->param, "t")) {
        apr_int64_t t;
        if (dp_query_int(&t, &prob, q, "t", -1, 0, 3600) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        if (t >= 0) {
            arg = apr_psprintf(q->pool, "?t=%" APR_INT64_T_FMT, t);
            timeout = (long)(t + 30) * 1000;   /* Docker waits t seconds before it kills */
        }
    }
    else if (a->param && dp_query(q, a->param)) {
        if (!signal_ok(dp_query(q, a->param))) {
            return dp_fail(q, 400, "bad_query", "'%s' is not a signal", dp_query(q, a->param));
        }
        arg = apr_pstrcat(q->pool, "?signal=", dp_url_encode(q->pool, dp_query(q, a->param)), NULL);
    }
    if (engine_long(&resp, &prob, q, "POST", apr_pstrcat(q->pool, cpath(q, id, a->verb), arg, NULL), timeout)
        != APR_SUCCESS) {
        return send_problem(q, prob, "container_not_found");
    }
    o = dp_json_object(q->pool);
    json_object_object_add(o, "changed", json_object_new_boolean(resp->status != 304));
    return dp_send_json(q, 200, o);
}

/* ------------------------------------------------------------------------------------------ */
/* create */

/* Pulls image when the engine does not have it (errors come in-band: see dp_dk_pull). */
static apr_status_t pull_missing(dp_problem_t **pprob, dp_req_t *q, const char *image)
{
    dp_dk_progress_t *g;
    dp_dk_ref_t ref;
    apr_status_t rv;
    int status = 0;

    rv = dp_docker_call(NULL, &status, pprob, Q_DOCKER(q), q->pool, "GET",
                        apr_pstrcat(q->pool, "/images/", dp_dk_ref_encode(q->pool, image), "/json", NULL), NULL);
    if (rv == APR_SUCCESS || status != 404) {
        return rv;
    }
    /* builds and registries: only from DockpayRegistryAllow (see h_engine_images.c) */
    if (dp_dk_ref_parse(&ref, q->pool, image) != APR_SUCCESS) {
        return dp_problem_fail(pprob, q->pool, 422, "invalid_value", "image: '%s' is not an image reference", image);
    }
    if (!dp_dk_registry_allowed(q->conf->registry_allow, ref.registry)) {
        return dp_problem_fail(pprob, q->pool, 403, "policy_denied",
                               "image: the registry '%s' is not allowed (DockpayRegistryAllow)", ref.registry);
    }
    return dp_dk_pull(&g, pprob, Q_DOCKER(q), q->pool, dp_dk_ref_with_tag(q->pool, image), NULL, NULL, NULL,
                      (long)dp_conf_int(q->conf->docker_timeout, 60) * 1000 * 10);
}

/* POST /containers: simple or raw body → the allow-listed body built from it → labels → (pull)
 * → create → (start). Docker only ever sees the built body. */
static int containers_create(dp_req_t *q)
{
    json_object *req, *asked, *body, *created = NULL, *info = NULL, *out;
    const char *name, *id, *image, *customer = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_policy_t pol;
    dp_http_resp_t *resp;
    dp_dk_usage_t add;
    apr_array_header_t *news;
    apr_status_t rv;
    int pull, start, locked = 0;

    dp_owner_policy(&pol, q);
    if (dp_query_bool(&pull, &prob, q, "pull", 0) != APR_SUCCESS
        || dp_query_bool(&start, &prob, q, "start", 0) != APR_SUCCESS
        || dp_read_json(&req, &prob, q, 0) != APR_SUCCESS
        || dp_billing_bind_from_body(&customer, &prob, q, req, 1) != APR_SUCCESS   /* billing (issue 15) */
        || dp_dk_create_body(&asked, &name, &prob, q->pool, req) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = name;
    if (dp_dk_policy_build(&body, &prob, q->pool, &pol, asked) != APR_SUCCESS) {
        DP_LOG(q, APLOG_NOTICE, 0, "create refused by policy: %s", prob->detail);
        return dp_send_problem(q, prob);
    }
    if (check_networks(&prob, q, &pol, body) != APR_SUCCESS) {
        if (prob->status == 403) {
            DP_LOG(q, APLOG_NOTICE, 0, "create refused by policy: %s", prob->detail);
        }
        return dp_send_problem(q, prob);
    }
    image = dp_json_get_str(body, "Image");
    if (dp_images_usable(&prob, q, image) != APR_SUCCESS) {   /* another key's image: as if missing */
        return dp_send_problem(q, prob);
    }
    /* ownership: the networks, containers and volumes it names; quotas: what it adds */
    if (dp_dk_stamp_labels(&prob, q->pool, body, q->key ? q->key->name : "") != APR_SUCCESS
        || dp_dk_quota_body(&add, &prob, q->pool, body) != APR_SUCCESS
        || dp_owner_create_refs(&news, &prob, q, body) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    dp_dk_quota_stamp(body, &add);
    add.volumes = news->nelts;
    if (pull) {   /* a pull may take long: check before it, and again under the lock after it */
        if (dp_owner_quota_begin(&locked, &prob, q, &add) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        dp_owner_quota_end(q, locked);
        if (pull_missing(&prob, q, image) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
    }
    if (dp_owner_quota_begin(&locked, &prob, q, &add) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (dp_owner_create_volumes(&prob, q, news) != APR_SUCCESS) {
        dp_owner_quota_end(q, locked);
        return dp_send_problem(q, prob);
    }
    rv = dp_docker_call(&created, NULL, &prob, Q_DOCKER(q), q->pool, "POST",
                        apr_pstrcat(q->pool, "/containers/create",
                                    name ? "?name=" : "", name ? dp_url_encode(q->pool, name) : "", NULL),
                        body);
    dp_owner_quota_end(q, locked);
    if (rv != APR_SUCCESS) {
        if (prob->status == 404) {
            prob->code = "image_not_found";
        }
        return dp_send_problem(q, prob);
    }
    if ((id = dp_json_get_str(created, "Id")) == NULL) {
        return dp_fail(q, 502, "docker_bad_response", "the Docker engine's create answer has no Id");
    }
    q->target = id;
    if (dp_billing_bind_created(&prob, q, customer, "container", id) != APR_SUCCESS) {   /* billing (issue 15) */
        return dp_send_problem(q, prob);
    }
    out = dp_json_object(q->pool);
    dp_json_set_str(out, "id", id);
    if (name == NULL && dp_docker_call(&info, NULL, &prob, Q_DOCKER(q), q->pool, "GET", cpath(q, id, "/json"), NULL)
        == APR_SUCCESS && dp_json_get_str(info, "Name")) {
        name = dp_json_get_str(info, "Name");
    }
    dp_json_set_str(out, "name", name ? (name[0] == '/' ? name + 1 : name) : NULL);
    dp_json_set_ref(out, "warnings", dp_json_get(created, "Warnings") ? dp_json_get(created, "Warnings")
                                                                      : dp_json_array(q->pool));
    if (start) {
        json_object *now = NULL;
        if (dp_docker_call(&now, NULL, &prob, Q_DOCKER(q), q->pool, "GET", cpath(q, id, "/json"), NULL) != APR_SUCCESS
            || recheck_binds(&prob, q, now) != APR_SUCCESS
            || engine_long(&resp, &prob, q, "POST", cpath(q, id, "/start"), 0) != APR_SUCCESS) {
            /* created, but it does not run: say so, with its id, so the client can clean up */
            dp_problem_add(prob, q->pool, "id", json_object_new_string(id));
            prob->detail = apr_pstrcat(q->pool, "the container was created (", id, ") but did not start: ",
                                       prob->detail, NULL);
            return dp_send_problem(q, prob);
        }
        json_object_object_add(out, "started", json_object_new_boolean(1));
    }
    return dp_send_json(q, 201, out);
}

/* ------------------------------------------------------------------------------------------ */
/* logs */

typedef struct {
    dp_req_t *q;
    int timestamps;
    dp_stream_fmt_t fmt;      /* the format the client asked for (NDJSON: JSON lines) */
    dp_stream_t *st;          /* follow: the stream */
    json_object *lines;       /* JSON answer: the lines */
    char *text;               /* text answer: the bytes so far */
    apr_size_t text_len, text_cap;
    char *fix;                /* room for one UTF-8-repaired line */
    dp_dk_logs_t *dec;
    int sniffed;              /* the first bytes of a follow stream were looked at */
    int upstream_error;       /* ... and they were Docker's error answer, kept in errbuf */
    char errbuf[4096];
    apr_size_t errlen;
} logs_ctx_t;

/* Builds {"stream","time"?,"text"} for a line (a new reference). */
static json_object *line_json(logs_ctx_t *c, int stream, const char *line, apr_size_t len)
{
    json_object *o = json_object_new_object();
    const char *t, *text;
    apr_size_t tl, xl;

    json_object_object_add(o, "stream", json_object_new_string(stream == DP_DK_STDERR ? "stderr" : "stdout"));
    if (c->timestamps && dp_dk_logs_split_time(&t, &tl, &text, &xl, line, len)) {
        json_object_object_add(o, "time", json_object_new_string_len(t, (int)tl));
    }
    else {
        text = line;
        xl = len;
    }
    text = dp_dk_logs_utf8(c->fix, text, xl);
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)xl));
    return o;
}

/* Decoder callback: one line into the answer or the stream. */
static apr_status_t on_line(void *baton, int stream, const char *line, apr_size_t len)
{
    logs_ctx_t *c = baton;
    const char *name = stream == DP_DK_STDERR ? "stderr" : "stdout";
    json_object *o;
    apr_status_t rv;

    if (c->st == NULL && c->lines) {
        json_object_array_add(c->lines, line_json(c, stream, line, len));
        return APR_SUCCESS;
    }
    if (c->st == NULL) {
        if (c->text_len + len + 1 > c->text_cap) {
            apr_size_t cap = c->text_cap ? c->text_cap * 2 : 16384;
            char *n;
            while (cap < c->text_len + len + 1) cap *= 2;
            n = apr_palloc(c->q->pool, cap);
            if (c->text_len) memcpy(n, c->text, c->text_len);
            c->text = n;
            c->text_cap = cap;
        }
        memcpy(c->text + c->text_len, line, len);
        c->text_len += len;
        c->text[c->text_len++] = '\n';
        return APR_SUCCESS;
    }
    if (c->fmt != DP_STREAM_NDJSON) {
        return dp_stream_write(c->st, name, dp_dk_logs_utf8(c->fix, line, len), len);
    }
    o = line_json(c, stream, line, len);
    rv = dp_stream_write_json(c->st, NULL, o);
    json_object_put(o);
    return rv;
}

/* Streamed engine data of a follow: Docker's own error answer is kept aside, logs decoded. */
static apr_status_t on_follow_data(void *baton, const char *data, apr_size_t len)
{
    logs_ctx_t *c = baton;

    if (!c->sniffed && len > 0) {
        c->sniffed = 1;
        /* frames start with 0, 1 or 2; an error answer is {"message": ...} */
        c->upstream_error = data[0] == '{' && len >= 11 && !strncmp(data, "{\"message\":", 11);
    }
    if (c->upstream_error) {
        apr_size_t n = len < sizeof(c->errbuf) - c->errlen ? len : sizeof(c->errbuf) - c->errlen;
        memcpy(c->errbuf + c->errlen, data, n);
        c->errlen += n;
        return APR_SUCCESS;
    }
    return dp_dk_logs_feed(c->dec, data, len);
}

/* Reads the logs query into the engine's query string. */
static apr_status_t logs_query(const char **pargs, int *pfollow, dp_problem_t **pprob, logs_ctx_t *c)
{
    dp_req_t *q = c->q;
    const char *tail = dp_query(q, "tail"), *since = dp_query(q, "since"), *until = dp_query(q, "until");
    int out, err;
    apr_int64_t n;
    apr_status_t rv;

    if ((rv = dp_query_bool(pfollow, pprob, q, "follow", 0)) != APR_SUCCESS
        || (rv = dp_query_bool(&c->timestamps, pprob, q, "timestamps", 0)) != APR_SUCCESS
        || (rv = dp_query_bool(&out, pprob, q, "stdout", 1)) != APR_SUCCESS
        || (rv = dp_query_bool(&err, pprob, q, "stderr", 1)) != APR_SUCCESS) {
        return rv;
    }
    if (!out && !err) {
        return dp_problem_fail(pprob, q->pool, 400, "bad_query", "choose at least one of stdout and stderr");
    }
    if (tail == NULL) {
        tail = "100";
    }
    else if (strcmp(tail, "all") && dp_parse_int(&n, tail, 0, 1000000000) != APR_SUCCESS) {
        return dp_problem_fail(pprob, q->pool, 400, "bad_query", "the query parameter 'tail' must be a number or 'all'");
    }
    if ((since && !dp_is_safe_token(since, 40)) || (until && !dp_is_safe_token(until, 40))) {
        return dp_problem_fail(pprob, q->pool, 400, "bad_query",
                               "'since' and 'until' take UNIX timestamps (or RFC 3339 times)");
    }
    *pargs = apr_pstrcat(q->pool, "?stdout=", flag(out), "&stderr=", flag(err), "&timestamps=", flag(c->timestamps),
                         "&tail=", tail, "&follow=", flag(*pfollow),
                         since ? "&since=" : "", since ? dp_url_encode(q->pool, since) : "",
                         until ? "&until=" : "", until ? dp_url_encode(q->pool, until) : "", NULL);
    return APR_SUCCESS;
}

/* Follows the logs into a stream until the container stops or the client goes away. */
static int logs_follow(logs_ctx_t *c, const char *path)
{
    dp_req_t *q = c->q;
    dp_problem_t *prob = NULL;
    dp_http_resp_t *resp = NULL;
    apr_status_t rv;

    if (dp_stream_open(&c->st, &prob, q, c->fmt) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    rv = dp_stream_from_docker(&resp, &prob, c->st, path, on_follow_data, c);
    if (rv == APR_SUCCESS && c->upstream_error) {
        return dp_stream_fail(c->st, dp_docker_problem(q->pool, resp->status >= 400 ? resp->status : 502,
                                                       c->errbuf, c->errlen));
    }
    if (rv == APR_SUCCESS && resp->status >= 400) {
        return dp_stream_fail(c->st, dp_docker_problem(q->pool, resp->status, NULL, 0));
    }
    if (rv == APR_SUCCESS || dp_stream_aborted(c->st)) {
        if (!dp_stream_aborted(c->st)) {
            dp_dk_logs_finish(c->dec);
        }
        DP_LOG(q, APLOG_DEBUG, 0, "log stream ended (%s)", dp_stream_aborted(c->st) ? "client gone" : "container stopped");
        return dp_stream_finish(c->st);
    }
    if (prob == NULL) {
        prob = dp_problem_make(q->pool, 502, "docker_stream_failed", "the log stream failed");
    }
    return dp_stream_fail(c->st, prob);
}

/* GET /containers/{id}/logs */
static int containers_logs(dp_req_t *q)
{
    logs_ctx_t *c = apr_pcalloc(q->pool, sizeof(*c));
    json_object *info, *o;
    const char *id, *args = "";
    dp_problem_t *prob = NULL;
    dp_http_resp_t *resp;
    dp_http_req_t req;
    int follow, tty;
    apr_status_t rv;

    c->q = q;
    c->fmt = dp_stream_format(q, DP_STREAM_NDJSON);
    if (logs_query(&args, &follow, &prob, c) != APR_SUCCESS
        || find_container(&id, &info, &prob, q, 1) != APR_SUCCESS) {
        return send_problem(q, prob, "container_not_found");
    }
    tty = dp_json_get_bool(dp_json_get(info, "Config"), "Tty", 0);
    c->fix = apr_palloc(q->pool, DP_DK_LOG_LINE_MAX);
    c->dec = dp_dk_logs_create(q->pool, tty, on_line, c);
    if (follow) {
        return logs_follow(c, cpath(q, id, apr_pstrcat(q->pool, "/logs", args, NULL)));
    }
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = cpath(q, id, apr_pstrcat(q->pool, "/logs", args, NULL));
    if ((rv = dp_docker_send(&resp, &prob, Q_DOCKER(q), q->pool, &req)) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (resp->status >= 400) {
        return send_problem(q, dp_docker_problem(q->pool, resp->status, resp->body, resp->len), "container_not_found");
    }
    if (c->fmt != DP_STREAM_TEXT) {
        c->lines = dp_json_array(q->pool);
    }
    rv = dp_dk_logs_feed(c->dec, resp->body, resp->len);
    if (rv == APR_SUCCESS || rv == APR_EINCOMPLETE) {
        rv = dp_dk_logs_finish(c->dec);
    }
    if (rv != APR_SUCCESS && rv != APR_EINCOMPLETE) {
        return dp_fail(q, 502, "docker_bad_logs", "the Docker engine's log stream is not in the expected framing");
    }
    if (c->lines == NULL) {
        ap_set_content_type(q->r, "text/plain; charset=utf-8");
        apr_table_setn(q->r->headers_out, "Cache-Control", "no-store");
        ap_set_content_length(q->r, (apr_off_t)c->text_len);
        if (c->text_len && !q->r->header_only) {
            ap_rwrite(c->text, (int)c->text_len, q->r);
        }
        return OK;
    }
    o = dp_json_object(q->pool);
    dp_json_set_ref(o, "lines", c->lines);
    return dp_send_json(q, 200, o);
}

/* ------------------------------------------------------------------------------------------ */
/* stats */

/* GET /containers/{id}/stats: one sample plus the CLI's summary. */
static int containers_stats(dp_req_t *q)
{
    json_object *stats = NULL;
    const char *id;
    dp_problem_t *prob = NULL;
    dp_dk_summary_t sum;

    if (find_container(&id, NULL, &prob, q, 0) != APR_SUCCESS
        || dp_docker_call(&stats, NULL, &prob, Q_DOCKER(q), q->pool, "GET", cpath(q, id, "/stats?stream=false"),
                          NULL) != APR_SUCCESS) {
        return send_problem(q, prob, "container_not_found");
    }
    if (stats == NULL || !json_object_is_type(stats, json_type_object)) {
        return dp_fail(q, 502, "docker_bad_response", "the Docker engine's stats answer is not an object");
    }
    dp_dk_stats_summarise(&sum, stats);
    json_object_object_add(stats, "summary", json_object_get(dp_dk_stats_json(q->pool, &sum)));
    return dp_send_json(q, 200, stats);
}

/* ------------------------------------------------------------------------------------------ */
/* volumes */

/* Reads the route's {name}: 404 for anything that is not a volume name. */
static apr_status_t volume_name(const char **pname, dp_problem_t **pprob, dp_req_t *q)
{
    const char *name = apr_table_get(q->params, "name");

    if (!dp_dk_valid_volume_name(name)) {
        return dp_problem_fail(pprob, q->pool, 404, "volume_not_found", "no such volume");
    }
    q->target = name;
    *pname = apr_pstrcat(q->pool, "/volumes/", dp_url_encode(q->pool, name), NULL);
    return APR_SUCCESS;
}

/* GET /volumes: {"items": Docker's Volumes, "warnings"}; ?label=, ?name=, ?dangling=, ?driver=. */
static int volumes_list(dp_req_t *q)
{
    json_object *filters = dp_json_object(q->pool), *res = NULL, *warn;
    dp_problem_t *prob = NULL;

    query_filters(q, filters, "label", "label");
    query_filters(q, filters, "name", "name");
    query_filters(q, filters, "dangling", "dangling");
    query_filters(q, filters, "driver", "driver");
    if (dp_owner(q)) {
        dp_dk_owner_filters_add(filters, q->pool, dp_owner(q));
    }
    if (dp_docker_call(&res, NULL, &prob, Q_DOCKER(q), q->pool, "GET",
                       apr_pstrcat(q->pool, "/volumes", filters_arg(q, filters, "?"), NULL), NULL) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    warn = dp_json_get(res, "Warnings");
    return send_items(q, dp_json_get(res, "Volumes"), warn ? warn : dp_json_array(q->pool));
}

/* GET /volumes/{name} */
static int volumes_inspect(dp_req_t *q)
{
    json_object *v = NULL;
    const char *path;
    dp_problem_t *prob = NULL;

    if (volume_name(&path, &prob, q) != APR_SUCCESS
        || dp_owner_volume(&v, &prob, q, apr_table_get(q->params, "name")) != APR_SUCCESS) {
        return send_problem(q, prob, "volume_not_found");
    }
    (void)path;
    return dp_send_json(q, 200, v);
}

/* Reads an optional object of strings at key into body[dkey]. */
static apr_status_t str_map(dp_problem_t **pprob, dp_req_t *q, json_object *in, const char *key,
                            json_object *body, const char *dkey)
{
    json_object *v = dp_json_get(in, key);

    if (v == NULL) {
        return APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_object)) {
        return dp_problem_fail(pprob, q->pool, 400, "wrong_type", "the field '%s' must be an object of strings", key);
    }
    {
        json_object_object_foreach(v, k, val) {
            if (!strcmp(key, "labels") && dp_dk_label_reserved(k)) {
                return dp_problem_fail(pprob, q->pool, 403, "policy_denied",
                                       "labels.%s: com.docker.compose.* labels are set by Compose only", k);
            }
            if (!json_object_is_type(val, json_type_string)) {
                return dp_problem_fail(pprob, q->pool, 400, "wrong_type", "the field '%s.%s' must be a string", key, k);
            }
        }
    }
    dp_json_set_ref(body, dkey, v);
    return APR_SUCCESS;
}

/* POST /volumes {"name","driver","labels","driver_opts"} → 201 Docker's volume object. */
static int volumes_create(dp_req_t *q)
{
    static const char *const fields[] = { "name", "driver", "labels", "driver_opts", NULL };
    json_object *in, *body = dp_json_object(q->pool), *vol = NULL;
    const char *name = NULL, *driver = "local";
    dp_problem_t *prob = NULL;
    dp_dk_policy_t pol;
    dp_dk_usage_t add = { 0, 0, 0, 1 };
    apr_status_t rv;
    int locked = 0;

    dp_owner_policy(&pol, q);
    if (dp_read_json(&in, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, in, fields) != APR_SUCCESS
        || dp_json_field_str(&name, &prob, q->pool, in, "name", 0, 255) != APR_SUCCESS
        || dp_json_field_str(&driver, &prob, q->pool, in, "driver", 0, 255) != APR_SUCCESS
        || str_map(&prob, q, in, "labels", body, "Labels") != APR_SUCCESS
        || str_map(&prob, q, in, "driver_opts", body, "DriverOpts") != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (name && !dp_dk_valid_volume_name(name)) {
        prob = dp_problem_make(q->pool, 422, "invalid_value",
                               "name: '%s' is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)", name);
        return dp_send_problem(q, dp_problem_add(prob, q->pool, "field", json_object_new_string("name")));
    }
    q->target = name;
    if (dp_dk_policy_volume(&prob, q->pool, &pol, driver, dp_json_get(body, "DriverOpts"), "driver_opts")
        != APR_SUCCESS) {
        DP_LOG(q, APLOG_NOTICE, 0, "volume create refused by policy: %s", prob->detail);
        return dp_send_problem(q, prob);
    }
    dp_json_set_str(body, "Name", name ? name : "");
    dp_json_set_str(body, "Driver", driver);
    if (dp_dk_stamp_labels(&prob, q->pool, body, q->key ? q->key->name : "") != APR_SUCCESS
        || dp_owner_quota_begin(&locked, &prob, q, &add) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (name && dp_owner(q)) {
        /* the engine answers an existing volume of that name as created: never another's */
        json_object *old = NULL;
        int status = 0;
        if (dp_docker_call(&old, &status, &prob, Q_DOCKER(q), q->pool, "GET",
                           apr_pstrcat(q->pool, "/volumes/", dp_url_encode(q->pool, name), NULL), NULL)
            == APR_SUCCESS && !dp_dk_owned(dp_json_get(old, "Labels"), dp_owner(q))) {
            dp_owner_quota_end(q, locked);
            return dp_fail(q, 409, "volume_exists", "a volume named '%s' exists and is not this key's", name);
        }
    }
    rv = dp_docker_call(&vol, NULL, &prob, Q_DOCKER(q), q->pool, "POST", "/volumes/create", body);
    dp_owner_quota_end(q, locked);
    if (rv != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (dp_json_get_str(vol, "Name")) {
        q->target = dp_json_get_str(vol, "Name");
    }
    return dp_send_json(q, 201, vol);
}

/* DELETE /volumes/{name}: 204; 409 while a container uses it. */
static int volumes_delete(dp_req_t *q)
{
    const char *path;
    dp_problem_t *prob = NULL;
    int force;

    if (volume_name(&path, &prob, q) != APR_SUCCESS
        || dp_query_bool(&force, &prob, q, "force", 0) != APR_SUCCESS
        || (dp_owner(q) && dp_owner_volume(NULL, &prob, q, apr_table_get(q->params, "name")) != APR_SUCCESS)
        || dp_docker_call(NULL, NULL, &prob, Q_DOCKER(q), q->pool, "DELETE",
                          apr_pstrcat(q->pool, path, "?force=", flag(force), NULL), NULL) != APR_SUCCESS) {
        if (prob && prob->status == 409) {
            prob->code = "volume_in_use";
        }
        return send_problem(q, prob, "volume_not_found");
    }
    return dp_send_empty(q, 204);
}

const dp_handler_entry_t dp_containers_handlers[] = {
    { "containers.list", containers_list },
    { "containers.create", containers_create },
    { "containers.inspect", containers_inspect },
    { "containers.delete", containers_delete },
    { "containers.start", containers_action },
    { "containers.stop", containers_action },
    { "containers.restart", containers_action },
    { "containers.kill", containers_action },
    { "containers.pause", containers_action },
    { "containers.unpause", containers_action },
    { "containers.logs", containers_logs },
    { "containers.stats", containers_stats },
    { "volumes.list", volumes_list },
    { "volumes.inspect", volumes_inspect },
    { "volumes.create", volumes_create },
    { "volumes.delete", volumes_delete },
    { NULL, NULL }
};
