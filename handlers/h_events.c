/* h_events: the outbox of signed events for the merchant's application — the admin routes
 * (GET /events, GET /events/{id}, POST /events/{id}/redeliver) and the delivery task, a
 * mod_watchdog singleton ("dockpay-outbox") that runs dp_outbox_run every DockpayNotifyInterval. */
#include <string.h>
#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <mod_watchdog.h>

#include "dp_glue.h"
#include "h_areas.h"
#include "dp_outbox.h"

#define OUTBOX_WATCHDOG "dockpay-outbox"

extern module AP_MODULE_DECLARE_DATA dockpay_module;

/* ------------------------------------------------------------------------------------------ */
/* delivery task */

/* One delivery run for server s (data) in its own pool; always APR_SUCCESS (mod_watchdog stops
 * calling a callback that fails once). */
static apr_status_t outbox_tick(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data;
    dp_conf_t *c = ap_get_module_config(s->module_config, &dockpay_module);
    dp_proc_t *proc = dp_proc_of(s);
    dp_outbox_cfg_t cfg;
    dp_problem_t *prob = NULL;
    dp_db_t *db;
    apr_pool_t *p;
    int attempts = 0, delivered = 0;
    apr_status_t rv;

    if (state != AP_WATCHDOG_STATE_RUNNING || proc == NULL || proc->notify_key == NULL) {
        return APR_SUCCESS;
    }
    if (apr_pool_create(&p, pool) != APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if ((db = dp_db_open_bg(s, p)) == NULL) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "dockpay: outbox: no database connection; "
                     "events wait for the next run");
        apr_pool_destroy(p);
        return APR_SUCCESS;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.url = c->notify_url;
    cfg.key = proc->notify_key;
    cfg.keylen = proc->notify_keylen;
    cfg.timeout_ms = (long)c->notify_timeout * 1000;
    cfg.max_age = c->notify_max_age;
    cfg.backoff = c->notify_backoff;
    rv = dp_outbox_run(&attempts, &delivered, &prob, db, &cfg);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "dockpay: outbox: run stopped: %s",
                     prob && prob->detail ? prob->detail : "database error");
    }
    else if (attempts > 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "dockpay: outbox: %d attempts, %d delivered",
                     attempts, delivered);
    }
    dp_db_close_bg(s, db);
    apr_pool_destroy(p);
    return APR_SUCCESS;
}

/* Checks the DockpayNotify* settings and registers the delivery task. */
int dp_events_post_config(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *pconf)
{
    apr_status_t rv;

    if (c->notify_url == NULL) {
        return OK;   /* events are recorded and stay pending; GET /events shows them */
    }
    if (c->notify_secret == NULL
        || dp_outbox_secret(&proc->notify_key, &proc->notify_keylen, pconf, c->notify_secret)
           != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "dockpay: DockpayNotifyURL is set but "
                     "DockpayNotifySecret is not (a whsec_ secret): events are only sent signed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open) == NULL
        || (rv = dp_task_register(OUTBOX_WATCHDOG, apr_time_from_sec(c->notify_interval), s, outbox_tick,
                                  pconf)) == APR_ENOTIMPL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "dockpay: DockpayNotifyURL needs mod_dbd and "
                     "mod_watchdog (LoadModule watchdog_module unless httpd has it built in)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "dockpay: cannot register the outbox task with "
                     "mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* ------------------------------------------------------------------------------------------ */
/* routes (admin) */

/* Reads an optional filter: at most max bytes of printable UTF-8 (400 otherwise). */
static apr_status_t filter(const char **pval, dp_problem_t **pprob, dp_req_t *q, const char *name,
                           apr_size_t max)
{
    const char *v = dp_query(q, name);
    apr_size_t i, n;

    *pval = NULL;
    if (v == NULL) {
        return APR_SUCCESS;
    }
    n = strlen(v);
    if (n == 0 || n > max || !dp_utf8_valid(v, n)) {
        goto bad;
    }
    for (i = 0; i < n; ++i) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            goto bad;
        }
    }
    *pval = v;
    return APR_SUCCESS;
bad:
    return dp_problem_fail(pprob, q->pool, 400, "bad_query",
                           "the query parameter '%s' must be 1..%d printable characters", name, (int)max);
}

/* GET /events: the outbox, newest first. */
static int h_list(dp_req_t *q)
{
    dp_problem_t *prob = NULL;
    const char *type, *state, *order_key;
    apr_int64_t page, limit;
    json_object *out = NULL;
    dp_db_t *db;

    if (dp_query_int(&page, &prob, q, "page", 1, 1, 1000000) != APR_SUCCESS
        || dp_query_int(&limit, &prob, q, "limit", 20, 1, 100) != APR_SUCCESS
        || filter(&type, &prob, q, "type", 40) != APR_SUCCESS
        || filter(&state, &prob, q, "state", 16) != APR_SUCCESS
        || filter(&order_key, &prob, q, "order_key", 80) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (state && strcmp(state, "pending") && strcmp(state, "delivered") && strcmp(state, "failed")) {
        return dp_fail(q, 400, "bad_query", "the query parameter 'state' must be pending, delivered or failed");
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL
        || dp_outbox_list(&out, &prob, db, type, state, order_key, page, limit) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* Reads the {id} parameter: an event id is "evt_" and hex (404 for anything else). */
static const char *event_param(dp_req_t *q)
{
    const char *id = apr_table_get(q->params, "id");

    q->target = id;
    return (id && !strncmp(id, "evt_", 4) && dp_is_safe_token(id, 40)) ? id : NULL;
}

/* GET /events/{id}: one event with its delivery attempts. */
static int h_get(dp_req_t *q)
{
    dp_problem_t *prob = NULL;
    json_object *out = NULL;
    const char *id = event_param(q);
    dp_db_t *db;

    if (id == NULL) {
        return dp_fail(q, 404, "event_not_found", "no such event");
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL || dp_outbox_get(&out, &prob, db, id) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* POST /events/{id}/redeliver: queues the event again (202). */
static int h_redeliver(dp_req_t *q)
{
    dp_problem_t *prob = NULL;
    json_object *out = NULL;
    const char *id = event_param(q);
    dp_db_t *db;

    if (id == NULL) {
        return dp_fail(q, 404, "event_not_found", "no such event");
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL
        || dp_outbox_redeliver(&out, &prob, db, id) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 202, out);
}

const dp_handler_entry_t dp_event_handlers[] = {
    { "events.list", h_list },
    { "events.get", h_get },
    { "events.redeliver", h_redeliver },
    { NULL, NULL }
};
