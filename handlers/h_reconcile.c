/* h_reconcile: the reconciler on the httpd side (issue 14): a mod_watchdog singleton callback
 * ("dockpay-reconcile") that applies recorded webhook events as soon as the intake signals
 * them (anonymous shared memory, so any child's intake wakes the one child that runs it) and
 * runs a reconcile pass (lib/dp_reconcile.c) every DockpayReconcileInterval seconds; its state
 * for /health; and the admin route GET /webhooks/events. */
#include <string.h>
#include <unistd.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <mod_watchdog.h>

#include "dp_glue.h"
#include "h_areas.h"
#include "dp_reconcile.h"
#include "dp_memo.h"

#define WD_NAME "dockpay-reconcile"
#define WD_TICK apr_time_from_msec(200)

static server_rec *rec_server;                 /* the server whose reconciler runs, or NULL */
static volatile apr_uint32_t *wake;            /* bumped by the intake (shared by the children) */
static volatile int child_ready;               /* set in child_init: clients usable after fork */

/* per-thread state of the watchdog callback (one thread per child; only one child runs it) */
static apr_pool_t *tick_pool;
static apr_uint32_t seen_wake;
static apr_time_t next_pass;
static dp_rec_opts_t opts;
static char holder[96];                        /* this process's name in the lease row */

/* The options of server s's configuration. */
static void opts_of(dp_rec_opts_t *o, const dp_conf_t *c)
{
    memset(o, 0, sizeof(*o));
    o->interval = c->reconcile_interval;
    o->max_age = c->reconcile_max_age;
    o->batch = c->reconcile_batch;
}

/* One tick: applies signalled events; runs a pass when it is time. */
static void tick(server_rec *s)
{
    dp_conf_t *c = ap_get_module_config(s->module_config, &dockpay_module);
    apr_uint32_t w = apr_atomic_read32(wake);
    apr_time_t now = apr_time_now();
    int pass = now >= next_pass, done = 0;
    dp_problem_t *prob = NULL;
    dp_pay_env_t e;
    const char *result = NULL;

    if (!pass && w == seen_wake) {
        return;
    }
    seen_wake = w;
    apr_pool_clear(tick_pool);
    memset(&e, 0, sizeof(e));
    e.pool = tick_pool;
    e.portone = dp_proc_of(s)->portone;
    e.channel_key = c->portone_channel;
    e.pg = c->portone_pg;
    e.vbank_due_days = c->vbank_due_days;
    e.auto_cancel = c->auto_cancel;
    if ((e.db = dp_db_open_bg(s, tick_pool)) == NULL) {
        if (pass) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "dockpay: reconcile: the database cannot be "
                         "reached; trying again in %d s", opts.interval);
            next_pass = now + apr_time_from_sec(opts.interval);
        }
        return;
    }
    if (pass) {
        next_pass = now + apr_time_from_sec(opts.interval);
        if (dp_reconcile_pass(&result, &prob, &e, &opts) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "dockpay: reconcile: pass failed: %s",
                         prob && prob->detail ? prob->detail : "database error");
        }
        else if (result && strncmp(result, "error", 5) == 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "dockpay: reconcile: %s", result);
        }
        else if (result && strcmp(result, "busy") != 0) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "dockpay: reconcile: %s", result);
        }
    }
    /* a pass applies the due events itself; when another server holds the lease ("busy"), the
     * wake this tick took is served here, or the event would wait for the next wake or pass */
    if (pass && !(result && strcmp(result, "busy") == 0)) {
        dp_db_close_bg(s, e.db);
        return;
    }
    if (dp_reconcile_events(&done, &prob, &e, &opts, opts.batch, 0) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "dockpay: reconcile: applying webhook events "
                     "failed: %s", prob && prob->detail ? prob->detail : "database error");
    }
    else if (done >= opts.batch) {
        seen_wake = w - 1;   /* a full batch: more may be waiting, go on at the next tick */
    }
    dp_db_close_bg(s, e.db);
}

/* The watchdog callback. */
static apr_status_t wd_callback(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data;
    dp_conf_t *c = ap_get_module_config(s->module_config, &dockpay_module);
    char host[64];

    (void)pool;
    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        /* mod_watchdog destroys the pool it passes after each call: the thread's own pool lives
         * as long as the process (only this thread uses it) */
        if (tick_pool == NULL && apr_pool_create(&tick_pool, NULL) != APR_SUCCESS) {
            tick_pool = NULL;
            return APR_SUCCESS;
        }
        opts_of(&opts, c);
        if (gethostname(host, sizeof(host)) != 0) {
            apr_cpystrn(host, "host", sizeof(host));
        }
        host[sizeof(host) - 1] = '\0';
        {
            char rnd[9];
            if (dp_random_hex(rnd, 4) != APR_SUCCESS) {
                apr_cpystrn(rnd, "0", sizeof(rnd));
            }
            apr_snprintf(holder, sizeof(holder), "%.60s:%ld:%s", host, (long)getpid(), rnd);
            opts.holder = holder;
        }
        seen_wake = wake ? apr_atomic_read32(wake) - 1 : 0;   /* look once at start */
        next_pass = apr_time_now() + apr_time_from_sec(1);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "dockpay: reconcile: running in this process as %s "
                     "(every %d s, at most %d lookups a pass)", opts.holder, opts.interval, opts.batch);
        break;
    case AP_WATCHDOG_STATE_RUNNING:
        if (tick_pool && child_ready && wake && dp_proc_of(s) && dp_proc_of(s)->portone) {
            tick(s);
        }
        break;
    default:
        break;
    }
    return APR_SUCCESS;
}

