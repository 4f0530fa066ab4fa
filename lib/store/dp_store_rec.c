/* dp_store_rec: the reconciler's records (db/migrations/007_reconcile.sql). One labelled
 * statement per row of the table below, one typed function per statement. */
#include <string.h>
#include <apr_strings.h>

#include "dp_store.h"
#include "dp_store_rec.h"

#define NOW "UTC_TIMESTAMP(6)"
/* an event is due when received/pending and its next attempt has come, or when a claimer died
 * while applying it (processing for more than 60 s) */
#define EV_DUE "((outcome IN ('received', 'pending') AND COALESCE(next_attempt_at, received_at) <= " NOW ") " \
               "OR (outcome = 'processing' AND updated_at < " NOW " - INTERVAL 60 SECOND))"
#define EV_COLS "id, imp_uid, merchant_uid, status, cancellation_id, outcome, detail, attempts, " \
                "apply_attempts, TIMESTAMPDIFF(SECOND, received_at, " NOW "), received_at, updated_at, " \
                "next_attempt_at"
#define EV_FILTER "(%s IS NULL OR imp_uid = %s) AND (%s IS NULL OR merchant_uid = %s) " \
                  "AND (%s IS NULL OR outcome = %s)"
/* orders that are not final and due: args max_age (schedule), max_age (prepared), first */
#define ORD_FROM \
    " FROM payments p LEFT JOIN subscription_schedules s ON s.merchant_uid = p.merchant_uid " \
    "AND s.status = 'scheduled' " \
    "WHERE p.status IN ('prepared', 'ready') AND p.prepared_amount IS NOT NULL " \
    "AND (s.id IS NULL OR s.schedule_at <= UNIX_TIMESTAMP()) " \
    "AND CASE WHEN p.status = 'ready' AND p.vbank_due > 0 THEN p.vbank_due + 86400 > UNIX_TIMESTAMP() " \
    "WHEN s.id IS NOT NULL THEN s.schedule_at + %lld > UNIX_TIMESTAMP() " \
    "ELSE p.created_at > " NOW " - INTERVAL %lld SECOND END " \
    "AND COALESCE(p.reconcile_next_at, p.created_at + INTERVAL %d SECOND) <= " NOW

const dp_stmt_def_t dp_store_rec_statements[] = {
    { "dockpay_rec_intake",
      "INSERT INTO webhook_events (dedupe_key, received_at, updated_at, source_ip, imp_uid, "
      "merchant_uid, status, cancellation_id, body, next_attempt_at) VALUES (%s, " NOW ", " NOW ", "
      "%s, %s, %s, %s, %s, %s, " NOW ") ON DUPLICATE KEY UPDATE attempts = attempts + 1, "
      "next_attempt_at = IF(outcome IN ('received', 'pending'), " NOW ", next_attempt_at)" },
    { "dockpay_rec_events_due",
      "SELECT " EV_COLS " FROM webhook_events WHERE " EV_DUE
      " ORDER BY COALESCE(next_attempt_at, received_at) LIMIT %d" },
    { "dockpay_rec_event_claim",
      "UPDATE webhook_events SET outcome = 'processing', updated_at = " NOW ", "
      "apply_attempts = apply_attempts + 1 WHERE id = %lld AND " EV_DUE },
    { "dockpay_rec_event_finish",
      "UPDATE webhook_events SET outcome = %s, detail = %s, updated_at = " NOW ", "
      "next_attempt_at = CASE WHEN %d < 0 THEN NULL ELSE " NOW " + INTERVAL %d SECOND END "
      "WHERE id = %lld" },
    { "dockpay_rec_events_list",
      "SELECT " EV_COLS " FROM webhook_events WHERE " EV_FILTER
      " ORDER BY id DESC LIMIT %lld OFFSET %lld" },
    { "dockpay_rec_events_count", "SELECT COUNT(*) FROM webhook_events WHERE " EV_FILTER },
    { "dockpay_rec_orders_due",
      "SELECT p.merchant_uid, p.imp_uid, p.status, p.reconcile_attempts" ORD_FROM
      " ORDER BY COALESCE(p.reconcile_next_at, p.created_at) LIMIT %d" },
    { "dockpay_rec_orders_count", "SELECT COUNT(*)" ORD_FROM },
    { "dockpay_rec_order_next",
      "UPDATE payments SET reconcile_attempts = reconcile_attempts + 1, "
      "reconcile_next_at = " NOW " + INTERVAL %d SECOND WHERE merchant_uid = %s" },
    { "dockpay_rec_lease_take",
      "UPDATE reconcile_lease SET holder = %s, expires_at = " NOW " + INTERVAL %d SECOND "
      "WHERE name = '" DP_REC_LEASE "' AND (expires_at < " NOW " OR holder = %s)" },
    { "dockpay_rec_lease_release",
      "UPDATE reconcile_lease SET expires_at = " NOW ", last_run_at = " NOW ", last_result = %s, "
      "runs = runs + 1 WHERE name = '" DP_REC_LEASE "' AND holder = %s" },
    { "dockpay_rec_run_add",
      "INSERT INTO reconcile_runs (holder, started_at, ended_at, events, lookups, result) "
      "VALUES (%s, %s, " NOW ", %d, %d, %s)" },
    { "dockpay_rec_run_prune", "DELETE FROM reconcile_runs WHERE started_at < " NOW " - INTERVAL 7 DAY" },
    { "dockpay_rec_now", "SELECT " NOW },
    { "dockpay_rec_backlog",
      "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(SECOND, MIN(received_at), " NOW "), 0) "
      "FROM webhook_events WHERE outcome IN ('received', 'pending', 'processing')" },
    { "dockpay_rec_last",
      "SELECT last_run_at, last_result FROM reconcile_lease WHERE name = '" DP_REC_LEASE "'" },
    { NULL, NULL }
};

