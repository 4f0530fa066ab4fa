/* dp_store_pay: typed access to the payment records (db/migrations/002_payments.sql):
 * orders/payments by merchant_uid, cancellations, webhook events. */
#ifndef DP_STORE_PAY_H
#define DP_STORE_PAY_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "dp_store.h"

/* One row of payments. Times from PortOne are unix seconds (0: none). */
typedef struct dp_pay_rec_t {
    const char *merchant_uid;
    const char *imp_uid;             /* NULL until a payment is known */
    int has_prepared;
    apr_int64_t prepared_amount;
    int prepared_at_portone;
    int has_amount;
    apr_int64_t amount;
    apr_int64_t cancelled_amount;
    const char *currency;
    const char *status;              /* prepared, ready, failed, paid, cancelled */
    const char *method;
    const char *pg_provider;
    const char *name;
    const char *vbank_code, *vbank_name, *vbank_num, *vbank_holder;
    apr_int64_t vbank_due;
    const char *buyer_name, *buyer_email, *buyer_tel;
    apr_int64_t paid_at, failed_at, cancelled_at;
    const char *created_at;          /* "YYYY-MM-DD HH:MM:SS.ffffff" UTC */
    const char *updated_at;
} dp_pay_rec_t;

/* Reads the order of merchant_uid (*prec NULL when none); lock: SELECT ... FOR UPDATE. */
apr_status_t dp_store_pay_get(dp_pay_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                              const char *merchant_uid, int lock);

/* Reads the order that holds imp_uid (*prec NULL when none). */
apr_status_t dp_store_pay_get_by_imp(dp_pay_rec_t **prec, dp_problem_t **pprob, dp_db_t *db,
                                     const char *imp_uid);

/* Sets the payments-table change count (shared memory made before the children fork, or
 * NULL): every write to the payments table through this store bumps it, after the write and
 * again when its transaction ends, so that GET /payments pages memoised at an older count
 * are not used. Write the payments table only through this store's functions. */
void dp_store_pay_set_counter(volatile apr_uint32_t *counter);

/* Returns the payments-table change count (0 when no counter is set). */
apr_uint32_t dp_store_pay_changes(void);

/* Creates an empty order row (status prepared) for merchant_uid unless it exists. */
apr_status_t dp_store_pay_ensure(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid);

/* Sets the expected amount when unset, and marks the prepare as registered at PortOne when
 * at_portone is true. */
apr_status_t dp_store_pay_set_prepared(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid,
                                       apr_int64_t amount, int at_portone);

/* Writes the PortOne-derived columns of rec (imp_uid, amounts, status, method, vbank, buyer,
 * times) to its row. */
apr_status_t dp_store_pay_save(dp_problem_t **pprob, dp_db_t *db, const dp_pay_rec_t *rec);

/* Lists orders newest first: status NULL for all, from/to UTC "YYYY-MM-DD HH:MM:SS" bounds
 * (from inclusive, to exclusive; NULL: unbounded); *pitems holds dp_pay_rec_t*; *ptotal counts
 * every matching order (without a range, from the trigger-kept payment_totals). */
apr_status_t dp_store_pay_list(apr_array_header_t **pitems, apr_int64_t *ptotal,
                               dp_problem_t **pprob, dp_db_t *db, const char *status,
                               const char *from, const char *to, apr_int64_t offset,
                               apr_int64_t limit);

/* Records one cancellation unless its cancellation_id is known; *pinserted may be NULL. */
apr_status_t dp_store_pay_cancel_add(int *pinserted, dp_problem_t **pprob, dp_db_t *db,
                                     const char *cancellation_id, const char *merchant_uid,
                                     const char *imp_uid, apr_int64_t amount, const char *reason,
                                     const char *pg_tid, apr_int64_t cancelled_at);

/* Records a received webhook, or counts one more attempt of a known one (same dedupe key). */
apr_status_t dp_store_webhook_record(dp_problem_t **pprob, dp_db_t *db, const char *dedupe_key,
                                     const char *source_ip, const char *imp_uid,
                                     const char *merchant_uid, const char *status,
                                     const char *cancellation_id, const char *body);

/* Claims an event for processing: *pclaimed is 1 when its outcome was received or pending
 * (or processing for more than 45 s) and is now processing. */
apr_status_t dp_store_webhook_claim(int *pclaimed, dp_problem_t **pprob, dp_db_t *db,
                                    const char *dedupe_key);

/* Sets an event's outcome and detail. */
apr_status_t dp_store_webhook_finish(dp_problem_t **pprob, dp_db_t *db, const char *dedupe_key,
                                     const char *outcome, const char *detail);

/* Reads an event's outcome (NULL when unknown). */
apr_status_t dp_store_webhook_outcome(const char **poutcome, dp_problem_t **pprob, dp_db_t *db,
                                      const char *dedupe_key);

#endif
