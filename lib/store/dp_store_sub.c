/* dp_store_sub: billing key and schedule records through labelled statements. */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "dp_store_sub.h"
#include "dp_json.h"

/* Columns of the list query, in order. */
enum {
    L_CUSTOMER_UID, L_PG_PROVIDER, L_PG_ID, L_CARD_NAME, L_CARD_CODE, L_CARD_NUMBER,
    L_CREATED_AT, L_UPDATED_AT, L_DELETED_AT,
    L_MERCHANT_UID, L_SCHEDULE_AT, L_AMOUNT, L_NAME, L_STATUS, L_IMP_UID, L_S_CREATED_AT,
    L_EXECUTED_AT, L_REVOKED_AT
};

const dp_stmt_def_t dp_store_sub_statements[] = {
    { "sub_key_save",
      "INSERT INTO billing_keys (customer_uid, pg_provider, pg_id, card_name, card_code, "
      "card_number, created_at, updated_at, deleted_at) VALUES (%s, %s, %s, %s, %s, %s, %lld, %lld, NULL) "
      "ON DUPLICATE KEY UPDATE pg_provider = VALUES(pg_provider), pg_id = VALUES(pg_id), "
      "card_name = VALUES(card_name), card_code = VALUES(card_code), "
      "card_number = VALUES(card_number), updated_at = VALUES(updated_at), deleted_at = NULL" },
    { "sub_key_deleted",
      "UPDATE billing_keys SET deleted_at = %lld WHERE customer_uid = %s AND deleted_at IS NULL" },
    { "sub_key_count", "SELECT COUNT(*) FROM billing_keys" },
    { "sub_key_page",
      "SELECT k.customer_uid, k.pg_provider, k.pg_id, k.card_name, k.card_code, k.card_number, "
      "k.created_at, k.updated_at, k.deleted_at, s.merchant_uid, s.schedule_at, s.amount, s.name, "
      "s.status, s.imp_uid, s.created_at, s.executed_at, s.revoked_at "
      "FROM (SELECT * FROM billing_keys ORDER BY created_at DESC, customer_uid LIMIT %d OFFSET %d) k "
      "LEFT JOIN subscription_schedules s ON s.customer_uid = k.customer_uid "
      "ORDER BY k.created_at DESC, k.customer_uid, s.schedule_at, s.id" },
    /* billing (issue 15): GET /subscriptions?state=: keys whose customer is in a billing state
     * (no billing_customers row: active) */
    { "sub_key_count_state",
      "SELECT COUNT(*) FROM billing_keys k LEFT JOIN billing_customers b ON b.customer_uid = k.customer_uid "
      "WHERE COALESCE(b.state, 'active') = %s" },
    { "sub_key_page_state",
      "SELECT k.customer_uid, k.pg_provider, k.pg_id, k.card_name, k.card_code, k.card_number, "
      "k.created_at, k.updated_at, k.deleted_at, s.merchant_uid, s.schedule_at, s.amount, s.name, "
      "s.status, s.imp_uid, s.created_at, s.executed_at, s.revoked_at "
      "FROM (SELECT k0.* FROM billing_keys k0 LEFT JOIN billing_customers b ON b.customer_uid = k0.customer_uid "
      "WHERE COALESCE(b.state, 'active') = %s ORDER BY k0.created_at DESC, k0.customer_uid LIMIT %d OFFSET %d) k "
      "LEFT JOIN subscription_schedules s ON s.customer_uid = k.customer_uid "
      "ORDER BY k.created_at DESC, k.customer_uid, s.schedule_at, s.id" },
    { "sub_schedule_save",
      "INSERT INTO subscription_schedules (customer_uid, merchant_uid, schedule_at, amount, name, "
      "status, imp_uid, executed_at, revoked_at, created_at) "
      "VALUES (%s, %s, %lld, %lld, %s, %s, %s, %lld, %lld, %lld) "
      "ON DUPLICATE KEY UPDATE customer_uid = VALUES(customer_uid), "
      "schedule_at = VALUES(schedule_at), amount = VALUES(amount), name = VALUES(name), "
      "status = VALUES(status), imp_uid = VALUES(imp_uid), executed_at = VALUES(executed_at), "
      "revoked_at = VALUES(revoked_at)" },
    { "sub_schedule_paid",
      "UPDATE subscription_schedules SET status = 'executed', imp_uid = %s, "
      "executed_at = COALESCE(executed_at, %lld) WHERE merchant_uid = %s AND status <> 'executed'" },
    { "sub_schedule_failed",
      "UPDATE subscription_schedules SET status = 'failed', imp_uid = %s, "
      "executed_at = COALESCE(executed_at, %lld) "
      "WHERE merchant_uid = %s AND status IN ('scheduled', 'failed') "
      "AND NOT (status = 'failed' AND imp_uid <=> %s)" },
    /* outbox: a schedule's status before a change (the event is written when it changes) */
    { "sub_schedule_status", "SELECT status FROM subscription_schedules WHERE merchant_uid = %s FOR UPDATE" },
    { NULL, NULL }
};

