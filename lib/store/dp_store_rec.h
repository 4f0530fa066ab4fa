/* dp_store_rec: typed access to the reconciler's records (db/migrations/007_reconcile.sql):
 * webhook intake and retries, orders due for a lookup, the lease row and the pass log. */
#ifndef DP_STORE_REC_H
#define DP_STORE_REC_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "dp_store.h"

/* The lease row every server competes for. */
#define DP_REC_LEASE "dockpay-reconcile"

/* One webhook event due for applying (or one row of the admin list). */
typedef struct dp_rec_event_t {
    apr_int64_t id;
    const char *imp_uid, *merchant_uid, *status, *cancellation_id;
    const char *outcome, *detail;
    int attempts;                  /* deliveries by PortOne */
    int apply_attempts;            /* tries to apply it */
    apr_int64_t age;               /* seconds since it was received */
    const char *received_at, *updated_at, *next_attempt_at;   /* "YYYY-MM-DD HH:MM:SS.ffffff" UTC */
} dp_rec_event_t;

/* One order due for a lookup at PortOne. */
typedef struct dp_rec_order_t {
    const char *merchant_uid;
    const char *imp_uid;           /* NULL: look it up by merchant_uid */
    const char *status;
    int attempts;
} dp_rec_order_t;

/* Records a received webhook (due now), or counts one more delivery of a known one (made due
 * now again unless it was applied); *pnew is 1 when the event was not known. */
apr_status_t dp_store_rec_intake(int *pnew, dp_problem_t **pprob, dp_db_t *db, const char *dedupe_key,
                                 const char *source_ip, const char *imp_uid, const char *merchant_uid,
                                 const char *status, const char *cancellation_id, const char *body);

/* Lists up to limit events due for applying (received/pending whose next attempt is due, or
 * processing for more than 60 s), oldest due first; *pitems holds dp_rec_event_t*. */
apr_status_t dp_store_rec_events_due(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                     int limit);

/* Claims event id for applying: *pclaimed is 1 when it was still due and is now processing
 * (its apply_attempts counted); exactly one claimer wins. */
apr_status_t dp_store_rec_event_claim(int *pclaimed, dp_problem_t **pprob, dp_db_t *db, apr_int64_t id);

/* Sets event id's outcome and detail; retry_in >= 0 makes it due again in that many seconds. */
apr_status_t dp_store_rec_event_finish(dp_problem_t **pprob, dp_db_t *db, apr_int64_t id,
                                       const char *outcome, const char *detail, int retry_in);

/* Lists events newest first with optional filters (NULL: any); *ptotal counts the matches. */
apr_status_t dp_store_rec_events_list(apr_array_header_t **pitems, apr_int64_t *ptotal,
                                      dp_problem_t **pprob, dp_db_t *db, const char *imp_uid,
                                      const char *merchant_uid, const char *outcome,
                                      apr_int64_t offset, apr_int64_t limit);

/* Lists up to limit orders that are not final and due for a lookup: prepared (younger than
 * max_age seconds, or a schedule that ran less than max_age ago), or ready virtual accounts
 * until their due date plus a day; a schedule that has not run yet is not due. first is the
 * delay in seconds before an order's first lookup. */
apr_status_t dp_store_rec_orders_due(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                     apr_int64_t max_age, int first, int limit);

/* Counts one more lookup of an order and sets its next one delay seconds from now. */
apr_status_t dp_store_rec_order_next(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid,
                                     int delay);

/* Takes (or renews) the lease for ttl seconds: *pgot is 1 when holder has it now. */
apr_status_t dp_store_rec_lease_take(int *pgot, dp_problem_t **pprob, dp_db_t *db, const char *holder,
                                     int ttl);

/* Ends holder's pass: frees the lease and records its end and result; logs the pass from
 * started ("YYYY-MM-DD HH:MM:SS.ffffff") with its counts; prunes passes older than 7 days. */
apr_status_t dp_store_rec_lease_release(dp_problem_t **pprob, dp_db_t *db, const char *holder,
                                        const char *started, int events, int lookups,
                                        const char *result);

/* Reads the database's UTC_TIMESTAMP(6). */
apr_status_t dp_store_rec_now(const char **pnow, dp_problem_t **pprob, dp_db_t *db);

/* The reconciler's state for /health: events not yet applied, the age of the oldest in
 * seconds (0: none), orders due now, the last pass's end (NULL: never) and result. */
typedef struct dp_rec_state_t {
    apr_int64_t events_pending, oldest_pending_age, orders_due;
    const char *last_run_at, *last_result;
} dp_rec_state_t;

/* Reads the reconciler's state; max_age and first as for dp_store_rec_orders_due. */
apr_status_t dp_store_rec_state(dp_rec_state_t *st, dp_problem_t **pprob, dp_db_t *db,
                                apr_int64_t max_age, int first);

#endif
