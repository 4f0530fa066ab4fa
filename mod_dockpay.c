/* mod_dockpay: Docker management and PortOne payments as a REST API inside Apache httpd.
 * This file holds the module record, the directives, the hooks and the request dispatch;
 * the areas' handlers live in handlers/, the core library (no httpd) in lib/. */
#define DP_MODULE_MAIN 1
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_dbd.h>
#include <apr_shm.h>
#include <mod_dbd.h>

#include "dp_glue.h"
#include "dp_dk_policy.h"
#include "dp_routes.h"
#include "dp_log.h"
#include "dp_http.h"
#include "dp_memo.h"
#include "dp_store_pay.h"
#include "h_areas.h"
#include "h_watch.h"
#include "h_billing.h"
#include "h_idem.h"   /* idem */
#include "dp_outbox.h"

module AP_MODULE_DECLARE_DATA dockpay_module;

#define DP_HANDLER "dockpay"

static apr_hash_t *handler_map;   /* route id -> dp_handler_fn*, built in post_config */
static server_rec *main_server;

/* ------------------------------------------------------------------------------------------ */
/* configuration */

/* The directives, create/merge and defaults are generated from handlers/dp_conf.def
 * (handlers/dp_conf.c). */

static dp_conf_t *conf_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &dockpay_module);
}

/* server_rec* -> dp_proc_t*, filled in post_config and only read afterwards. */
static apr_hash_t *proc_map;

dp_proc_t *dp_proc_of(const server_rec *s)
{
    return proc_map ? apr_hash_get(proc_map, &s, sizeof(s)) : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* hooks */

static void log_bridge(void *baton, int level, apr_status_t rv, const char *msg)
{
    (void)baton;
    ap_log_error(APLOG_MARK, level, rv, main_server, "dockpay: %s", msg);
}

static int pre_dbd_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    server_rec *sv;

    (void)pconf; (void)plog; (void)ptemp;
    if (prepare == NULL) {
        return OK;  /* no mod_dbd: database routes answer 503 */
    }
    for (sv = s; sv; sv = sv->next) {
        const dp_stmt_def_t *const *t;
        for (t = dp_store_tables; *t; ++t) {
            const dp_stmt_def_t *d;
            for (d = *t; d->label; ++d) {
                prepare(sv, d->sql, d->label);
            }
        }
    }
    return OK;
}

static void add_handlers(apr_pool_t *p, const dp_handler_entry_t *t)
{
    for (; t->id; ++t) {
        apr_hash_set(handler_map, t->id, APR_HASH_KEY_STRING, (void *)t->fn);
    }
    (void)p;
}

/* Every route of the table has a handler (no 501 is reachable): logs each route without one and
 * returns the number of them. */
static int routes_without_handler(server_rec *s)
{
    apr_size_t i;
    int missing = 0;

    for (i = 0; i < dp_routes_count; ++i) {
        if (apr_hash_get(handler_map, dp_routes[i].id, APR_HASH_KEY_STRING) == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "dockpay: the route %s %s (%s) has no handler "
                         "in any handler table", dp_routes[i].method, dp_routes[i].pattern, dp_routes[i].id);
            ++missing;
        }
    }
    return missing;
}

/* The payments-table change count shared by every child (anonymous shared memory made before
 * the children fork); see dp_store_pay_set_counter. NULL, logged, when it cannot be made. */