/* Records a received webhook or counts one more delivery. */
apr_status_t dp_store_rec_intake(int *pnew, dp_problem_t **pprob, dp_db_t *db, const char *dedupe_key,
                                 const char *source_ip, const char *imp_uid, const char *merchant_uid,
                                 const char *status, const char *cancellation_id, const char *body)
{
    const void *args[7];
    int n = 0;
    apr_status_t rv;

    args[0] = dedupe_key;
    args[1] = source_ip ? source_ip : "";
    args[2] = imp_uid;
    args[3] = merchant_uid;
    args[4] = status;
    args[5] = cancellation_id;
    args[6] = body ? body : "";
    rv = dp_store_exec(&n, pprob, db, "dockpay_rec_intake", args);
    *pnew = (rv == APR_SUCCESS && n == 1);   /* 1: inserted, 2: an existing row updated */
    return rv;
}

/* One EV_COLS row as an event. */
static void *row_to_event(dp_db_t *db, apr_dbd_row_t *row)
{
    dp_rec_event_t *e = apr_pcalloc(db->pool, sizeof(*e));
    int c = 0;

    e->id = dp_store_col_int(db, row, c++);
    e->imp_uid = dp_store_col(db, row, c++);
    e->merchant_uid = dp_store_col(db, row, c++);
    e->status = dp_store_col(db, row, c++);
    e->cancellation_id = dp_store_col(db, row, c++);
    e->outcome = dp_store_col(db, row, c++);
    e->detail = dp_store_col(db, row, c++);
    e->attempts = (int)dp_store_col_int(db, row, c++);
    e->apply_attempts = (int)dp_store_col_int(db, row, c++);
    e->age = dp_store_col_int(db, row, c++);
    e->received_at = dp_store_col(db, row, c++);
    e->updated_at = dp_store_col(db, row, c++);
    e->next_attempt_at = dp_store_col(db, row, c++);
    return e;
}

/* Runs an EV_COLS select and collects every row. */
static apr_status_t select_events(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                  const char *label, const void **args)
{
    return dp_store_select_all(pitems, pprob, db, label, args, row_to_event);
}

/* Lists events due for applying. */
apr_status_t dp_store_rec_events_due(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                     int limit)
{
    const void *args[1];

    args[0] = &limit;
    return select_events(pitems, pprob, db, "dockpay_rec_events_due", args);
}

/* Claims an event for applying. */
apr_status_t dp_store_rec_event_claim(int *pclaimed, dp_problem_t **pprob, dp_db_t *db, apr_int64_t id)
{
    const void *args[1];
    int n = 0;
    apr_status_t rv;

    args[0] = &id;
    rv = dp_store_exec(&n, pprob, db, "dockpay_rec_event_claim", args);
    *pclaimed = (rv == APR_SUCCESS && n > 0);
    return rv;
}

/* Sets an event's outcome. */
apr_status_t dp_store_rec_event_finish(dp_problem_t **pprob, dp_db_t *db, apr_int64_t id,
                                       const char *outcome, const char *detail, int retry_in)
{
    const void *args[5];

    args[0] = outcome;
    args[1] = detail ? apr_pstrndup(db->pool, detail, 255) : NULL;
    args[2] = &retry_in;
    args[3] = &retry_in;
    args[4] = &id;
    return dp_store_exec(NULL, pprob, db, "dockpay_rec_event_finish", args);
}

