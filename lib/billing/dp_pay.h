/* dp_pay: payment logic on top of the PortOne client and the payment records: lookups,
 * prepare, cancel, virtual accounts, verification, the local list and webhook processing.
 * Handlers only map HTTP to these calls. */
#ifndef DP_PAY_H
#define DP_PAY_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_problem.h"
#include "dp_portone.h"
#include "dp_store.h"

/* ------------------------------------------------------------------------------------------ */
/* pure rules (unit-tested) */

/* A payment's status, in the forward-only order (the value is the rank); the strings
 * ("prepared", "ready", "failed", "paid", "cancelled") are the database's and PortOne's, in one
 * table in dp_pay.c. */
typedef enum dp_pay_status_t {
    DP_PAY_UNKNOWN = -1,         /* NULL or any other string */
    DP_PAY_PREPARED = 0,
    DP_PAY_READY,
    DP_PAY_FAILED,
    DP_PAY_PAID,
    DP_PAY_CANCELLED
} dp_pay_status_t;

/* Returns the status named s (DP_PAY_UNKNOWN for NULL or another string). */
dp_pay_status_t dp_pay_status_of(const char *s);

/* What recording a payment or applying a webhook did. The strings (dp_pay_outcome_str, one
 * table in dp_pay.c) are stored in webhook_events.outcome and answered as the webhook's
 * "outcome"; docs: README "Webhooks", openapi.json. */
typedef enum dp_pay_outcome_t {
    DP_OUTCOME_APPLIED,           /* "applied": the order took the payment's state */
    DP_OUTCOME_STALE,             /* "stale": the order already shows a later state; unchanged */
    DP_OUTCOME_UNKNOWN_ORDER,     /* "unknown_order": no order with an expected amount */
    DP_OUTCOME_AMOUNT_MISMATCH,   /* "amount_mismatch": not attached (auto-cancel may cancel) */
    DP_OUTCOME_CURRENCY_MISMATCH, /* "currency_mismatch": not KRW, handled like an amount mismatch */
    DP_OUTCOME_OTHER_PAYMENT,     /* "other_payment": the order is paid by another payment */
    DP_OUTCOME_MISMATCH,          /* "mismatch": PortOne's merchant_uid differs from the event's */
    DP_OUTCOME_UNKNOWN_PAYMENT,   /* "unknown_payment": PortOne does not know the imp_uid */
    DP_OUTCOME_PENDING,           /* "pending": not applied yet (PortOne or the database failed) */
    DP_OUTCOME_FAILED             /* "failed": an event the reconciler gave up on (too old) */
} dp_pay_outcome_t;

/* Returns the stored/answered string of outcome o. */
const char *dp_pay_outcome_str(dp_pay_outcome_t o);

/* Rank of a local status in the forward-only order prepared < ready < failed < paid <
 * cancelled; -1 for anything else (the value of dp_pay_status_of). */
int dp_pay_status_rank(const char *status);

/* True when a record in status cur may take status next (same or later in the order). */
int dp_pay_status_advances(const char *cur, const char *next);

/* Normalises a bank code (3-digit KFTC "004", 2-digit "04", or "BK04") to the 3-digit code of
 * the table of docs/portone-v1.md §7.1 (in p), or NULL when it is none of them. */
const char *dp_pay_bank_normalise(apr_pool_t *p, const char *code);

/* Returns the bank's name for a 3-digit code, or NULL. */
const char *dp_pay_bank_name(const char *code3);

/* True when s is a valid imp_uid: 1..32 characters of [A-Za-z0-9._:-]. */
int dp_pay_valid_imp_uid(const char *s);

/* True when s is a valid merchant_uid: 1..40 bytes of UTF-8, no control characters, no '/'. */
int dp_pay_valid_merchant_uid(const char *s);

/* Reads an amount member (an integer, or a number with no fraction) into *pval; 0 if absent. */
int dp_pay_json_amount(apr_int64_t *pval, json_object *o, const char *key);

/* Outcome of comparing PortOne's amount with what the server expects. */
typedef enum {
    DP_VERIFY_OK = 0,          /* actual equals every expectation */
    DP_VERIFY_MISMATCH,        /* actual differs from an expectation */
    DP_VERIFY_NO_EXPECTATION   /* nothing to compare with (no prepared amount, none given) */
} dp_verify_t;

/* The currency of every order this server prices. */
#define DP_PAY_CURRENCY "KRW"