/* Sets up the reconciler for the first server with PortOne (post_config, after the clients). */
int dp_reconcile_post_config(server_rec *s, apr_pool_t *pconf)
{
    apr_shm_t *shm = NULL;
    server_rec *sv;
    apr_status_t rv;

    rec_server = NULL;
    wake = NULL;
    for (sv = s; sv && rec_server == NULL; sv = sv->next) {
        if (dp_proc_of(sv) && dp_proc_of(sv)->portone) {
            rec_server = sv;
        }
    }
    if (rec_server == NULL) {
        return OK;   /* no PortOne: nothing to reconcile */
    }
    if (APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance) == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "dockpay: mod_watchdog is not loaded: webhook "
                     "events are recorded but not applied and nothing is reconciled "
                     "(LoadModule watchdog_module)");
        rec_server = NULL;
        return OK;
    }
    if ((rv = apr_shm_create(&shm, sizeof(apr_uint32_t), NULL, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "dockpay: cannot create shared memory for the reconciler");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    wake = apr_shm_baseaddr_get(shm);
    *wake = 0;
    if ((rv = dp_task_register(WD_NAME, WD_TICK, rec_server, wd_callback, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "dockpay: cannot create the watchdog " WD_NAME);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Marks the process's clients as usable by the watchdog thread (child_init). */
void dp_reconcile_child_init(void)
{
    child_ready = 1;
}

/* Wakes the reconciler to apply recorded events now. */
void dp_reconcile_wake(void)
{
    if (wake) {
        apr_atomic_inc32(wake);
    }
}

/* The reconciler object of /health, or NULL when it cannot be read; like the dependency
 * check, reused for DockpayHealthCache seconds by each process. */
json_object *dp_reconcile_health(dp_req_t *q)
{
    dp_rec_opts_t o;
    dp_problem_t *prob = NULL;
    json_object *out = NULL;
    const char *memo, *text;
    apr_size_t len;
    apr_time_t now = apr_time_now();
    dp_db_t *db;

    opts_of(&o, q->conf);
    if (rec_server == NULL) {
        out = dp_json_object(q->pool);
        json_object_object_add(out, "enabled", json_object_new_boolean(0));
        return out;
    }
    if (dp_memo_get(&memo, &len, q->proc->recstate, q->pool, "reconciler", 0, now) == APR_SUCCESS
        && dp_json_parse(&out, &prob, q->pool, memo, len) == APR_SUCCESS && out) {
        return out;
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL || dp_reconcile_state(&out, &prob, db, &o) != APR_SUCCESS) {
        return NULL;
    }
    json_object_object_add(out, "enabled", json_object_new_boolean(1));
    text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    dp_memo_put(q->proc->recstate, "reconciler", 0, now, text, strlen(text));
    return out;
}

/* GET /webhooks/events (admin): received PortOne webhooks, newest first. */
static int h_events(dp_req_t *q)
{
    static const char *const outcomes[] = { "received", "processing", "pending", "applied", "stale",
        "unknown_order", "unknown_payment", "mismatch", "amount_mismatch", "currency_mismatch",
        "other_payment", "failed", NULL };
    const char *imp_uid = dp_query(q, "imp_uid"), *mu = dp_query(q, "merchant_uid");
    const char *outcome = dp_query(q, "outcome");
    apr_int64_t page, limit;
    dp_problem_t *prob = NULL;
    json_object *out = NULL;
    dp_db_t *db;
    int i, known = outcome == NULL;

    if (dp_query_int(&page, &prob, q, "page", 1, 1, 1000000) != APR_SUCCESS
        || dp_query_int(&limit, &prob, q, "limit", 20, 1, 100) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (imp_uid && !dp_is_safe_token(imp_uid, 32)) {
        return dp_fail(q, 400, "bad_query", "the query parameter 'imp_uid' is not a PortOne imp_uid");
    }
    if (mu && (strlen(mu) > 40 || *mu == '\0')) {
        return dp_fail(q, 400, "bad_query", "the query parameter 'merchant_uid' must be 1..40 characters");
    }
    for (i = 0; outcome && outcomes[i]; ++i) {
        known |= !strcmp(outcome, outcomes[i]);
    }
    if (!known) {
        return dp_fail(q, 400, "bad_query", "the query parameter 'outcome' is not a known outcome");
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL
        || dp_reconcile_list_events(&out, &prob, db, imp_uid, mu, outcome, page, limit) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

const dp_handler_entry_t dp_reconcile_handlers[] = {
    { "webhooks.events", h_events },
    { NULL, NULL }
};