static volatile apr_uint32_t *shared_counter(server_rec *s, apr_pool_t *pconf)
{
    apr_shm_t *shm = NULL;
    apr_status_t rv = apr_shm_create(&shm, sizeof(apr_uint32_t), NULL, pconf);
    volatile apr_uint32_t *n;

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "dockpay: cannot create anonymous shared memory "
                     "for the payments change count");
        return NULL;
    }
    n = apr_shm_baseaddr_get(shm);
    *n = 0;
    return n;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;
    volatile apr_uint32_t *pay_changes;

    (void)plog; (void)ptemp;
    main_server = s;
    dp_log_set(log_bridge, NULL);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;  /* the dry run: nothing to set up yet */
    }
    if (dp_http_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "dockpay: libcurl failed to initialise");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    dp_db_init();   /* mod_dbd's functions, read-only from here on */
    handler_map = apr_hash_make(pconf);
    add_handlers(pconf, dp_system_handlers);
    add_handlers(pconf, dp_containers_handlers);
    add_handlers(pconf, dp_engine_handlers);
    add_handlers(pconf, dp_payment_handlers);
    add_handlers(pconf, dp_subscription_handlers);
    add_handlers(pconf, dp_audit_handlers);   /* idem */
    add_handlers(pconf, dp_event_handlers);   /* outbox */
    add_handlers(pconf, dp_reconcile_handlers);   /* reconcile */
    add_handlers(pconf, dp_billing_handlers);   /* billing */
    if (routes_without_handler(s) > 0) {
        return HTTP_INTERNAL_SERVER_ERROR;   /* a build error: the route table and handlers differ */
    }
    if ((pay_changes = shared_counter(s, pconf)) == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    dp_store_pay_set_counter(pay_changes);

    proc_map = apr_hash_make(pconf);
    for (sv = s; sv; sv = sv->next) {
        dp_conf_t *c = conf_of(sv);
        dp_proc_t *proc = apr_pcalloc(pconf, sizeof(*proc));
        const char *err;
        apr_status_t rv;
        server_rec **key = apr_pmemdup(pconf, &sv, sizeof(sv));

        if ((err = dp_conf_apply_defaults(c, pconf)) != NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sv, "dockpay: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (c->key_file && (rv = dp_keyring_load(&proc->keys, &err, pconf, c->key_file)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, sv, "dockpay: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = dp_docker_create(&proc->docker, &err, pconf, c->docker_endpoint, 3000,
                              (long)c->docker_timeout * 1000);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, sv, "dockpay: DockpayDockerEndpoint: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_hash_set(proc_map, key, sizeof(*key), proc);
        if (dp_payments_post_config(sv, c, proc, pconf) != OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (dp_events_post_config(sv, c, proc, pconf) != OK) {   /* outbox */
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (dp_billing_post_config(sv, c, pconf) != OK) {   /* billing */
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (dp_reconcile_post_config(s, pconf) != OK) {   /* reconcile */
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        dp_conf_t *c = conf_of(sv);
        dp_proc_t *proc = dp_proc_of(sv);
        if (proc) {
            /* the /health answer; the reconciler's object (three queries: at least a second even
             * with DockpayHealthCache 0); pages: 256 of at most 256 KiB (a page of 100 is ~60 KiB) */
            if (dp_memo_create(&proc->health, p, 1, 2048, apr_time_from_sec(c->health_cache)) != APR_SUCCESS
                || dp_memo_create(&proc->recstate, p, 1, 1024,
                                  apr_time_from_sec(c->health_cache > 1 ? c->health_cache : 1)) != APR_SUCCESS
                || dp_memo_create(&proc->pages, p, 256, 256 * 1024,
                                  apr_time_from_sec(c->payments_cache)) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv, "dockpay: no memo for /health and "
                             "payment pages in this process; every call asks the database");
                proc->health = proc->pages = proc->recstate = NULL;
            }
            dp_docker_child_init(proc->docker);
            dp_payments_child_init(sv, c, proc, p);
            dp_watch_child_init(sv, c, proc, p);
        }
    }
    dp_reconcile_child_init();   /* reconcile: after the clients forgot their parent's state */
}

/* ------------------------------------------------------------------------------------------ */
/* dispatch */

static const char *request_id(request_rec *r)
{
    const char *in = apr_table_get(r->headers_in, "X-Request-Id");
    char *hex;

    if (in && dp_is_safe_token(in, 64)) {
        return in;
    }
    hex = apr_palloc(r->pool, 33);
    if (dp_random_hex(hex, 16) != APR_SUCCESS) {
        return apr_psprintf(r->pool, "%" APR_TIME_T_FMT "-%lx", r->request_time, (unsigned long)r->connection->id);
    }
    return hex;
}

static const dp_key_t *authenticate(dp_req_t *q, int *pstatus)
{
    const char *h = apr_table_get(q->r->headers_in, "Authorization");
    const dp_key_t *k;

    *pstatus = 401;
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        return NULL;
    }
    h += 7;
    while (*h == ' ') ++h;
    if (*h == '\0' || strlen(h) > 256) {
        return NULL;
    }
    k = dp_keyring_lookup(q->proc->keys, h, strlen(h));
    if (k == NULL) {
        return NULL;
    }
    *pstatus = dp_scopes_allow(k->scopes, q->route->scope) ? 200 : 403;
    return k;
}

static void audit(dp_req_t *q, const char *path)
{
    dp_problem_t *prob = NULL;
    dp_db_t *db;

    if (q->audit_done) {
        return;
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL
        || dp_store_audit(&prob, db, q->key ? q->key->name : NULL, q->r->method, path, q->target,
                          q->r->status, q->rid) != APR_SUCCESS) {
        DP_LOG(q, APLOG_WARNING, 0, "audit row not written (%s): key=%s %s %s -> %d",
               prob && prob->detail ? prob->detail : "no database", q->key ? q->key->name : "-",
               q->r->method, path, q->r->status);
    }
}

static int dockpay_handler(request_rec *r)
{
    dp_conf_t *c;
    dp_req_t *q;
    const char *base, *path, *allow = NULL;
    apr_status_t rv;
    dp_handler_fn *fn;
    int ret, st;

    if (r->handler == NULL || strcmp(r->handler, DP_HANDLER) != 0) {
        return DECLINED;
    }
    c = conf_of(r->server);
    q = apr_pcalloc(r->pool, sizeof(*q));
    q->r = r;
    q->pool = r->pool;
    q->conf = c;
    q->proc = dp_proc_of(r->server);
    q->rid = request_id(r);
    apr_table_setn(r->err_headers_out, "X-Request-Id", q->rid);  /* sent with every status */
    apr_table_setn(r->subprocess_env, "DOCKPAY_REQUEST_ID", q->rid);
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    if (q->proc == NULL) {
        return dp_fail(q, 503, "not_ready", "the module is not initialised");
    }

    base = c->base_path;
    path = r->uri;
    if (strncmp(path, base, strlen(base)) != 0 || (path[strlen(base)] != '/' && path[strlen(base)] != '\0')) {
        return dp_fail(q, 404, "not_found", "no such route");
    }
    path += strlen(base);
    if (*path == '\0') {
        path = "/";
    }
    rv = dp_router_match(&q->route, &q->params, &allow, dp_routes, dp_routes_count, r->pool,
                         r->method, path);
    if (rv == DP_EMETHOD) {
        apr_table_setn(r->headers_out, "Allow", allow);
        return dp_fail(q, 405, "method_not_allowed", "%s is not allowed here; use %s", r->method, allow);
    }
    if (rv != APR_SUCCESS) {
        return dp_fail(q, 404, "not_found", "no such route: %s", path);
    }
    q->query = dp_parse_query(r->pool, r->args);
    if (apr_table_get(q->query, "\001malformed")) {
        return dp_fail(q, 400, "bad_query", "the query string is not correctly %%-encoded");
    }
    if (q->route->scope != DP_SCOPE_NONE) {
        q->key = authenticate(q, &st);
        if (st == 401) {
            return dp_fail(q, 401, "unauthorized", "send a valid API key as 'Authorization: Bearer <key>'");
        }
        if (st == 403) {
            return dp_fail(q, 403, "insufficient_scope", "the key '%s' lacks the scope this route needs (%s)",
                           q->key->name, dp_scopes_str(r->pool, q->route->scope));
        }
    }
    fn = handler_map ? apr_hash_get(handler_map, q->route->id, APR_HASH_KEY_STRING) : NULL;
    if (fn == NULL) {   /* not reached: post_config refuses to start with a route without a handler */
        return dp_fail(q, 501, "not_implemented", "the route %s %s is not implemented yet",
                       q->route->method, q->route->pattern);
    }
    if (q->route->scope & DP_SCOPE_DOCKER_WRITE) {
        dp_watch_mutation_begin(q);   /* container lists ask Docker until a reload after it */
        ret = fn(q);
        dp_watch_mutation_end(q);
    }
    else if (dp_idem_applies(q->route)) {   /* idem: payment/subscription writes */
        ret = dp_idem_run(q, fn);
    }
    else {
        ret = fn(q);
    }
    if (r->method_number != M_GET) {
        audit(q, path);
    }
    return ret;
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const succ_dbd[] = { "mod_dbd.c", NULL };

    (void)p;
    ap_hook_post_config(pre_dbd_post_config, NULL, succ_dbd, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(dockpay_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(dockpay) = {
    STANDARD20_MODULE_STUFF,
    NULL,               /* per-directory config */
    NULL,
    dp_conf_create,
    dp_conf_merge,
    dp_conf_cmds,
    register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    , AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