/* idem: reads the optional request field key (a currency code) of body into *pval (NULL when
 * absent): only DP_PAY_CURRENCY is accepted, anything else is a 400 naming the field. */
apr_status_t dp_pay_field_currency(const char **pval, dp_problem_t **pprob, apr_pool_t *p,
                                   json_object *body, const char *key);

/* True when PortOne's currency (NULL: not given) is DP_PAY_CURRENCY. */
int dp_pay_currency_ok(const char *currency);

/* Compares actual with the prepared amount and the requested one (either may be NULL);
 * *pexpected is the amount that was expected (prepared first). */
dp_verify_t dp_pay_decide(apr_int64_t *pexpected, const apr_int64_t *prepared,
                          const apr_int64_t *requested, apr_int64_t actual);

/* True when a mismatching payment in PortOne status status is to be cancelled. */
int dp_pay_should_cancel(dp_verify_t v, const char *status, int auto_cancel);

/* ------------------------------------------------------------------------------------------ */
/* webhooks */

/* One PortOne webhook notification (V1: imp_uid, merchant_uid, status, cancellation_id). */
typedef struct dp_webhook_t {
    const char *imp_uid;
    const char *merchant_uid;
    const char *status;
    const char *cancellation_id;   /* NULL when absent */
} dp_webhook_t;

/* Parses a webhook body (ctype application/json or application/x-www-form-urlencoded) into
 * ev: 415 for another type, 400 for a malformed body or a missing field, 422 for a bad value. */
apr_status_t dp_webhook_parse(dp_webhook_t *ev, dp_problem_t **pprob, apr_pool_t *p,
                              const char *ctype, const char *body, apr_size_t len);

/* Returns the event's dedupe key: the hex SHA-256 of its fields (64 characters, in p). */
const char *dp_webhook_dedupe_key(apr_pool_t *p, const dp_webhook_t *ev);

/* ------------------------------------------------------------------------------------------ */
/* operations */

/* What an operation works with, filled by the handler for one request. */
typedef struct dp_pay_env_t {
    apr_pool_t *pool;
    dp_portone_t *portone;       /* NULL: PortOne is not configured (503) */
    dp_db_t *db;                 /* NULL: no database (lookups still answer, writes 503) */
    const char *channel_key;     /* DockpayPortOneChannelKey, or NULL */
    const char *pg;              /* DockpayPortOnePG, or NULL */
    int vbank_due_days;          /* DockpayVbankDueDays */
    int auto_cancel;             /* DockpayAutoCancelMismatch */
} dp_pay_env_t;

/* Records what a PortOne payment object says about its order, in one transaction: creates the
 * order row if needed (setting the expected amount from *expected when given and unset),
 * moves the status only forward, records every cancel_history entry by cancellation_id.
 * A payment whose amount (currency) differs from the order's expected amount (KRW) is not
 * attached (never marks the order paid): *poutcome is then DP_OUTCOME_AMOUNT_MISMATCH
 * (CURRENCY_MISMATCH); OTHER_PAYMENT when another payment already paid the order; STALE when
 * the order already shows a later state; UNKNOWN_ORDER when create is false and no order with
 * an expected amount exists; else APPLIED. poutcome may be NULL. */
apr_status_t dp_pay_record(dp_pay_outcome_t *poutcome, dp_problem_t **pprob, dp_db_t *db,
                           json_object *payment, const apr_int64_t *expected, int create);

/* Asks PortOne for a payment by imp_uid or (when imp_uid is NULL) by merchant_uid, records it
 * when a database is at hand, and returns PortOne's payment object. */
apr_status_t dp_pay_lookup(json_object **ppayment, dp_problem_t **pprob, dp_pay_env_t *e,
                           const char *imp_uid, const char *merchant_uid);

/* Registers merchant_uid/amount at PortOne and records the order; *pcreated is 0 when the same
 * pair was already registered (idempotent), 409 prepare_conflict for another amount. *pout is
 * {"merchant_uid","amount","currency"}. */
apr_status_t dp_pay_prepare(json_object **pout, int *pcreated, dp_problem_t **pprob,
                            dp_pay_env_t *e, const char *merchant_uid, apr_int64_t amount);

