/* dp_store_pay: payment, cancellation and webhook records (db/migrations/002_payments.sql).
 * One labelled statement per row of the table below, one typed function per statement. */
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_atomic.h>

#include "dp_store.h"
#include "dp_store_pay.h"

#define PAY_COLS \
    "merchant_uid, imp_uid, prepared_amount, prepared_at_portone, amount, cancelled_amount, " \
    "currency, status, method, pg_provider, name, vbank_code, vbank_name, vbank_num, " \
    "vbank_holder, vbank_due, buyer_name, buyer_email, buyer_tel, paid_at, failed_at, " \
    "cancelled_at, created_at, updated_at"

/* the date range is always bound (the whole range when not asked for); with a status the
 * (status, created_at) index serves both the range and the order */
#define PAY_RANGE " created_at >= %s AND created_at < %s"
#define PAY_PAGE " ORDER BY created_at DESC, id DESC LIMIT %lld OFFSET %lld"

const dp_stmt_def_t dp_store_pay_statements[] = {
    { "dockpay_pay_get", "SELECT " PAY_COLS " FROM payments WHERE merchant_uid = %s" },
    { "dockpay_pay_get_lock", "SELECT " PAY_COLS " FROM payments WHERE merchant_uid = %s FOR UPDATE" },
    { "dockpay_pay_get_imp", "SELECT " PAY_COLS " FROM payments WHERE imp_uid = %s" },
    { "dockpay_pay_ensure",
      "INSERT IGNORE INTO payments (merchant_uid, status, created_at, updated_at) "
      "VALUES (%s, 'prepared', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))" },
    { "dockpay_pay_set_prepared",
      "UPDATE payments SET prepared_amount = COALESCE(prepared_amount, %lld), "
      "prepared_at_portone = GREATEST(prepared_at_portone, %d), updated_at = UTC_TIMESTAMP(6) "
      "WHERE merchant_uid = %s" },
    { "dockpay_pay_save",
      "UPDATE payments SET imp_uid = %s, amount = %lld, cancelled_amount = %lld, currency = %s, "
      "status = %s, method = %s, pg_provider = %s, name = %s, vbank_code = %s, vbank_name = %s, "
      "vbank_num = %s, vbank_holder = %s, vbank_due = %lld, buyer_name = %s, buyer_email = %s, "
      "buyer_tel = %s, paid_at = %lld, failed_at = %lld, cancelled_at = %lld, "
      "updated_at = UTC_TIMESTAMP(6) WHERE merchant_uid = %s" },
    /* totals: without a date range from the trigger-kept counts (004_payment_totals.sql) */
    { "dockpay_pay_total", "SELECT COALESCE(SUM(n), 0) FROM payment_totals" },
    { "dockpay_pay_total_status", "SELECT COALESCE(SUM(n), 0) FROM payment_totals WHERE status = %s" },
    { "dockpay_pay_count", "SELECT COUNT(*) FROM payments WHERE" PAY_RANGE },
    { "dockpay_pay_count_status", "SELECT COUNT(*) FROM payments WHERE status = %s AND" PAY_RANGE },
    { "dockpay_pay_list", "SELECT " PAY_COLS " FROM payments WHERE" PAY_RANGE PAY_PAGE },
    { "dockpay_pay_list_status",
      "SELECT " PAY_COLS " FROM payments WHERE status = %s AND" PAY_RANGE PAY_PAGE },
    { "dockpay_pay_cancel_add",
      "INSERT IGNORE INTO payment_cancellations (cancellation_id, merchant_uid, imp_uid, amount, "
      "reason, pg_tid, cancelled_at, created_at) VALUES (%s, %s, %s, %lld, %s, %s, %lld, "
      "UTC_TIMESTAMP(6))" },
    { "dockpay_webhook_record",
      "INSERT INTO webhook_events (dedupe_key, received_at, updated_at, source_ip, imp_uid, "
      "merchant_uid, status, cancellation_id, body) VALUES (%s, UTC_TIMESTAMP(6), "
      "UTC_TIMESTAMP(6), %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE attempts = attempts + 1" },
    { "dockpay_webhook_claim",
      "UPDATE webhook_events SET outcome = 'processing', updated_at = UTC_TIMESTAMP(6) "
      "WHERE dedupe_key = %s AND (outcome IN ('received', 'pending') OR (outcome = 'processing' "
      "AND updated_at < UTC_TIMESTAMP(6) - INTERVAL 45 SECOND))" },
    { "dockpay_webhook_finish",
      "UPDATE webhook_events SET outcome = %s, detail = %s, updated_at = UTC_TIMESTAMP(6) "
      "WHERE dedupe_key = %s" },
    { "dockpay_webhook_outcome", "SELECT outcome FROM webhook_events WHERE dedupe_key = %s" },
    { NULL, NULL }
};