/* Records an issued billing key. */
apr_status_t dp_store_sub_key_save(dp_problem_t **pprob, dp_db_t *db, const dp_sub_key_rec_t *k,
                                   apr_int64_t now)
{
    const void *args[8];

    args[0] = k->customer_uid;
    args[1] = k->pg_provider;
    args[2] = k->pg_id;
    args[3] = k->card_name;
    args[4] = k->card_code;
    args[5] = k->card_number;
    args[6] = &now;
    args[7] = &now;
    return dp_store_exec(NULL, pprob, db, "sub_key_save", args);
}

/* Marks a billing key deleted. */
apr_status_t dp_store_sub_key_deleted(int *pchanged, dp_problem_t **pprob, dp_db_t *db,
                                      const char *customer_uid, apr_int64_t now)
{
    const void *args[2];
    int n = 0;
    apr_status_t rv;

    args[0] = &now;
    args[1] = customer_uid;
    rv = dp_store_exec(&n, pprob, db, "sub_key_deleted", args);
    if (pchanged) {
        *pchanged = n > 0;
    }
    return rv;
}

/* Sets member key of o to column col of row as a string (JSON null for SQL NULL). */
static void set_col_str(json_object *o, const char *key, dp_db_t *db, apr_dbd_row_t *row, int col)
{
    const char *v = apr_dbd_get_entry(db->driver, row, col);
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* Sets member key of o to column col of row as an integer (JSON null for SQL NULL). */
static void set_col_int(json_object *o, const char *key, dp_db_t *db, apr_dbd_row_t *row, int col)
{
    const char *v = apr_dbd_get_entry(db->driver, row, col);
    json_object_object_add(o, key, v ? json_object_new_int64(apr_atoi64(v)) : NULL);
}

/* Builds the JSON of the billing key in row (with an empty "schedules" array). */
static json_object *key_json(dp_db_t *db, apr_dbd_row_t *row)
{
    json_object *k = json_object_new_object();

    set_col_str(k, "customer_uid", db, row, L_CUSTOMER_UID);
    set_col_str(k, "pg_provider", db, row, L_PG_PROVIDER);
    set_col_str(k, "pg_id", db, row, L_PG_ID);
    set_col_str(k, "card_name", db, row, L_CARD_NAME);
    set_col_str(k, "card_code", db, row, L_CARD_CODE);
    set_col_str(k, "card_number", db, row, L_CARD_NUMBER);
    set_col_int(k, "created_at", db, row, L_CREATED_AT);
    set_col_int(k, "updated_at", db, row, L_UPDATED_AT);
    set_col_int(k, "deleted_at", db, row, L_DELETED_AT);
    json_object_object_add(k, "schedules", json_object_new_array());
    return k;
}

/* Builds the JSON of the schedule in row. */
static json_object *schedule_json(dp_db_t *db, apr_dbd_row_t *row)
{
    json_object *s = json_object_new_object();

    set_col_str(s, "merchant_uid", db, row, L_MERCHANT_UID);
    set_col_int(s, "schedule_at", db, row, L_SCHEDULE_AT);
    set_col_int(s, "amount", db, row, L_AMOUNT);
    set_col_str(s, "name", db, row, L_NAME);
    set_col_str(s, "status", db, row, L_STATUS);
    set_col_str(s, "imp_uid", db, row, L_IMP_UID);
    set_col_int(s, "created_at", db, row, L_S_CREATED_AT);
    set_col_int(s, "executed_at", db, row, L_EXECUTED_AT);
    set_col_int(s, "revoked_at", db, row, L_REVOKED_AT);
    return s;
}

/* Reads one page of billing keys with their schedules. */
apr_status_t dp_store_sub_list(json_object **pitems, apr_int64_t *ptotal, dp_problem_t **pprob,
                               dp_db_t *db, int page, int limit, const char *state)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    json_object *items = dp_json_array(db->pool), *key = NULL;
    const char *last_uid = NULL;
    const void *args[3];
    int offset = (page - 1) * limit;
    apr_status_t rv;

    *pitems = NULL;
    *ptotal = 0;
    args[0] = state;
    if ((rv = dp_store_select(&res, pprob, db, state ? "sub_key_count_state" : "sub_key_count",
                              state ? args : NULL)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        *ptotal = dp_store_col_int(db, row, 0);
    }
    if (state) {
        args[1] = &limit;
        args[2] = &offset;
    }
    else {
        args[0] = &limit;
        args[1] = &offset;
    }
    if ((rv = dp_store_select(&res, pprob, db, state ? "sub_key_page_state" : "sub_key_page", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        const char *uid = apr_dbd_get_entry(db->driver, row, L_CUSTOMER_UID);
        if (key == NULL || strcmp(uid, last_uid) != 0) {
            key = key_json(db, row);
            json_object_array_add(items, key);
            last_uid = apr_pstrdup(db->pool, uid);
        }
        if (apr_dbd_get_entry(db->driver, row, L_MERCHANT_UID) != NULL) {
            json_object_array_add(dp_json_get(key, "schedules"), schedule_json(db, row));
        }
    }
    *pitems = items;
    return APR_SUCCESS;
}

/* Records a schedule as PortOne reported it. */
apr_status_t dp_store_sub_schedule_save(dp_problem_t **pprob, dp_db_t *db,
                                        const dp_sub_sched_rec_t *s, apr_int64_t now)
{
    const void *args[10];

    args[0] = s->customer_uid;
    args[1] = s->merchant_uid;
    args[2] = &s->schedule_at;
    args[3] = &s->amount;
    args[4] = s->name;
    args[5] = s->status;
    args[6] = s->imp_uid;
    args[7] = s->executed_at > 0 ? &s->executed_at : NULL;
    args[8] = s->revoked_at > 0 ? &s->revoked_at : NULL;
    args[9] = &now;
    return dp_store_exec(NULL, pprob, db, "sub_schedule_save", args);
}

/* Applies a payment result to a schedule. */
apr_status_t dp_store_sub_schedule_result(int *pnrows, dp_problem_t **pprob, dp_db_t *db,
                                          const char *merchant_uid, const char *imp_uid, int paid,
                                          apr_int64_t now)
{
    const void *args[4];

    args[0] = imp_uid;
    args[1] = &now;
    args[2] = merchant_uid;
    args[3] = imp_uid;
    return dp_store_exec(pnrows, pprob, db, paid ? "sub_schedule_paid" : "sub_schedule_failed", args);
}

/* Reads (and locks) the status of the schedule of merchant_uid (outbox). */
apr_status_t dp_store_sub_schedule_status(const char **pstatus, dp_problem_t **pprob, dp_db_t *db,
                                          const char *merchant_uid)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[1];
    apr_status_t rv;

    *pstatus = NULL;
    args[0] = merchant_uid;
    if ((rv = dp_store_select(&res, pprob, db, "sub_schedule_status", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        *pstatus = dp_store_col(db, row, 0);
    }
    return APR_SUCCESS;
}