/* A cancel request (validated by the handler). */
typedef struct dp_pay_cancel_req_t {
    const char *imp_uid;          /* one of imp_uid and merchant_uid */
    const char *merchant_uid;
    int has_amount;               /* partial amount; the whole remainder when 0 */
    apr_int64_t amount;
    const char *reason;
    int has_tax_free;
    apr_int64_t tax_free;
    const char *refund_holder;
    const char *refund_bank;
    const char *refund_account;
    int has_expected_remainder;   /* idem: the caller's idea of the cancellable remainder */
    apr_int64_t expected_remainder;
} dp_pay_cancel_req_t;

/* Cancels (part of) a paid payment with PortOne's checksum set to the cancellable remainder
 * the server knows, records the cancellation(s), and returns PortOne's payment object.
 * 409 when already cancelled, not paid, over the remainder, or the remainder changed;
 * 409 remainder_mismatch (members expected_remainder, cancellable_amount) when the caller's
 * expected_remainder is not PortOne's amount - cancel_amount. */
apr_status_t dp_pay_cancel(json_object **ppayment, dp_problem_t **pprob, dp_pay_env_t *e,
                           const dp_pay_cancel_req_t *r);

/* A virtual account request (validated by the handler, vbank_code checked). */
typedef struct dp_pay_vbank_req_t {
    const char *merchant_uid;
    apr_int64_t amount;
    const char *vbank_code;
    apr_int64_t vbank_due;        /* unix seconds; 0: now + vbank_due_days */
    const char *vbank_holder;
    const char *name;
    const char *buyer_name, *buyer_email, *buyer_tel, *buyer_addr, *buyer_postcode;
} dp_pay_vbank_req_t;

/* Issues a virtual account at PortOne (channel_key/pg from the configuration), records the
 * order with status ready, and returns PortOne's payment object. */
apr_status_t dp_pay_vbank(json_object **ppayment, dp_problem_t **pprob, dp_pay_env_t *e,
                          const dp_pay_vbank_req_t *r);

/* Verifies a payment: its order against merchant_uid (if given; 409 payment_order_mismatch,
 * nothing recorded or cancelled), PortOne's amount against the order's prepared amount and
 * *amount (if given), its status against status (if given). *pout = {"verified": true,
 * "payment": ...}; else 409 amount_mismatch / currency_mismatch (members expected, actual,
 * cancelled) or status_mismatch; a paid mismatching payment is cancelled at PortOne when
 * auto_cancel is on. */
apr_status_t dp_pay_verify(json_object **pout, dp_problem_t **pprob, dp_pay_env_t *e,
                           const char *imp_uid, const char *merchant_uid, const apr_int64_t *amount,
                           const char *status);

/* Lists local records, newest first: status may be NULL, from/to unix seconds (-1: open),
 * page from 1, limit 1..100. *pout = {"items","page","limit","total"}. */
apr_status_t dp_pay_list(json_object **pout, dp_problem_t **pprob, dp_pay_env_t *e,
                         const char *status, apr_int64_t from, apr_int64_t to,
                         apr_int64_t page, apr_int64_t limit);

/* Records a webhook durably (503 webhook_not_recorded when it cannot) without asking PortOne:
 * applying it is the background task's job (dp_pay_apply). *pout = {"received": true,
 * "outcome": "received" for a new event, else the event's current outcome, "duplicate": true
 * when the event was known and already settled (not received/pending)}. */
apr_status_t dp_pay_webhook(json_object **pout, dp_problem_t **pprob, dp_pay_env_t *e,
                            const dp_webhook_t *ev, const char *source_ip,
                            const char *raw, apr_size_t rawlen);

/* Applies what PortOne says about one payment: the one path of webhook events and of the
 * reconciler's lookups. Asks PortOne for imp_uid (or, when imp_uid is NULL, for the payment
 * of merchant_uid), refuses a payment of another order than merchant_uid (when given), records
 * it with dp_pay_record (never paid unless PortOne's amount and currency equal the order's),
 * updates a subscription schedule, and cancels a paid mismatching payment when auto_cancel is
 * on. *poutcome: applied, stale, unknown_order, amount_mismatch, currency_mismatch,
 * other_payment, mismatch, unknown_payment (PortOne: 404), or pending (PortOne or the database
 * failed: try again); *pdetail a short reason or NULL (either pointer may be NULL). Returns
 * non-success (with *pprob) only when the database failed. */
apr_status_t dp_pay_apply(dp_pay_outcome_t *poutcome, const char **pdetail, dp_problem_t **pprob,
                          dp_pay_env_t *e, const char *imp_uid, const char *merchant_uid);

#endif
