/* dp_store_outbox: the outbox of events for the merchant's application
 * (db/migrations/008_outbox.sql): adding events inside the caller's transaction, claiming and
 * finishing deliveries, and the admin reads. */
#ifndef DP_STORE_OUTBOX_H
#define DP_STORE_OUTBOX_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_store.h"

/* One row of outbox_events (times "YYYY-MM-DD HH:MM:SS.ffffff" UTC, NULL when none). */
typedef struct dp_outbox_rec_t {
    apr_int64_t id;
    const char *event_id;
    const char *type;
    const char *order_key;
    const char *payload;          /* the event's data, JSON text */
    const char *state;            /* pending | delivered | failed */
    int attempts;
    const char *next_attempt_at;
    const char *created_at;
    const char *delivered_at;
    const char *last_error;
} dp_outbox_rec_t;

/* Adds one pending event (a new "evt_..." id, returned in *pevent_id when not NULL) of type for
 * order_key with payload_json (the event's data: never a secret or card digits). Call it inside
 * the transaction of the change it reports, on the same db handle (usable by any area). */
apr_status_t dp_store_outbox_add(const char **pevent_id, dp_problem_t **pprob, dp_db_t *db,
                                 const char *type, const char *order_key, const char *payload_json);

/* Lists the row ids of up to limit events that are due now, not locked, and first pending of
 * their order_key (oldest first); *pids holds apr_int64_t. */
apr_status_t dp_store_outbox_due(apr_array_header_t **pids, dp_problem_t **pprob, dp_db_t *db,
                                 int limit);

/* Claims row id for worker for lock_secs with one atomic UPDATE; *pclaimed is 1 when this
 * worker holds it now (a row another worker holds, or no longer due, is not claimed). */
apr_status_t dp_store_outbox_claim(int *pclaimed, dp_problem_t **pprob, dp_db_t *db,
                                   apr_int64_t id, const char *worker, int lock_secs);

/* Reads the event of row id (*prec NULL when none). */
apr_status_t dp_store_outbox_load(dp_outbox_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                                  apr_int64_t id);

/* Records one delivery attempt: http_status (0: no answer) or error, and its duration. */
apr_status_t dp_store_outbox_attempt(dp_problem_t **pprob, dp_db_t *db, const char *event_id,
                                     int http_status, const char *error, int duration_ms);

/* Marks row id delivered (only while worker holds it). */
apr_status_t dp_store_outbox_delivered(dp_problem_t **pprob, dp_db_t *db, apr_int64_t id,
                                       const char *worker);

/* Counts a failed attempt of row id held by worker: next try in delay_secs, or state failed
 * when it was queued more than max_age_secs ago. */
apr_status_t dp_store_outbox_retry(dp_problem_t **pprob, dp_db_t *db, apr_int64_t id,
                                   const char *worker, const char *error, apr_int64_t delay_secs,
                                   apr_int64_t max_age_secs);

/* Reads the event event_id (*prec NULL when unknown). */
apr_status_t dp_store_outbox_get(dp_outbox_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                                 const char *event_id);

/* Lists events newest first, each filter NULL for any; *pitems holds dp_outbox_rec_t*,
 * *ptotal counts every matching event. */
apr_status_t dp_store_outbox_list(apr_array_header_t **pitems, apr_int64_t *ptotal,
                                  dp_problem_t **pprob, dp_db_t *db, const char *type,
                                  const char *state, const char *order_key, apr_int64_t offset,
                                  apr_int64_t limit);

/* Reads the delivery attempts of event_id, oldest first, as a JSON array owned by db->pool:
 * [{"at", "http_status", "error", "duration_ms"}]. */
apr_status_t dp_store_outbox_attempts(json_object **pitems, dp_problem_t **pprob, dp_db_t *db,
                                      const char *event_id);

/* Queues event_id again (pending, due now, max age counted from now). A delivery in flight
 * keeps its lock until it runs out but no longer owns the row, so the event is sent again. */
apr_status_t dp_store_outbox_requeue(dp_problem_t **pprob, dp_db_t *db, const char *event_id);

#endif
