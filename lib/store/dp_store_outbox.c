/* dp_store_outbox: outbox events and delivery attempts (db/migrations/008_outbox.sql). */
#include <string.h>
#include <apr_strings.h>

#include "dp_store.h"
#include "dp_store_outbox.h"
#include "dp_json.h"
#include "dp_util.h"

#define OB_COLS \
    "id, event_id, type, order_key, payload, state, attempts, next_attempt_at, created_at, " \
    "delivered_at, last_error"

/* every filter bound (NULL: any) */
#define OB_FILTER \
    " WHERE (%s IS NULL OR type = %s) AND (%s IS NULL OR state = %s) " \
    "AND (%s IS NULL OR order_key = %s)"

#define OB_NOW "UTC_TIMESTAMP(6)"

const dp_stmt_def_t dp_store_outbox_statements[] = {
    { "dockpay_outbox_add",
      "INSERT INTO outbox_events (event_id, type, order_key, payload, state, attempts, "
      "next_attempt_at, queued_at, created_at) VALUES (%s, %s, %s, %s, 'pending', 0, "
      OB_NOW ", " OB_NOW ", " OB_NOW ")" },
    /* the first pending event of each order only: the next one waits for it */
    { "dockpay_outbox_due",
      "SELECT e.id FROM outbox_events e WHERE e.state = 'pending' AND e.next_attempt_at <= " OB_NOW
      " AND (e.locked_until IS NULL OR e.locked_until < " OB_NOW ") AND NOT EXISTS (SELECT 1 "
      "FROM outbox_events p WHERE p.order_key = e.order_key AND p.state = 'pending' "
      "AND p.id < e.id) ORDER BY e.id LIMIT %d" },
    { "dockpay_outbox_claim",
      "UPDATE outbox_events SET locked_until = " OB_NOW " + INTERVAL %d SECOND, locked_by = %s "
      "WHERE id = %lld AND state = 'pending' AND next_attempt_at <= " OB_NOW
      " AND (locked_until IS NULL OR locked_until < " OB_NOW ")" },
    { "dockpay_outbox_load", "SELECT " OB_COLS " FROM outbox_events WHERE id = %lld" },
    { "dockpay_outbox_attempt",
      "INSERT INTO outbox_attempts (event_id, attempted_at, http_status, error, duration_ms) "
      "VALUES (%s, " OB_NOW ", %d, %s, %d)" },
    { "dockpay_outbox_delivered",
      "UPDATE outbox_events SET state = 'delivered', attempts = attempts + 1, delivered_at = "
      OB_NOW ", last_error = NULL, locked_until = NULL, locked_by = NULL "
      "WHERE id = %lld AND locked_by = %s" },
    { "dockpay_outbox_retry",
      "UPDATE outbox_events SET attempts = attempts + 1, last_error = %s, "
      "next_attempt_at = " OB_NOW " + INTERVAL %lld SECOND, "
      "state = IF(queued_at < " OB_NOW " - INTERVAL %lld SECOND, 'failed', 'pending'), "
      "locked_until = NULL, locked_by = NULL WHERE id = %lld AND locked_by = %s" },
    { "dockpay_outbox_get", "SELECT " OB_COLS " FROM outbox_events WHERE event_id = %s" },
    { "dockpay_outbox_count", "SELECT COUNT(*) FROM outbox_events" OB_FILTER },
    { "dockpay_outbox_list",
      "SELECT " OB_COLS " FROM outbox_events" OB_FILTER " ORDER BY id DESC LIMIT %lld OFFSET %lld" },
    { "dockpay_outbox_attempts",
      "SELECT attempted_at, http_status, error, duration_ms FROM outbox_attempts "
      "WHERE event_id = %s ORDER BY id" },
    { "dockpay_outbox_requeue",
      "UPDATE outbox_events SET state = 'pending', next_attempt_at = " OB_NOW ", queued_at = "
      OB_NOW ", delivered_at = NULL, locked_by = NULL WHERE event_id = %s" },
    { NULL, NULL }
};