/* Lists events with filters. */
apr_status_t dp_store_rec_events_list(apr_array_header_t **pitems, apr_int64_t *ptotal,
                                      dp_problem_t **pprob, dp_db_t *db, const char *imp_uid,
                                      const char *merchant_uid, const char *outcome,
                                      apr_int64_t offset, apr_int64_t limit)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[8];
    apr_status_t rv;

    args[0] = args[1] = imp_uid;
    args[2] = args[3] = merchant_uid;
    args[4] = args[5] = outcome;
    args[6] = &limit;
    args[7] = &offset;
    *ptotal = 0;
    if ((rv = select_events(pitems, pprob, db, "dockpay_rec_events_list", args)) != APR_SUCCESS
        || (rv = dp_store_select(&res, pprob, db, "dockpay_rec_events_count", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        *ptotal = dp_store_col_int(db, row, 0);
    }
    return APR_SUCCESS;
}

/* One row of dockpay_rec_orders_due as an order. */
static void *row_to_order(dp_db_t *db, apr_dbd_row_t *row)
{
    dp_rec_order_t *o = apr_pcalloc(db->pool, sizeof(*o));

    o->merchant_uid = dp_store_col(db, row, 0);
    o->imp_uid = dp_store_col(db, row, 1);
    o->status = dp_store_col(db, row, 2);
    o->attempts = (int)dp_store_col_int(db, row, 3);
    return o;
}

/* Lists orders due for a lookup. */
apr_status_t dp_store_rec_orders_due(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                     apr_int64_t max_age, int first, int limit)
{
    const void *args[4];

    args[0] = &max_age;
    args[1] = &max_age;
    args[2] = &first;
    args[3] = &limit;
    return dp_store_select_all(pitems, pprob, db, "dockpay_rec_orders_due", args, row_to_order);
}

/* Counts a lookup of an order and schedules the next. */
apr_status_t dp_store_rec_order_next(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid,
                                     int delay)
{
    const void *args[2];

    args[0] = &delay;
    args[1] = merchant_uid;
    return dp_store_exec(NULL, pprob, db, "dockpay_rec_order_next", args);
}

/* Takes or renews the lease. */
apr_status_t dp_store_rec_lease_take(int *pgot, dp_problem_t **pprob, dp_db_t *db, const char *holder,
                                     int ttl)
{
    const void *args[3];
    int n = 0;
    apr_status_t rv;

    args[0] = holder;
    args[1] = &ttl;
    args[2] = holder;
    rv = dp_store_exec(&n, pprob, db, "dockpay_rec_lease_take", args);
    *pgot = (rv == APR_SUCCESS && n == 1);
    return rv;
}

/* Ends a pass. */
apr_status_t dp_store_rec_lease_release(dp_problem_t **pprob, dp_db_t *db, const char *holder,
                                        const char *started, int events, int lookups,
                                        const char *result)
{
    const void *args[5];
    const char *res = result ? apr_pstrndup(db->pool, result, 255) : NULL;
    apr_status_t rv;

    args[0] = holder;
    args[1] = started;
    args[2] = &events;
    args[3] = &lookups;
    args[4] = res;
    if ((rv = dp_store_exec(NULL, pprob, db, "dockpay_rec_run_add", args)) != APR_SUCCESS
        || (rv = dp_store_exec(NULL, pprob, db, "dockpay_rec_run_prune", NULL)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = res;
    args[1] = holder;
    return dp_store_exec(NULL, pprob, db, "dockpay_rec_lease_release", args);
}

/* Reads one row of one string column of a parameterless select. */
static apr_status_t select_strs(const char **pa, const char **pb, dp_problem_t **pprob, dp_db_t *db,
                                const char *label, const void **args)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    *pa = NULL;
    if (pb) *pb = NULL;
    if ((rv = dp_store_select(&res, pprob, db, label, args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        *pa = dp_store_col(db, row, 0);
        if (pb) *pb = dp_store_col(db, row, 1);
    }
    return APR_SUCCESS;
}

/* Reads the database's time. */
apr_status_t dp_store_rec_now(const char **pnow, dp_problem_t **pprob, dp_db_t *db)
{
    return select_strs(pnow, NULL, pprob, db, "dockpay_rec_now", NULL);
}

/* Reads the reconciler's state. */
apr_status_t dp_store_rec_state(dp_rec_state_t *st, dp_problem_t **pprob, dp_db_t *db,
                                apr_int64_t max_age, int first)
{
    const char *a = NULL, *b = NULL;
    const void *args[3];
    apr_status_t rv;

    memset(st, 0, sizeof(*st));
    args[0] = &max_age;
    args[1] = &max_age;
    args[2] = &first;
    if ((rv = select_strs(&a, &b, pprob, db, "dockpay_rec_backlog", NULL)) != APR_SUCCESS) {
        return rv;
    }
    st->events_pending = a ? apr_atoi64(a) : 0;
    st->oldest_pending_age = b ? apr_atoi64(b) : 0;
    if ((rv = select_strs(&a, NULL, pprob, db, "dockpay_rec_orders_count", args)) != APR_SUCCESS) {
        return rv;
    }
    st->orders_due = a ? apr_atoi64(a) : 0;
    return select_strs(&st->last_run_at, &st->last_result, pprob, db, "dockpay_rec_last", NULL);
}