/* Makes a record of one row selected with PAY_COLS. */
static void *row_to_rec(dp_db_t *db, apr_dbd_row_t *row)
{
    dp_pay_rec_t *r = apr_pcalloc(db->pool, sizeof(*r));
    int c = 0;

    r->merchant_uid = dp_store_col(db, row, c++);
    r->imp_uid = dp_store_col(db, row, c++);
    r->has_prepared = apr_dbd_get_entry(db->driver, row, c) != NULL;
    r->prepared_amount = dp_store_col_int(db, row, c++);
    r->prepared_at_portone = (int)dp_store_col_int(db, row, c++);
    r->has_amount = apr_dbd_get_entry(db->driver, row, c) != NULL;
    r->amount = dp_store_col_int(db, row, c++);
    r->cancelled_amount = dp_store_col_int(db, row, c++);
    r->currency = dp_store_col(db, row, c++);
    r->status = dp_store_col(db, row, c++);
    r->method = dp_store_col(db, row, c++);
    r->pg_provider = dp_store_col(db, row, c++);
    r->name = dp_store_col(db, row, c++);
    r->vbank_code = dp_store_col(db, row, c++);
    r->vbank_name = dp_store_col(db, row, c++);
    r->vbank_num = dp_store_col(db, row, c++);
    r->vbank_holder = dp_store_col(db, row, c++);
    r->vbank_due = dp_store_col_int(db, row, c++);
    r->buyer_name = dp_store_col(db, row, c++);
    r->buyer_email = dp_store_col(db, row, c++);
    r->buyer_tel = dp_store_col(db, row, c++);
    r->paid_at = dp_store_col_int(db, row, c++);
    r->failed_at = dp_store_col_int(db, row, c++);
    r->cancelled_at = dp_store_col_int(db, row, c++);
    r->created_at = dp_store_col(db, row, c++);
    r->updated_at = dp_store_col(db, row, c++);
    return r;
}

/* Runs a PAY_COLS select and collects every row (results must be read to the end). */
static apr_status_t select_recs(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                const char *label, const void **args)
{
    return dp_store_select_all(pitems, pprob, db, label, args, row_to_rec);
}

static apr_status_t select_one_rec(dp_pay_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                                   const char *label, const char *key)
{
    const void *args[1];

    args[0] = key;
    return dp_store_select_first((void **)prec, pprob, db, label, args, row_to_rec);
}

/* Reads the order of merchant_uid. */
apr_status_t dp_store_pay_get(dp_pay_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                              const char *merchant_uid, int lock)
{
    return select_one_rec(prec, pprob, db, lock ? "dockpay_pay_get_lock" : "dockpay_pay_get",
                          merchant_uid);
}

/* Reads the order that holds imp_uid. */
apr_status_t dp_store_pay_get_by_imp(dp_pay_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                                     const char *imp_uid)
{
    return select_one_rec(prec, pprob, db, "dockpay_pay_get_imp", imp_uid);
}

