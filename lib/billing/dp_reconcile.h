/* dp_reconcile: the reconciler's work (no httpd): applying recorded webhook events with retries
 * and re-asking PortOne about orders that are not final, both through dp_pay_apply; one pass
 * at a time across every server on the database, by the lease row. The httpd side
 * (handlers/h_reconcile.c) runs it from a mod_watchdog callback. */
#ifndef DP_RECONCILE_H
#define DP_RECONCILE_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_pay.h"

/* How a pass runs (DockpayReconcileInterval, DockpayReconcileMaxAge, DockpayReconcileBatch). */
typedef struct dp_rec_opts_t {
    int interval;            /* seconds between passes; also the backoff unit */
    apr_int64_t max_age;     /* seconds an order (or an event) is tried for */
    int batch;               /* most PortOne lookups per pass (events and orders together) */
    const char *holder;      /* this server's name in the lease row (host:pid:random) */
} dp_rec_opts_t;

/* Seconds before the next try after attempts tries (1, 2, 3, 4+): 1, 5, 30, then 60 units. */
int dp_reconcile_backoff(int attempts, int unit);

/* Applies up to limit webhook events that are due, each claimed first (so exactly one server
 * applies it); *pdone counts the events applied or retried. A failed apply is made due again
 * after dp_reconcile_backoff; an event older than max_age that still fails becomes "failed".
 * leased: inside a pass, renew o->holder's lease before each event and stop when it is lost. */
apr_status_t dp_reconcile_events(int *pdone, dp_problem_t **pprob, dp_pay_env_t *e,
                                 const dp_rec_opts_t *o, int limit, int leased);

/* Runs one pass if this server gets the lease: due events, then due orders (at most o->batch
 * lookups in all), renewing the lease before each lookup and stopping if it is lost or PortOne
 * fails three times in a row; records the pass and frees the lease. *presult is "busy" (another
 * server holds the lease) or the pass's result ("ok: ..." / "error: ..."). Returns non-success
 * only when the database failed. */
apr_status_t dp_reconcile_pass(const char **presult, dp_problem_t **pprob, dp_pay_env_t *e,
                               const dp_rec_opts_t *o);

/* The reconciler object of /health: {"events_pending", "oldest_pending_seconds", "orders_due",
 * "last_run_at", "last_result", "interval"}; never an amount. */
apr_status_t dp_reconcile_state(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                                const dp_rec_opts_t *o);

/* Lists received webhooks for admins: filters may be NULL, page from 1, limit 1..100;
 * *pout = {"items", "page", "limit", "total"}. */
apr_status_t dp_reconcile_list_events(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                                      const char *imp_uid, const char *merchant_uid,
                                      const char *outcome, apr_int64_t page, apr_int64_t limit);

#endif
