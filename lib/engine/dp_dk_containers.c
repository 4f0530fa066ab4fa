/* dp_dk_containers: containers as core operations (list, inspect, create under the create
 * policy, actions, delete, stats; see dp_dk_ops.h). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_dk_ops.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_dk_misc.h"
#include "dp_dk_stats.h"

/* Returns "/containers/ID" + suffix with ID %-encoded. */
static const char *cpath(dp_dk_ctx_t *c, const char *id, const char *suffix)
{
    return apr_pstrcat(c->pool, "/containers/", dp_url_encode(c->pool, id), suffix, NULL);
}

static const char *flag(int v)
{
    return v ? "1" : "0";
}

/* Calls the engine with a transfer timeout of timeout_ms (for calls that may take long:
 * stop/restart with ?t=); the buffered answer is in *presp, a status >= 400 a problem. */
static apr_status_t engine_long(dp_http_resp_t **presp, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                const char *method, const char *path, long timeout_ms)
{
    dp_http_req_t req;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = path;
    req.timeout_ms = timeout_ms;
    if ((rv = dp_docker_send(presp, pprob, c->docker, c->pool, &req)) != APR_SUCCESS) {
        return rv;
    }
    if ((*presp)->status >= 400) {
        *pprob = dp_docker_problem(c->pool, (*presp)->status, (*presp)->body, (*presp)->len);
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}

/* Finds a container the caller may act on. */
apr_status_t dp_dk_container_find(const char **pid, json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                  const char *id, int want_info)
{
    apr_status_t rv;

    if (pinfo) {
        *pinfo = NULL;
    }
    if (!dp_dk_valid_id(id)) {
        return dp_problem_fail(pprob, c->pool, 404, "container_not_found", "no such container");
    }
    c->target = id;
    *pid = id;
    if (!want_info && !c->managed_only && c->owner == NULL) {
        return APR_SUCCESS;   /* admin without DockpayManagedOnly: Docker says what exists */
    }
    if ((rv = dp_dk_own_container(pid, pinfo, pprob, c, id)) != APR_SUCCESS) {
        return rv;
    }
    c->target = *pid;
    return APR_SUCCESS;
}

/* The networks a built create body names must not be the host's network reached by id. */
static apr_status_t check_networks(dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body)
{
    apr_array_header_t *refs = dp_dk_policy_networks(c->pool, body);
    int i, status;
    apr_status_t rv;

    for (i = 0; i < refs->nelts; ++i) {
        const dp_dk_netref_t *r = &APR_ARRAY_IDX(refs, i, dp_dk_netref_t);
        json_object *net = NULL;
        status = 0;
        if ((rv = dp_dk_call(&net, &status, pprob, c, "GET",
                             apr_pstrcat(c->pool, "/networks/", dp_url_encode(c->pool, r->name), NULL), NULL))
            != APR_SUCCESS) {
            if (status == 404) {
                *pprob = NULL;
                continue;   /* no such network: Docker's create answers for it */
            }
            return rv;
        }
        if ((rv = dp_dk_policy_network_driver(pprob, c->pool, c->policy, dp_json_get_str(net, "Driver"), r->field))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Before a start or restart: the container's host bind sources must still resolve inside
 * DockpayBindAllow (a symlink planted since create must not lead a bind elsewhere), and the
 * options of the local volumes it mounts must still pass the volume policy. */
static apr_status_t recheck_binds(dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *info)
{
    apr_array_header_t *vols;
    int i;
    apr_status_t rv;

    if ((rv = dp_dk_policy_recheck(&vols, pprob, c->pool, c->policy, info)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < vols->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(vols, i, const char *);
        json_object *vol = NULL;
        if (!dp_dk_valid_volume_name(name)) {
            continue;   /* an anonymous volume's id: nothing of the host */
        }
        if ((rv = dp_dk_call(&vol, NULL, pprob, c, "GET", apr_pstrcat(c->pool, "/volumes/", name, NULL), NULL))
            != APR_SUCCESS) {
            return rv;
        }
        if ((rv = dp_dk_policy_volume(pprob, c->pool, c->policy, dp_json_get_str(vol, "Driver"),
                                      dp_json_get(vol, "Options"), apr_pstrcat(c->pool, "volumes.", name,
                                                                               ".driver_opts", NULL)))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* list, inspect, delete, stats */

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

/* Adds every ?name= value of query to filters[name]. */
void dp_dk_query_filters(json_object *filters, apr_table_t *query, const char *const *names)
{
    for (; *names; ++names) {
        filter_ctx_t f = { filters, *names, *names };
        apr_table_do(add_filter, &f, query, *names, NULL);
    }
}

/* The Docker filters of a container list. */
json_object *dp_dk_container_filters(dp_dk_ctx_t *c, apr_table_t *query)
{
    static const char *const names[] = { "status", "label", "name", NULL };
    json_object *filters = dp_json_object(c->pool);

    dp_dk_query_filters(filters, query, names);
    if (c->managed_only) {
        json_object *l = dp_json_get(filters, "label");
        if (l == NULL) {
            l = json_object_new_array();
            json_object_object_add(filters, "label", l);
        }
        json_object_array_add(l, json_object_new_string(DP_DK_LABEL_MANAGED "=true"));
    }
    if (c->owner) {
        /* a non-admin key lists its own */
        dp_dk_owner_filters_add(filters, c->pool, c->owner);
    }
    return filters;
}

/* Docker's container list. */
apr_status_t dp_dk_container_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c, int all,
                                  json_object *filters)
{
    return dp_dk_call(plist, NULL, pprob, c, "GET",
                      dp_dk_with_filters(c->pool, apr_pstrcat(c->pool, "/containers/json?all=", flag(all), NULL), "&",
                                         filters), NULL);
}

/* Inspects a container; Config.Env values hidden from non-admin keys. */
apr_status_t dp_dk_container_inspect(json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id)
{
    json_object *info, *env;
    apr_size_t i;
    apr_status_t rv;

    if ((rv = dp_dk_container_find(&id, &info, pprob, c, id, 1)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "container_not_found", 0);
        return rv;
    }
    env = dp_json_get(dp_json_get(info, "Config"), "Env");
    if (env && json_object_is_type(env, json_type_array) && c->owner != NULL) {
        for (i = 0; i < json_object_array_length(env); ++i) {
            const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
            const char *eq = kv ? strchr(kv, '=') : NULL;
            const char *hidden = apr_pstrcat(c->pool, eq ? apr_pstrmemdup(c->pool, kv, (apr_size_t)(eq - kv)) : kv,
                                             "=***", NULL);
            json_object_array_put_idx(env, i, json_object_new_string(hidden));
        }
    }
    *pinfo = info;
    return APR_SUCCESS;
}

/* Deletes a container. */
apr_status_t dp_dk_container_delete(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id, apr_table_t *query)
{
    int force = 0, vols = 0;
    apr_status_t rv;

    if ((rv = dp_dk_container_find(&id, NULL, pprob, c, id, 0)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&force, pprob, c->pool, query, "force", 0)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&vols, pprob, c->pool, query, "volumes", 0)) != APR_SUCCESS
        || (rv = dp_dk_call(NULL, NULL, pprob, c, "DELETE",
                            apr_pstrcat(c->pool, cpath(c, id, ""), "?force=", flag(force), "&v=", flag(vols), NULL),
                            NULL)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "container_not_found", 0);
        return rv;
    }
    return APR_SUCCESS;
}

/* One stats sample plus the CLI's summary. */
apr_status_t dp_dk_container_stats(json_object **pstats, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id)
{
    json_object *stats = NULL;
    dp_dk_summary_t sum;
    apr_status_t rv;

    if ((rv = dp_dk_container_find(&id, NULL, pprob, c, id, 0)) != APR_SUCCESS
        || (rv = dp_dk_call(&stats, NULL, pprob, c, "GET", cpath(c, id, "/stats?stream=false"), NULL))
           != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "container_not_found", 0);
        return rv;
    }
    if (stats == NULL || !json_object_is_type(stats, json_type_object)) {
        return dp_problem_fail(pprob, c->pool, 502, "docker_bad_response",
                               "the Docker engine's stats answer is not an object");
    }
    dp_dk_stats_summarise(&sum, stats);
    json_object_object_add(stats, "summary", json_object_get(dp_dk_stats_json(c->pool, &sum)));
    *pstats = stats;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* actions */

typedef struct {
    const char *name;      /* action name */
    const char *param;     /* the query parameter it takes ("t", "signal") or NULL */
} action_t;

static const action_t actions[] = {
    { "start",   NULL },
    { "stop",    "t" },
    { "restart", "t" },
    { "kill",    "signal" },
    { "pause",   NULL },
    { "unpause", NULL },
    { NULL, NULL }
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

/* Runs a container action. */
apr_status_t dp_dk_container_action(int *pchanged, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id,
                                    const char *action, apr_table_t *query)
{
    const action_t *a;
    const char *arg = "", *sig;
    dp_http_resp_t *resp;
    long timeout = 0;
    apr_status_t rv;

    *pchanged = 0;
    for (a = actions; a->name && strcmp(a->name, action); ++a) {}
    if (a->name == NULL) {
        return dp_problem_fail(pprob, c->pool, 501, "not_implemented", "no such action");
    }
    if (!strcmp(a->name, "start") || !strcmp(a->name, "restart")) {
        json_object *info;
        if ((rv = dp_dk_container_find(&id, &info, pprob, c, id, 1)) != APR_SUCCESS) {
            dp_dk_not_found(*pprob, "container_not_found", 0);
            return rv;
        }
        if ((rv = recheck_binds(pprob, c, info)) != APR_SUCCESS) {
            c->notice = apr_pstrcat(c->pool, a->name, " refused by policy: ", (*pprob)->detail, NULL);
            return rv;
        }
    }
    else if ((rv = dp_dk_container_find(&id, NULL, pprob, c, id, 0)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "container_not_found", 0);
        return rv;
    }
    if (a->param && !strcmp(a->param, "t")) {
        apr_int64_t t;
        if ((rv = dp_query_field_int(&t, pprob, c->pool, query, "t", -1, 0, 3600)) != APR_SUCCESS) {
            return rv;
        }
        if (t >= 0) {
            arg = apr_psprintf(c->pool, "?t=%" APR_INT64_T_FMT, t);
            timeout = (long)(t + 30) * 1000;   /* Docker waits t seconds before it kills */
        }
    }
    else if (a->param && (sig = apr_table_get(query, a->param)) != NULL) {
        if (!signal_ok(sig)) {
            return dp_problem_fail(pprob, c->pool, 400, "bad_query", "'%s' is not a signal", sig);
        }
        arg = apr_pstrcat(c->pool, "?signal=", dp_url_encode(c->pool, sig), NULL);
    }
    if ((rv = engine_long(&resp, pprob, c, "POST", apr_pstrcat(c->pool, cpath(c, id, "/"), a->name, arg, NULL),
                          timeout)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "container_not_found", 0);
        return rv;
    }
    *pchanged = resp->status != 304;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* create */

/* Creates a container from a POST /containers body. */
apr_status_t dp_dk_container_create(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *req,
                                    int pull, int start)
{
    json_object *asked, *body, *created = NULL, *info = NULL, *out;
    const char *name, *id, *image;
    dp_http_resp_t *resp;
    dp_dk_usage_t add;
    apr_array_header_t *news;
    apr_pool_t *p = c->pool;
    apr_status_t rv;
    int locked = 0;

    if ((rv = dp_dk_create_body(&asked, &name, pprob, p, req)) != APR_SUCCESS) {
        return rv;
    }
    c->target = name;
    if ((rv = dp_dk_policy_build(&body, pprob, p, c->policy, asked)) != APR_SUCCESS) {
        c->notice = apr_pstrcat(p, "create refused by policy: ", (*pprob)->detail, NULL);
        return rv;
    }
    if ((rv = check_networks(pprob, c, body)) != APR_SUCCESS) {
        if ((*pprob)->status == 403) {
            c->notice = apr_pstrcat(p, "create refused by policy: ", (*pprob)->detail, NULL);
        }
        return rv;
    }
    image = dp_json_get_str(body, "Image");
    if ((rv = dp_dk_image_usable(pprob, c, image)) != APR_SUCCESS) {   /* another key's image: as if missing */
        return rv;
    }
    /* ownership: the networks, containers and volumes it names; quotas: what it adds */
    if ((rv = dp_dk_stamp_labels(pprob, p, body, c->key)) != APR_SUCCESS
        || (rv = dp_dk_quota_body(&add, pprob, p, body)) != APR_SUCCESS
        || (rv = dp_dk_check_refs(&news, pprob, c, body)) != APR_SUCCESS) {
        return rv;
    }
    dp_dk_quota_stamp(body, &add);
    add.volumes = news->nelts;
    if (pull) {   /* a pull may take long: check before it, and again under the lock after it */
        if ((rv = dp_dk_quota_begin(&locked, pprob, c, &add)) != APR_SUCCESS) {
            return rv;
        }
        dp_dk_quota_end(c, locked);
        if ((rv = dp_dk_image_pull_missing(pprob, c, image)) != APR_SUCCESS) {
            return rv;
        }
    }
    if ((rv = dp_dk_quota_begin(&locked, pprob, c, &add)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = dp_dk_make_volumes(pprob, c, news)) != APR_SUCCESS) {
        dp_dk_quota_end(c, locked);
        return rv;
    }
    rv = dp_dk_call(&created, NULL, pprob, c, "POST",
                    apr_pstrcat(p, "/containers/create", name ? "?name=" : "", name ? dp_url_encode(p, name) : "",
                                NULL), body);
    dp_dk_quota_end(c, locked);
    if (rv != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "image_not_found", 1);
        return rv;
    }
    if ((id = dp_json_get_str(created, "Id")) == NULL) {
        return dp_problem_fail(pprob, p, 502, "docker_bad_response", "the Docker engine's create answer has no Id");
    }
    c->target = id;
    out = dp_json_object(p);
    dp_json_set_str(out, "id", id);
    if (name == NULL && dp_dk_call(&info, NULL, pprob, c, "GET", cpath(c, id, "/json"), NULL) == APR_SUCCESS
        && dp_json_get_str(info, "Name")) {
        name = dp_json_get_str(info, "Name");
    }
    dp_json_set_str(out, "name", name ? (name[0] == '/' ? name + 1 : name) : NULL);
    dp_json_set_ref(out, "warnings", dp_json_get(created, "Warnings") ? dp_json_get(created, "Warnings")
                                                                      : dp_json_array(p));
    *pout = out;
    if (start) {
        json_object *now = NULL;
        if ((rv = dp_dk_call(&now, NULL, pprob, c, "GET", cpath(c, id, "/json"), NULL)) != APR_SUCCESS
            || (rv = recheck_binds(pprob, c, now)) != APR_SUCCESS
            || (rv = engine_long(&resp, pprob, c, "POST", cpath(c, id, "/start"), 0)) != APR_SUCCESS) {
            /* created, but it does not run: say so, with its id, so the client can clean up */
            dp_problem_add(*pprob, p, "id", json_object_new_string(id));
            (*pprob)->detail = apr_pstrcat(p, "the container was created (", id, ") but did not start: ",
                                           (*pprob)->detail, NULL);
            return rv;
        }
        json_object_object_add(out, "started", json_object_new_boolean(1));
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* logs */

/* Reads the logs query and finds the container. */
apr_status_t dp_dk_container_logs(dp_dk_logreq_t *lr, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id,
                                  apr_table_t *query)
{
    const char *tail = apr_table_get(query, "tail"), *since = apr_table_get(query, "since");
    const char *until = apr_table_get(query, "until"), *args;
    json_object *info;
    apr_pool_t *p = c->pool;
    int out, err;
    apr_int64_t n;
    apr_status_t rv;

    memset(lr, 0, sizeof(*lr));
    if ((rv = dp_query_field_bool(&lr->follow, pprob, p, query, "follow", 0)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&lr->timestamps, pprob, p, query, "timestamps", 0)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&out, pprob, p, query, "stdout", 1)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&err, pprob, p, query, "stderr", 1)) != APR_SUCCESS) {
        return rv;
    }
    if (!out && !err) {
        return dp_problem_fail(pprob, p, 400, "bad_query", "choose at least one of stdout and stderr");
    }
    if (tail == NULL) {
        tail = "100";
    }
    else if (strcmp(tail, "all") && dp_parse_int(&n, tail, 0, 1000000000) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 400, "bad_query", "the query parameter 'tail' must be a number or 'all'");
    }
    if ((since && !dp_is_safe_token(since, 40)) || (until && !dp_is_safe_token(until, 40))) {
        return dp_problem_fail(pprob, p, 400, "bad_query",
                               "'since' and 'until' take UNIX timestamps (or RFC 3339 times)");
    }
    args = apr_pstrcat(p, "/logs?stdout=", flag(out), "&stderr=", flag(err), "&timestamps=", flag(lr->timestamps),
                       "&tail=", tail, "&follow=", flag(lr->follow),
                       since ? "&since=" : "", since ? dp_url_encode(p, since) : "",
                       until ? "&until=" : "", until ? dp_url_encode(p, until) : "", NULL);
    if ((rv = dp_dk_container_find(&id, &info, pprob, c, id, 1)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "container_not_found", 0);
        return rv;
    }
    lr->tty = dp_json_get_bool(dp_json_get(info, "Config"), "Tty", 0);
    lr->path = cpath(c, id, args);
    return APR_SUCCESS;
}

/* Fetches the logs at once. */
apr_status_t dp_dk_container_logs_get(dp_http_resp_t **presp, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                      const dp_dk_logreq_t *lr)
{
    dp_http_req_t req;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = lr->path;
    if ((rv = dp_docker_send(presp, pprob, c->docker, c->pool, &req)) != APR_SUCCESS) {
        return rv;
    }
    if ((*presp)->status >= 400) {
        *pprob = dp_dk_not_found(dp_docker_problem(c->pool, (*presp)->status, (*presp)->body, (*presp)->len),
                                 "container_not_found", 0);
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}

/* Docker's container list as the engine sent it. */
apr_status_t dp_dk_container_list_raw(const char **pbody, apr_size_t *plen, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                      int all, json_object *filters)
{
    dp_http_req_t req;
    dp_http_resp_t *resp = NULL;
    const char *b, *e;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = dp_dk_with_filters(c->pool, apr_pstrcat(c->pool, "/containers/json?all=", flag(all), NULL), "&",
                                 filters);
    if ((rv = dp_docker_send(&resp, pprob, c->docker, c->pool, &req)) != APR_SUCCESS) {
        return rv;
    }
    if (resp->status >= 400) {
        *pprob = dp_docker_problem(c->pool, resp->status, resp->body, resp->len);
        return DP_EPROBLEM;
    }
    b = resp->body;
    e = resp->body + resp->len;
    while (b < e && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')) ++b;
    while (e > b && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t')) --e;
    if (resp->status != 200 || e - b < 2 || *b != '[' || e[-1] != ']') {
        return APR_EINVAL;
    }
    *pbody = b;
    *plen = (apr_size_t)(e - b);
    return APR_SUCCESS;
}

/* What a follow stream of logs has seen. */
struct dp_dk_follow_t {
    dp_dk_logs_t *dec;
    int sniffed;              /* the first bytes were looked at */
    int upstream_error;       /* ... and they were Docker's error answer, kept in errbuf */
    char errbuf[4096];
    apr_size_t errlen;
};

/* Starts reading a follow stream into dec. */
dp_dk_follow_t *dp_dk_follow_create(apr_pool_t *p, dp_dk_logs_t *dec)
{
    dp_dk_follow_t *f = apr_pcalloc(p, sizeof(*f));

    f->dec = dec;
    return f;
}

/* Streamed engine data of a follow: Docker's own error answer is kept aside, logs decoded. */
apr_status_t dp_dk_follow_feed(void *baton, const char *data, apr_size_t len)
{
    dp_dk_follow_t *f = baton;

    if (!f->sniffed && len > 0) {
        f->sniffed = 1;
        /* frames start with 0, 1 or 2; an error answer is {"message": ...} */
        f->upstream_error = data[0] == '{' && len >= 11 && !strncmp(data, "{\"message\":", 11);
    }
    if (f->upstream_error) {
        apr_size_t n = len < sizeof(f->errbuf) - f->errlen ? len : sizeof(f->errbuf) - f->errlen;
        memcpy(f->errbuf + f->errlen, data, n);
        f->errlen += n;
        return APR_SUCCESS;
    }
    return dp_dk_logs_feed(f->dec, data, len);
}

/* The problem of a follow that ended with the engine's status. */
dp_problem_t *dp_dk_follow_error(dp_dk_follow_t *f, apr_pool_t *p, int status)
{
    if (f->upstream_error) {
        return dp_docker_problem(p, status >= 400 ? status : 502, f->errbuf, f->errlen);
    }
    return status >= 400 ? dp_docker_problem(p, status, NULL, 0) : NULL;
}