/* The payments-table change count (see dp_store_pay_set_counter); NULL: not counted. */
static volatile apr_uint32_t *pay_changes;

/* Sets the counter (shared memory, before the children fork). */
void dp_store_pay_set_counter(volatile apr_uint32_t *counter)
{
    pay_changes = counter;
}

/* Returns the payments-table change count (0 when none is set). */
apr_uint32_t dp_store_pay_changes(void)
{
    return pay_changes ? apr_atomic_read32(pay_changes) : 0;
}

/* Counts a change again when its transaction ends (now visible to other connections). */
static void count_at_tx_end(dp_db_t *db)
{
    (void)db;
    if (pay_changes) {
        apr_atomic_inc32(pay_changes);
    }
}

/* Runs a write to the payments table: every such write goes through here, so that memoised
 * payment pages of an older count are not used. Counted after the write and again when the
 * connection's transaction ends. */
static apr_status_t pay_exec(int *pnrows, dp_problem_t **pprob, dp_db_t *db, const char *label,
                             const void **args)
{
    int nrows = 0;
    apr_status_t rv = dp_store_exec(&nrows, pprob, db, label, args);

    if (pnrows) {
        *pnrows = nrows;
    }
    if (rv == APR_SUCCESS && nrows > 0 && pay_changes) {
        apr_atomic_inc32(pay_changes);
        db->on_tx_end = count_at_tx_end;
    }
    return rv;
}

/* Creates an empty order row unless it exists. */
apr_status_t dp_store_pay_ensure(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid)
{
    const void *args[1];

    args[0] = merchant_uid;
    return pay_exec(NULL, pprob, db, "dockpay_pay_ensure", args);
}

/* Sets the expected amount when unset and marks the PortOne registration. */
apr_status_t dp_store_pay_set_prepared(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid,
                                       apr_int64_t amount, int at_portone)
{
    const void *args[3];
    int flag = at_portone ? 1 : 0;

    args[0] = &amount;
    args[1] = &flag;
    args[2] = merchant_uid;
    return pay_exec(NULL, pprob, db, "dockpay_pay_set_prepared", args);
}

/* NULL for 0 (no such time / no value), else a pointer to v. */
#define OPT_INT(v) ((v) ? (const void *)&(v) : NULL)

/* Writes the PortOne-derived columns of rec. */
apr_status_t dp_store_pay_save(dp_problem_t **pprob, dp_db_t *db, const dp_pay_rec_t *rec)
{
    const void *args[20];
    int i = 0;

    args[i++] = rec->imp_uid;
    args[i++] = rec->has_amount ? (const void *)&rec->amount : NULL;
    args[i++] = &rec->cancelled_amount;
    args[i++] = rec->currency ? rec->currency : "KRW";
    args[i++] = rec->status;
    args[i++] = rec->method;
    args[i++] = rec->pg_provider;
    args[i++] = rec->name;
    args[i++] = rec->vbank_code;
    args[i++] = rec->vbank_name;
    args[i++] = rec->vbank_num;
    args[i++] = rec->vbank_holder;
    args[i++] = OPT_INT(rec->vbank_due);
    args[i++] = rec->buyer_name;
    args[i++] = rec->buyer_email;
    args[i++] = rec->buyer_tel;
    args[i++] = OPT_INT(rec->paid_at);
    args[i++] = OPT_INT(rec->failed_at);
    args[i++] = OPT_INT(rec->cancelled_at);
    args[i++] = rec->merchant_uid;
    return pay_exec(NULL, pprob, db, "dockpay_pay_save", args);
}