/* Adds one pending event. */
apr_status_t dp_store_outbox_add(const char **pevent_id, dp_problem_t **pprob, dp_db_t *db,
                                 const char *type, const char *order_key, const char *payload_json)
{
    char hex[25];
    const char *id;
    const void *args[4];
    apr_status_t rv;

    if (pevent_id) *pevent_id = NULL;
    if (dp_random_hex(hex, 12) != APR_SUCCESS) {
        return dp_problem_fail(pprob, db->pool, 500, "internal_error", "no random bytes for an event id");
    }
    id = apr_pstrcat(db->pool, "evt_", hex, NULL);
    args[0] = id;
    args[1] = type;
    args[2] = dp_str_clean(db->pool, order_key ? order_key : "-", 80);
    args[3] = payload_json ? payload_json : "{}";
    rv = dp_store_exec(NULL, pprob, db, "dockpay_outbox_add", args);
    if (rv == APR_SUCCESS && pevent_id) *pevent_id = id;
    return rv;
}

/* Lists due event row ids. */
apr_status_t dp_store_outbox_due(apr_array_header_t **pids, dp_problem_t **pprob, dp_db_t *db,
                                 int limit)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[1];
    apr_status_t rv;

    *pids = apr_array_make(db->pool, 16, sizeof(apr_int64_t));
    args[0] = &limit;
    if ((rv = dp_store_select(&res, pprob, db, "dockpay_outbox_due", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        APR_ARRAY_PUSH(*pids, apr_int64_t) = dp_store_col_int(db, row, 0);
    }
    return APR_SUCCESS;
}

/* Claims one row for a worker. */
apr_status_t dp_store_outbox_claim(int *pclaimed, dp_problem_t **pprob, dp_db_t *db,
                                   apr_int64_t id, const char *worker, int lock_secs)
{
    const void *args[3];
    int n = 0;
    apr_status_t rv;

    args[0] = &lock_secs;
    args[1] = worker;
    args[2] = &id;
    rv = dp_store_exec(&n, pprob, db, "dockpay_outbox_claim", args);
    *pclaimed = (rv == APR_SUCCESS && n == 1);
    return rv;
}

/* Makes a record of one row selected with OB_COLS. */
static void *row_to_rec(dp_db_t *db, apr_dbd_row_t *row)
{
    dp_outbox_rec_t *r = apr_pcalloc(db->pool, sizeof(*r));
    int c = 0;

    r->id = dp_store_col_int(db, row, c++);
    r->event_id = dp_store_col(db, row, c++);
    r->type = dp_store_col(db, row, c++);
    r->order_key = dp_store_col(db, row, c++);
    r->payload = dp_store_col(db, row, c++);
    r->state = dp_store_col(db, row, c++);
    r->attempts = (int)dp_store_col_int(db, row, c++);
    r->next_attempt_at = dp_store_col(db, row, c++);
    r->created_at = dp_store_col(db, row, c++);
    r->delivered_at = dp_store_col(db, row, c++);
    r->last_error = dp_store_col(db, row, c++);
    return r;
}

/* Runs an OB_COLS select and collects every row. */
static apr_status_t select_recs(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                const char *label, const void **args)
{
    return dp_store_select_all(pitems, pprob, db, label, args, row_to_rec);
}

static apr_status_t select_one(dp_outbox_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                               const char *label, const void **args)
{
    return dp_store_select_first((void **)prec, pprob, db, label, args, row_to_rec);
}

/* Reads the event of row id. */
apr_status_t dp_store_outbox_load(dp_outbox_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                                  apr_int64_t id)
{
    const void *args[1];

    args[0] = &id;
    return select_one(prec, pprob, db, "dockpay_outbox_load", args);
}

/* Records one delivery attempt. */
apr_status_t dp_store_outbox_attempt(dp_problem_t **pprob, dp_db_t *db, const char *event_id,
                                     int http_status, const char *error, int duration_ms)
{
    const void *args[4];

    args[0] = event_id;
    args[1] = http_status > 0 ? (const void *)&http_status : NULL;
    args[2] = error ? dp_str_clean(db->pool, error, 255) : NULL;
    args[3] = &duration_ms;
    return dp_store_exec(NULL, pprob, db, "dockpay_outbox_attempt", args);
}

/* Marks a row delivered. */
apr_status_t dp_store_outbox_delivered(dp_problem_t **pprob, dp_db_t *db, apr_int64_t id,
                                       const char *worker)
{
    const void *args[2];

    args[0] = &id;
    args[1] = worker;
    return dp_store_exec(NULL, pprob, db, "dockpay_outbox_delivered", args);
}

/* Counts a failed attempt. */
apr_status_t dp_store_outbox_retry(dp_problem_t **pprob, dp_db_t *db, apr_int64_t id,
                                   const char *worker, const char *error, apr_int64_t delay_secs,
                                   apr_int64_t max_age_secs)
{
    const void *args[5];

    args[0] = error ? dp_str_clean(db->pool, error, 255) : NULL;
    args[1] = &delay_secs;
    args[2] = &max_age_secs;
    args[3] = &id;
    args[4] = worker;
    return dp_store_exec(NULL, pprob, db, "dockpay_outbox_retry", args);
}

/* Reads one event by its id. */
apr_status_t dp_store_outbox_get(dp_outbox_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                                 const char *event_id)
{
    const void *args[1];

    args[0] = event_id;
    return select_one(prec, pprob, db, "dockpay_outbox_get", args);
}

/* Lists events newest first. */
apr_status_t dp_store_outbox_list(apr_array_header_t **pitems, apr_int64_t *ptotal,
                                  dp_problem_t **pprob, dp_db_t *db, const char *type,
                                  const char *state, const char *order_key, apr_int64_t offset,
                                  apr_int64_t limit)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[8];
    apr_status_t rv;

    *pitems = NULL;
    *ptotal = 0;
    args[0] = args[1] = type;
    args[2] = args[3] = state;
    args[4] = args[5] = order_key;
    args[6] = &limit;
    args[7] = &offset;
    if ((rv = dp_store_select(&res, pprob, db, "dockpay_outbox_count", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        *ptotal = dp_store_col_int(db, row, 0);
    }
    return select_recs(pitems, pprob, db, "dockpay_outbox_list", args);
}

/* Reads the delivery attempts of an event. */
apr_status_t dp_store_outbox_attempts(json_object **pitems, dp_problem_t **pprob, dp_db_t *db,
                                      const char *event_id)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[1];
    apr_status_t rv;

    *pitems = dp_json_array(db->pool);
    args[0] = event_id;
    if ((rv = dp_store_select(&res, pprob, db, "dockpay_outbox_attempts", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        json_object *a = json_object_new_object();
        const char *at = apr_dbd_get_entry(db->driver, row, 0);
        const char *st = apr_dbd_get_entry(db->driver, row, 1);
        const char *err = apr_dbd_get_entry(db->driver, row, 2);
        const char *ms = apr_dbd_get_entry(db->driver, row, 3);
        char *iso = at ? apr_pstrcat(db->pool, at, "Z", NULL) : NULL;

        if (iso && strlen(iso) > 10 && iso[10] == ' ') iso[10] = 'T';
        json_object_object_add(a, "at", iso ? json_object_new_string(iso) : NULL);
        json_object_object_add(a, "http_status", st ? json_object_new_int(atoi(st)) : NULL);
        json_object_object_add(a, "error", err ? json_object_new_string(err) : NULL);
        json_object_object_add(a, "duration_ms", json_object_new_int(ms ? atoi(ms) : 0));
        json_object_array_add(*pitems, a);
    }
    return APR_SUCCESS;
}

/* Queues an event again. */
apr_status_t dp_store_outbox_requeue(dp_problem_t **pprob, dp_db_t *db, const char *event_id)
{
    const void *args[1];

    args[0] = event_id;
    return dp_store_exec(NULL, pprob, db, "dockpay_outbox_requeue", args);
}