/* Lists orders newest first. */
apr_status_t dp_store_pay_list(apr_array_header_t **pitems, apr_int64_t *ptotal,
                               dp_problem_t **pprob, dp_db_t *db, const char *status,
                               const char *from, const char *to, apr_int64_t offset,
                               apr_int64_t limit)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[5];
    const void **range = status ? args + 1 : args;   /* the arguments after the status */
    const char *total_label;
    apr_status_t rv;

    *ptotal = 0;
    *pitems = NULL;
    args[0] = status;
    range[0] = from ? from : "1000-01-01 00:00:00";
    range[1] = to ? to : "9999-12-31 23:59:59";
    range[2] = &limit;
    range[3] = &offset;
    if (from || to) {
        total_label = status ? "dockpay_pay_count_status" : "dockpay_pay_count";
    }
    else {
        total_label = status ? "dockpay_pay_total_status" : "dockpay_pay_total";
    }
    if ((rv = dp_store_select(&res, pprob, db, total_label, args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        *ptotal = dp_store_col_int(db, row, 0);
    }
    return select_recs(pitems, pprob, db, status ? "dockpay_pay_list_status" : "dockpay_pay_list", args);
}

/* Records one cancellation unless known. */
apr_status_t dp_store_pay_cancel_add(int *pinserted, dp_problem_t **pprob, dp_db_t *db,
                                     const char *cancellation_id, const char *merchant_uid,
                                     const char *imp_uid, apr_int64_t amount, const char *reason,
                                     const char *pg_tid, apr_int64_t cancelled_at)
{
    const void *args[7];
    int n = 0;
    apr_status_t rv;

    args[0] = cancellation_id;
    args[1] = merchant_uid;
    args[2] = imp_uid;
    args[3] = &amount;
    args[4] = reason;
    args[5] = pg_tid;
    args[6] = OPT_INT(cancelled_at);
    rv = pay_exec(&n, pprob, db, "dockpay_pay_cancel_add", args);
    if (pinserted) *pinserted = (rv == APR_SUCCESS && n > 0);
    return rv;
}

/* Records a received webhook or counts one more attempt. */
apr_status_t dp_store_webhook_record(dp_problem_t **pprob, dp_db_t *db, const char *dedupe_key,
                                     const char *source_ip, const char *imp_uid,
                                     const char *merchant_uid, const char *status,
                                     const char *cancellation_id, const char *body)
{
    const void *args[7];

    args[0] = dedupe_key;
    args[1] = source_ip ? source_ip : "";
    args[2] = imp_uid;
    args[3] = merchant_uid;
    args[4] = status;
    args[5] = cancellation_id;
    args[6] = body ? body : "";
    return dp_store_exec(NULL, pprob, db, "dockpay_webhook_record", args);
}

/* Claims an event for processing. */
apr_status_t dp_store_webhook_claim(int *pclaimed, dp_problem_t **pprob, dp_db_t *db,
                                    const char *dedupe_key)
{
    const void *args[1];
    int n = 0;
    apr_status_t rv;

    args[0] = dedupe_key;
    rv = dp_store_exec(&n, pprob, db, "dockpay_webhook_claim", args);
    *pclaimed = (rv == APR_SUCCESS && n > 0);
    return rv;
}

/* Sets an event's outcome and detail. */
apr_status_t dp_store_webhook_finish(dp_problem_t **pprob, dp_db_t *db, const char *dedupe_key,
                                     const char *outcome, const char *detail)
{
    const void *args[3];

    args[0] = outcome;
    args[1] = detail ? apr_pstrndup(db->pool, detail, 255) : NULL;
    args[2] = dedupe_key;
    return dp_store_exec(NULL, pprob, db, "dockpay_webhook_finish", args);
}

/* Reads an event's outcome. */
apr_status_t dp_store_webhook_outcome(const char **poutcome, dp_problem_t **pprob, dp_db_t *db,
                                      const char *dedupe_key)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[1];
    apr_status_t rv;

    *poutcome = NULL;
    args[0] = dedupe_key;
    if ((rv = dp_store_select(&res, pprob, db, "dockpay_webhook_outcome", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        *poutcome = dp_store_col(db, row, 0);
    }
    return APR_SUCCESS;
}
