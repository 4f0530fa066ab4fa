/* dp_pay: payment logic on the PortOne client and the payment records. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/evp.h>

#include "dp_pay.h"
#include "dp_store_sub.h"
#include "dp_sub_result.h"
#include "dp_billing.h"
#include "dp_store_pay.h"
#include "dp_outbox.h"
#include "dp_store_rec.h"
#include "dp_json.h"
#include "dp_log.h"
#include "dp_util.h"

/* ------------------------------------------------------------------------------------------ */
/* pure rules */

/* The strings of dp_pay_status_t, indexed by the enum (its rank). */
static const char *const status_names[] = { "prepared", "ready", "failed", "paid", "cancelled", NULL };

/* Returns the status named s. */
dp_pay_status_t dp_pay_status_of(const char *s)
{
    int i;

    for (i = 0; s && status_names[i]; ++i) {
        if (!strcmp(s, status_names[i])) {
            return (dp_pay_status_t)i;
        }
    }
    return DP_PAY_UNKNOWN;
}

/* The strings of dp_pay_outcome_t, indexed by the enum. */
static const char *const outcome_names[] = {
    "applied", "stale", "unknown_order", "amount_mismatch", "currency_mismatch", "other_payment",
    "mismatch", "unknown_payment", "pending", "failed"
};

/* Returns the string of outcome o. */
const char *dp_pay_outcome_str(dp_pay_outcome_t o)
{
    return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ? outcome_names[o] : "pending";
}

/* Rank of a local status in the forward-only order. */
int dp_pay_status_rank(const char *status)
{
    return (int)dp_pay_status_of(status);
}

/* True when a record in status cur may take status next. */
int dp_pay_status_advances(const char *cur, const char *next)
{
    int a = dp_pay_status_rank(cur), b = dp_pay_status_rank(next);

    if (b < 0) {
        return 0;
    }
    return a < 0 || b >= a;
}

typedef struct { const char *code, *name; } bank_t;

/* KFTC standard codes (docs/portone-v1.md §7.1): banks and securities companies. */
static const bank_t banks[] = {
    { "002", "KDB Sanup" }, { "003", "IBK Kiup" }, { "004", "KB Kookmin" }, { "005", "KEB Oehwan" },
    { "007", "Suhyup" }, { "011", "NH Nonghyup" }, { "012", "Local Nonghyup/Chukhyup" },
    { "020", "Woori" }, { "023", "SC First" }, { "027", "Citi Korea" }, { "031", "Daegu" },
    { "032", "Busan" }, { "034", "Gwangju" }, { "035", "Jeju" }, { "037", "Jeonbuk" },
    { "039", "Kyongnam" }, { "045", "Saemaeul" }, { "048", "Shinhyup" }, { "071", "Post Office" },
    { "081", "Hana" }, { "088", "Shinhan" }, { "089", "K bank" }, { "090", "Kakao Bank" },
    { "092", "Toss Bank" },
    { "209", "Yuanta" }, { "218", "Hyundai Securities" }, { "230", "Mirae Asset" },
    { "238", "Daewoo Securities" }, { "240", "Samsung Securities" }, { "243", "Korea Investment" },
    { "247", "Woori Investment" }, { "261", "Kyobo" }, { "262", "Hi Investment" }, { "263", "HMC" },
    { "264", "Kiwoom" }, { "265", "eTrade" }, { "266", "SK Securities" }, { "267", "Daishin" },
    { "268", "Solomon" }, { "269", "Hanwha" }, { "270", "Hana Daetoo" }, { "278", "Goodmorning Shinhan" },
    { "279", "Dongbu" }, { "280", "Eugene" }, { "287", "Meritz" }, { "289", "NH Investment" },
    { "290", "Bookook" },
    { NULL, NULL }
};

/* Returns the bank's name for a 3-digit code. */
const char *dp_pay_bank_name(const char *code3)
{
    int i;

    for (i = 0; code3 && banks[i].code; ++i) {
        if (!strcmp(banks[i].code, code3)) {
            return banks[i].name;
        }
    }
    return NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Normalises a bank code to a known 3-digit KFTC code. */
const char *dp_pay_bank_normalise(apr_pool_t *p, const char *code)
{
    char out[4];
    apr_size_t n = code ? strlen(code) : 0;

    if (n == 3 && is_digit(code[0]) && is_digit(code[1]) && is_digit(code[2])) {
        memcpy(out, code, 3);
    }
    else if (n == 2 && is_digit(code[0]) && is_digit(code[1])) {
        out[0] = '0'; out[1] = code[0]; out[2] = code[1];
    }
    else if (n == 4 && (code[0] == 'B' || code[0] == 'b') && (code[1] == 'K' || code[1] == 'k')
             && is_digit(code[2]) && is_digit(code[3])) {
        out[0] = '0'; out[1] = code[2]; out[2] = code[3];
    }
    else {
        return NULL;
    }
    out[3] = '\0';
    return dp_pay_bank_name(out) ? apr_pstrdup(p, out) : NULL;
}

/* True when s is a valid imp_uid. */
int dp_pay_valid_imp_uid(const char *s)
{
    return dp_is_safe_token(s, 32);
}

/* True when s is a valid merchant_uid. */
int dp_pay_valid_merchant_uid(const char *s)
{
    apr_size_t n = s ? strlen(s) : 0, i;

    if (n == 0 || n > 40 || !dp_utf8_valid(s, n)) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

/* Reads an amount member into *pval. */
int dp_pay_json_amount(apr_int64_t *pval, json_object *o, const char *key)
{
    json_object *v = dp_json_get(o, key);
    double d;

    *pval = 0;
    if (v == NULL) {
        return 0;
    }
    if (json_object_is_type(v, json_type_int)) {
        *pval = (apr_int64_t)json_object_get_int64(v);
        return 1;
    }
    if (json_object_is_type(v, json_type_double)) {
        d = json_object_get_double(v);
        if (d >= -9.0e15 && d <= 9.0e15 && d == (double)(apr_int64_t)d) {
            *pval = (apr_int64_t)d;
            return 1;
        }
    }
    return 0;
}

/* Compares actual with the prepared and the requested amount. */
dp_verify_t dp_pay_decide(apr_int64_t *pexpected, const apr_int64_t *prepared,
                          const apr_int64_t *requested, apr_int64_t actual)
{
    *pexpected = prepared ? *prepared : requested ? *requested : 0;
    if (prepared == NULL && requested == NULL) {
        return DP_VERIFY_NO_EXPECTATION;
    }
    if ((prepared && *prepared != actual) || (requested && *requested != actual)) {
        return DP_VERIFY_MISMATCH;
    }
    return DP_VERIFY_OK;
}

/* True when a mismatching payment is to be cancelled. */
int dp_pay_should_cancel(dp_verify_t v, const char *status, int auto_cancel)
{
    return v == DP_VERIFY_MISMATCH && auto_cancel && dp_pay_status_of(status) == DP_PAY_PAID;
}

/* ------------------------------------------------------------------------------------------ */
/* webhook bodies */

/* Reads one webhook field from a JSON object or a form table. */
static apr_status_t webhook_field(const char **pval, dp_problem_t **pprob, apr_pool_t *p,
                                  json_object *obj, apr_table_t *form, const char *key, int required)
{
    const char *v = NULL;

    *pval = NULL;
    if (obj) {
        json_object *j = dp_json_get(obj, key);
        if (j && !json_object_is_type(j, json_type_string)) {
            return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be a string", key);
        }
        v = j ? json_object_get_string(j) : NULL;
    }
    else {
        v = apr_table_get(form, key);
    }
    if (v == NULL || *v == '\0') {
        return required ? dp_problem_fail(pprob, p, 400, "missing_field", "the field '%s' is required", key)
                        : APR_SUCCESS;
    }
    *pval = v;
    return APR_SUCCESS;
}

/* Parses a webhook body. */
apr_status_t dp_webhook_parse(dp_webhook_t *ev, dp_problem_t **pprob, apr_pool_t *p,
                              const char *ctype, const char *body, apr_size_t len)
{
    json_object *obj = NULL;
    apr_table_t *form = NULL;
    apr_status_t rv;
    dp_pay_status_t st;

    memset(ev, 0, sizeof(*ev));
    if (ctype && !strncasecmp(ctype, "application/json", 16)) {
        if ((rv = dp_json_parse(&obj, pprob, p, body, len)) != APR_SUCCESS) {
            return rv;
        }
        if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
            return dp_problem_fail(pprob, p, 400, "wrong_type", "the body must be a JSON object");
        }
    }
    else if (ctype && !strncasecmp(ctype, "application/x-www-form-urlencoded", 33)) {
        char *text = apr_pstrmemdup(p, body ? body : "", len);
        if (strlen(text) != len) {
            return dp_problem_fail(pprob, p, 400, "bad_body", "the form body contains a NUL byte");
        }
        form = dp_parse_query(p, text);
        if (apr_table_get(form, "\001malformed")) {
            return dp_problem_fail(pprob, p, 400, "bad_body", "the form body is not correctly %%-encoded");
        }
    }
    else {
        return dp_problem_fail(pprob, p, 415, "unsupported_media_type",
                               "send the webhook as application/json or application/x-www-form-urlencoded");
    }
    if ((rv = webhook_field(&ev->imp_uid, pprob, p, obj, form, "imp_uid", 1)) != APR_SUCCESS
        || (rv = webhook_field(&ev->merchant_uid, pprob, p, obj, form, "merchant_uid", 1)) != APR_SUCCESS
        || (rv = webhook_field(&ev->status, pprob, p, obj, form, "status", 1)) != APR_SUCCESS
        || (rv = webhook_field(&ev->cancellation_id, pprob, p, obj, form, "cancellation_id", 0)) != APR_SUCCESS) {
        return rv;
    }
    if (!dp_pay_valid_imp_uid(ev->imp_uid)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'imp_uid' is not a PortOne imp_uid");
    }
    if (!dp_pay_valid_merchant_uid(ev->merchant_uid)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'merchant_uid' is not a valid order id");
    }
    st = dp_pay_status_of(ev->status);
    if (st != DP_PAY_READY && st != DP_PAY_PAID && st != DP_PAY_CANCELLED && st != DP_PAY_FAILED) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field 'status' must be ready, paid, cancelled or failed");
    }
    if (ev->cancellation_id && !dp_is_safe_token(ev->cancellation_id, 64)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'cancellation_id' is not valid");
    }
    return APR_SUCCESS;
}

/* Returns the event's dedupe key. */
const char *dp_webhook_dedupe_key(apr_pool_t *p, const dp_webhook_t *ev)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char *out = apr_palloc(p, 65);
    const char *cid = ev->cancellation_id ? ev->cancellation_id : "";
    /* NUL-separated fields: no two different events share an input */
    apr_size_t n1 = strlen(ev->imp_uid) + 1, n2 = strlen(ev->merchant_uid) + 1,
               n3 = strlen(ev->status) + 1, n4 = strlen(cid);
    char *buf = apr_palloc(p, n1 + n2 + n3 + n4 + 1);

    memcpy(buf, ev->imp_uid, n1);
    memcpy(buf + n1, ev->merchant_uid, n2);
    memcpy(buf + n1 + n2, ev->status, n3);
    memcpy(buf + n1 + n2 + n3, cid, n4);
    if (EVP_Digest(buf, n1 + n2 + n3 + n4, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        return NULL;
    }
    for (i = 0; i < mdlen; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* records */

/* Copies the fields the server keeps from a PortOne payment object into rec (keeps rec's
 * merchant_uid/prepared fields); 502 when the object lacks what identifies it. */
static apr_status_t rec_from_payment(dp_pay_rec_t *rec, dp_problem_t **pprob, apr_pool_t *p,
                                     json_object *pay)
{
    rec->imp_uid = dp_json_get_str(pay, "imp_uid");
    rec->merchant_uid = dp_json_get_str(pay, "merchant_uid");
    rec->status = dp_json_get_str(pay, "status");
    rec->has_amount = dp_pay_json_amount(&rec->amount, pay, "amount");
    if (!dp_pay_valid_imp_uid(rec->imp_uid) || !dp_pay_valid_merchant_uid(rec->merchant_uid)
        || dp_pay_status_rank(rec->status) < 1 || !rec->has_amount) {
        return dp_problem_fail(pprob, p, 502, "portone_bad_response",
                               "PortOne's payment object lacks imp_uid, merchant_uid, amount or a known status");
    }
    dp_pay_json_amount(&rec->cancelled_amount, pay, "cancel_amount");
    rec->currency = dp_json_get_str(pay, "currency");
    rec->method = dp_json_get_str(pay, "pay_method");
    rec->pg_provider = dp_json_get_str(pay, "pg_provider");
    rec->name = dp_json_get_str(pay, "name");
    rec->vbank_code = dp_json_get_str(pay, "vbank_code");
    rec->vbank_name = dp_json_get_str(pay, "vbank_name");
    rec->vbank_num = dp_json_get_str(pay, "vbank_num");
    rec->vbank_holder = dp_json_get_str(pay, "vbank_holder");
    rec->vbank_due = dp_json_get_int(pay, "vbank_date", 0);
    rec->buyer_name = dp_json_get_str(pay, "buyer_name");
    rec->buyer_email = dp_json_get_str(pay, "buyer_email");
    rec->buyer_tel = dp_json_get_str(pay, "buyer_tel");
    rec->paid_at = dp_json_get_int(pay, "paid_at", 0);
    rec->failed_at = dp_json_get_int(pay, "failed_at", 0);
    rec->cancelled_at = dp_json_get_int(pay, "cancelled_at", 0);
    return APR_SUCCESS;
}

/* Records every cancel_history entry of pay by its cancellation_id; the ones new here are
 * appended to added (outbox: the payment.cancelled event), when not NULL. */
static apr_status_t record_cancellations(dp_problem_t **pprob, dp_db_t *db, json_object *pay,
                                         const dp_pay_rec_t *rec, json_object *added)
{
    json_object *hist = dp_json_get(pay, "cancel_history");
    apr_size_t i, n;
    apr_status_t rv;

    if (hist == NULL || !json_object_is_type(hist, json_type_array)) {
        return APR_SUCCESS;
    }
    n = json_object_array_length(hist);
    for (i = 0; i < n; ++i) {
        json_object *c = json_object_array_get_idx(hist, i);
        const char *cid = dp_json_get_str(c, "cancellation_id");
        apr_int64_t amount = 0;
        int inserted = 0;

        if (cid == NULL || !dp_is_safe_token(cid, 64) || !dp_pay_json_amount(&amount, c, "amount")) {
            continue;
        }
        rv = dp_store_pay_cancel_add(&inserted, pprob, db, cid, rec->merchant_uid, rec->imp_uid, amount,
                                     dp_json_get_str(c, "reason"), dp_json_get_str(c, "pg_tid"),
                                     dp_json_get_int(c, "cancelled_at", 0));
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (inserted && added) {   /* outbox */
            json_object *o = json_object_new_object();
            dp_json_set_str(o, "cancellation_id", cid);
            dp_json_set_int(o, "amount", amount);
            dp_json_set_str(o, "reason", dp_json_get_str(c, "reason"));
            dp_json_set_int(o, "cancelled_at", dp_json_get_int(c, "cancelled_at", 0));
            json_object_array_add(added, o);
        }
    }
    return APR_SUCCESS;
}

/* True when PortOne's currency (NULL: not given, taken as KRW) is the server's: every order
 * this server prices (prepare, vbank, schedule, billing-key pay) is in KRW. */
int dp_pay_currency_ok(const char *currency)
{
    return currency == NULL || strcmp(currency, DP_PAY_CURRENCY) == 0;
}

/* Decides what the order row cur takes from the payment rec: returns the outcome and sets
 * *psave when the row is to be written. */
static dp_pay_outcome_t merge_outcome(int *psave, const dp_pay_rec_t *cur, const dp_pay_rec_t *rec)
{
    *psave = 0;
    if (!dp_pay_currency_ok(rec->currency)) {
        return DP_OUTCOME_CURRENCY_MISMATCH;
    }
    if (cur->has_prepared && cur->prepared_amount != rec->amount) {
        return DP_OUTCOME_AMOUNT_MISMATCH;
    }
    if (cur->imp_uid && strcmp(cur->imp_uid, rec->imp_uid) != 0) {
        /* another payment of the same order: it replaces an unpaid/failed one only */
        if (dp_pay_status_of(cur->status) >= DP_PAY_PAID) {
            return DP_OUTCOME_OTHER_PAYMENT;
        }
        *psave = 1;
        return DP_OUTCOME_APPLIED;
    }
    if (!dp_pay_status_advances(cur->status, rec->status)) {
        return DP_OUTCOME_STALE;
    }
    *psave = 1;
    return DP_OUTCOME_APPLIED;
}

/* Records a PortOne payment object (see dp_pay.h). */
apr_status_t dp_pay_record(dp_pay_outcome_t *poutcome, dp_problem_t **pprob, dp_db_t *db,
                           json_object *payment, const apr_int64_t *expected, int create)
{
    dp_pay_rec_t rec, *cur = NULL;
    dp_tx_t *tx = NULL;
    dp_pay_outcome_t outcome = DP_OUTCOME_APPLIED;
    json_object *cancels = dp_json_array(db->pool);   /* outbox: cancellations new here */
    apr_status_t rv;
    int save = 0;

    if (poutcome) *poutcome = DP_OUTCOME_PENDING;
    memset(&rec, 0, sizeof(rec));
    if ((rv = rec_from_payment(&rec, pprob, db->pool, payment)) != APR_SUCCESS) {
        return rv;
    }
    /* the row is created outside the transaction: inside it, only the existing row is locked
     * (an INSERT followed by FOR UPDATE deadlocks concurrent recorders of the same order) */
    if ((create && (rv = dp_store_pay_ensure(pprob, db, rec.merchant_uid)) != APR_SUCCESS)
        || (rv = dp_store_tx_begin(&tx, pprob, db)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = dp_store_pay_get(&cur, pprob, db, rec.merchant_uid, 1)) != APR_SUCCESS) {
        goto leave;
    }
    if (cur && expected && !cur->has_prepared) {
        if ((rv = dp_store_pay_set_prepared(pprob, db, rec.merchant_uid, *expected, 0)) != APR_SUCCESS) {
            goto leave;
        }
        cur->has_prepared = 1;
        cur->prepared_amount = *expected;
    }
    if (cur == NULL || (!create && !cur->has_prepared)) {
        outcome = DP_OUTCOME_UNKNOWN_ORDER;
        goto leave;
    }
    outcome = merge_outcome(&save, cur, &rec);
    if (save && (rv = dp_store_pay_save(pprob, db, &rec)) != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = record_cancellations(pprob, db, payment, &rec, cancels)) != APR_SUCCESS) {
        goto leave;
    }
    /* outbox: the events of this change, in its transaction (cancellations only of the
     * order's own payment) */
    rv = dp_outbox_payment(pprob, db, cur->status, cur->imp_uid, &rec, save,
                           (save || (cur->imp_uid && !strcmp(cur->imp_uid, rec.imp_uid))) ? cancels : NULL);

leave:
    if (rv == APR_SUCCESS) {
        rv = dp_store_tx_end(pprob, tx, 1);
    }
    else {
        dp_store_tx_end(NULL, tx, 0);
    }
    if (rv == APR_SUCCESS && poutcome) {
        *poutcome = outcome;
    }
    if (rv == APR_SUCCESS && outcome != DP_OUTCOME_APPLIED && outcome != DP_OUTCOME_STALE) {
        dp_log_p(db->pool, DP_LOG_NOTICE, 0, "payment %s of order %s not attached: %s",
                 rec.imp_uid, rec.merchant_uid, dp_pay_outcome_str(outcome));
    }
    return rv;
}

/* ------------------------------------------------------------------------------------------ */
/* operations */

static apr_status_t need(dp_problem_t **pprob, dp_pay_env_t *e, int db)
{
    if (e->portone == NULL) {
        return dp_problem_fail(pprob, e->pool, 503, "portone_not_configured",
                               "PortOne is not configured (DockpayPortOneKey and DockpayPortOneSecret)");
    }
    if (db && e->db == NULL) {
        dp_problem_fail(pprob, e->pool, 503, "database_unavailable", "the database cannot be reached");
        if (pprob && *pprob) (*pprob)->retry_after = "5";
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}

/* GET /payments/{imp_uid} or /payments/find/{merchant_uid} at PortOne. */
static apr_status_t portone_payment(json_object **ppay, dp_problem_t **pprob, dp_pay_env_t *e,
                                    const char *imp_uid, const char *merchant_uid)
{
    const char *path = imp_uid
        ? apr_pstrcat(e->pool, "/payments/", dp_url_encode(e->pool, imp_uid), NULL)
        : apr_pstrcat(e->pool, "/payments/find/", dp_url_encode(e->pool, merchant_uid), NULL);
    apr_status_t rv = dp_portone_call(ppay, pprob, e->portone, e->pool, "GET", path, NULL);

    if (rv == APR_SUCCESS && (*ppay == NULL || !json_object_is_type(*ppay, json_type_object))) {
        return dp_problem_fail(pprob, e->pool, 502, "portone_bad_response",
                               "PortOne's answer holds no payment object");
    }
    return rv;
}

/* Records pay when a database is at hand; a failure is logged, not returned (the caller's
 * answer comes from PortOne). Without expected, only an order the server priced is updated:
 * a payment of an order it never priced is not recorded (never paid here). */
static void record_quietly(dp_pay_env_t *e, json_object *pay, const apr_int64_t *expected)
{
    dp_problem_t *prob = NULL;

    if (e->db && dp_pay_record(NULL, &prob, e->db, pay, expected, expected != NULL) != APR_SUCCESS) {
        dp_log_p(e->pool, DP_LOG_WARNING, 0, "payment %s not recorded locally: %s",
                 dp_json_get_str(pay, "imp_uid"), prob && prob->detail ? prob->detail : "error");
    }
}

/* Looks up a payment at PortOne and records it. */
apr_status_t dp_pay_lookup(json_object **ppayment, dp_problem_t **pprob, dp_pay_env_t *e,
                           const char *imp_uid, const char *merchant_uid)
{
    apr_status_t rv;

    *ppayment = NULL;
    if ((rv = need(pprob, e, 0)) != APR_SUCCESS
        || (rv = portone_payment(ppayment, pprob, e, imp_uid, merchant_uid)) != APR_SUCCESS) {
        return rv;
    }
    record_quietly(e, *ppayment, NULL);
    return APR_SUCCESS;
}

static dp_problem_t *prepare_conflict(dp_problem_t **pprob, apr_pool_t *p, const char *mu,
                                      apr_int64_t registered, apr_int64_t amount)
{
    dp_problem_fail(pprob, p, 409, "prepare_conflict",
                    "merchant_uid %s is prepared with amount %" APR_INT64_T_FMT ", not %" APR_INT64_T_FMT,
                    mu, registered, amount);
    if (pprob && *pprob) {
        dp_problem_add(*pprob, p, "merchant_uid", json_object_new_string(mu));
        dp_problem_add(*pprob, p, "prepared_amount", json_object_new_int64(registered));
        dp_problem_add(*pprob, p, "amount", json_object_new_int64(amount));
    }
    return pprob ? *pprob : NULL;
}

/* Records a prepared amount (registered at PortOne or not) in one transaction; 409 when the
 * order already expects another amount. */
static apr_status_t store_prepared(dp_problem_t **pprob, dp_pay_env_t *e, const char *mu,
                                   apr_int64_t amount, int at_portone)
{
    dp_tx_t *tx = NULL;
    dp_pay_rec_t *cur = NULL;
    apr_status_t rv;

    if ((rv = dp_store_pay_ensure(pprob, e->db, mu)) != APR_SUCCESS
        || (rv = dp_store_tx_begin(&tx, pprob, e->db)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = dp_store_pay_get(&cur, pprob, e->db, mu, 1)) != APR_SUCCESS) {
        goto leave;
    }
    if (cur && cur->has_prepared && cur->prepared_amount != amount) {
        prepare_conflict(pprob, e->pool, mu, cur->prepared_amount, amount);
        rv = DP_EPROBLEM;
        goto leave;
    }
    rv = dp_store_pay_set_prepared(pprob, e->db, mu, amount, at_portone);

leave:
    if (rv == APR_SUCCESS) {
        return dp_store_tx_end(pprob, tx, 1);
    }
    dp_store_tx_end(NULL, tx, 0);
    return rv;
}

/* Registers and records a prepared amount. */
apr_status_t dp_pay_prepare(json_object **pout, int *pcreated, dp_problem_t **pprob,
                            dp_pay_env_t *e, const char *merchant_uid, apr_int64_t amount)
{
    dp_pay_rec_t *cur = NULL;
    json_object *body, *resp = NULL;
    dp_problem_t *prob = NULL;
    apr_status_t rv;

    *pout = NULL;
    *pcreated = 0;
    if ((rv = need(pprob, e, 1)) != APR_SUCCESS
        || (rv = dp_store_pay_get(&cur, pprob, e->db, merchant_uid, 0)) != APR_SUCCESS) {
        return rv;
    }
    if (cur && cur->has_prepared && cur->prepared_amount != amount) {
        prepare_conflict(pprob, e->pool, merchant_uid, cur->prepared_amount, amount);
        return DP_EPROBLEM;
    }
    if (!(cur && cur->has_prepared && cur->prepared_at_portone)) {
        body = dp_json_object(e->pool);
        dp_json_set_str(body, "merchant_uid", merchant_uid);
        dp_json_set_int(body, "amount", amount);
        rv = dp_portone_call(&resp, &prob, e->portone, e->pool, "POST", "/payments/prepare", body);
        if (rv == APR_SUCCESS) {
            *pcreated = 1;
        }
        else if (prob && prob->status == 409) {
            /* PortOne knows this merchant_uid already: idempotent if the amount is ours */
            apr_int64_t registered = 0;
            const char *path = apr_pstrcat(e->pool, "/payments/prepare/",
                                           dp_url_encode(e->pool, merchant_uid), NULL);
            if ((rv = dp_portone_call(&resp, pprob, e->portone, e->pool, "GET", path, NULL)) != APR_SUCCESS) {
                return rv;
            }
            if (!dp_pay_json_amount(&registered, resp, "amount")) {
                return dp_problem_fail(pprob, e->pool, 502, "portone_bad_response",
                                       "PortOne's prepared record lacks its amount");
            }
            if (registered != amount) {
                prepare_conflict(pprob, e->pool, merchant_uid, registered, amount);
                return DP_EPROBLEM;
            }
        }
        else {
            if (pprob) *pprob = prob;
            return rv;
        }
    }
    if ((rv = store_prepared(pprob, e, merchant_uid, amount, 1)) != APR_SUCCESS) {
        return rv;
    }
    *pout = dp_json_object(e->pool);
    dp_json_set_str(*pout, "merchant_uid", merchant_uid);
    dp_json_set_int(*pout, "amount", amount);
    dp_json_set_str(*pout, "currency", "KRW");
    return APR_SUCCESS;
}

/* POST /payments/cancel at PortOne for imp_uid with checksum; reason/amount optional. */
static apr_status_t portone_cancel(json_object **ppay, dp_problem_t **pprob, dp_pay_env_t *e,
                                   const char *imp_uid, apr_int64_t checksum,
                                   const dp_pay_cancel_req_t *r, const char *reason)
{
    json_object *body = dp_json_object(e->pool);

    dp_json_set_str(body, "imp_uid", imp_uid);
    dp_json_set_int(body, "checksum", checksum);
    dp_json_set_str(body, "reason", reason);
    if (r) {
        if (r->has_amount) dp_json_set_int(body, "amount", r->amount);
        if (r->has_tax_free) dp_json_set_int(body, "tax_free", r->tax_free);
        dp_json_set_str(body, "refund_holder", r->refund_holder);
        dp_json_set_str(body, "refund_bank", r->refund_bank);
        dp_json_set_str(body, "refund_account", r->refund_account);
    }
    return dp_portone_call(ppay, pprob, e->portone, e->pool, "POST", "/payments/cancel", body);
}

static apr_status_t cancel_refused(dp_problem_t **pprob, apr_pool_t *p, const char *code,
                                   apr_int64_t remainder, const char *fmt, const char *arg)
{
    dp_problem_fail(pprob, p, 409, code, fmt, arg);
    if (pprob && *pprob) {
        dp_problem_add(*pprob, p, "cancellable_amount", json_object_new_int64(remainder));
    }
    return DP_EPROBLEM;
}

/* Cancels (part of) a paid payment. */
apr_status_t dp_pay_cancel(json_object **ppayment, dp_problem_t **pprob, dp_pay_env_t *e,
                           const dp_pay_cancel_req_t *r)
{
    dp_pay_rec_t *cur = NULL;
    json_object *pay = NULL, *result = NULL;
    const char *imp_uid = r->imp_uid, *status, *mu;
    apr_int64_t amount = 0, cancelled = 0, remainder;
    apr_status_t rv;

    *ppayment = NULL;
    if ((rv = need(pprob, e, 1)) != APR_SUCCESS) {
        return rv;
    }
    if (imp_uid == NULL) {
        if ((rv = dp_store_pay_get(&cur, pprob, e->db, r->merchant_uid, 0)) != APR_SUCCESS) {
            return rv;
        }
        imp_uid = cur ? cur->imp_uid : NULL;
    }
    if ((rv = portone_payment(&pay, pprob, e, imp_uid, imp_uid ? NULL : r->merchant_uid)) != APR_SUCCESS) {
        return rv;
    }
    imp_uid = dp_json_get_str(pay, "imp_uid");
    mu = dp_json_get_str(pay, "merchant_uid");
    status = dp_json_get_str(pay, "status");
    dp_pay_json_amount(&amount, pay, "amount");
    dp_pay_json_amount(&cancelled, pay, "cancel_amount");
    remainder = amount - cancelled;
    if (imp_uid == NULL || mu == NULL || status == NULL) {
        return dp_problem_fail(pprob, e->pool, 502, "portone_bad_response", "PortOne's payment object is incomplete");
    }
    if (r->imp_uid && r->merchant_uid && strcmp(mu, r->merchant_uid) != 0) {
        return dp_problem_fail(pprob, e->pool, 422, "invalid_value",
                               "imp_uid %s belongs to another merchant_uid", imp_uid);
    }
    /* what this server knows, read before the fresh lookup is recorded */
    if (cur == NULL && (rv = dp_store_pay_get(&cur, pprob, e->db, mu, 0)) != APR_SUCCESS) {
        return rv;
    }
    record_quietly(e, pay, NULL);
    if (dp_pay_status_of(status) == DP_PAY_CANCELLED) {
        return cancel_refused(pprob, e->pool, "already_cancelled", 0, "payment %s is already fully cancelled", imp_uid);
    }
    if (dp_pay_status_of(status) != DP_PAY_PAID) {
        return cancel_refused(pprob, e->pool, "not_paid", 0,
                              "only paid payments can be cancelled; this one is %s", status);
    }
    if (r->has_expected_remainder && r->expected_remainder != remainder) {
        dp_problem_fail(pprob, e->pool, 409, "remainder_mismatch", "the cancellable remainder of %s "
                        "at PortOne is %" APR_INT64_T_FMT ", not the expected %" APR_INT64_T_FMT
                        "; nothing was refunded", imp_uid, remainder, r->expected_remainder);
        if (pprob && *pprob) {
            dp_problem_add(*pprob, e->pool, "expected_remainder", json_object_new_int64(r->expected_remainder));
            dp_problem_add(*pprob, e->pool, "cancellable_amount", json_object_new_int64(remainder));
        }
        return DP_EPROBLEM;
    }
    if (cur && cur->imp_uid && !strcmp(cur->imp_uid, imp_uid) && cur->has_amount
        && dp_pay_status_of(cur->status) == DP_PAY_PAID && cur->amount - cur->cancelled_amount != remainder) {
        return cancel_refused(pprob, e->pool, "remainder_changed", remainder,
                              "the cancellable amount of %s changed at PortOne since this server last "
                              "saw it; the record is refreshed, check and retry", imp_uid);
    }
    if (r->has_amount && r->amount > remainder) {
        return cancel_refused(pprob, e->pool, "cancel_exceeds_remainder", remainder,
                              "the amount is more than the cancellable remainder of %s", imp_uid);
    }
    if ((rv = portone_cancel(&result, pprob, e, imp_uid, remainder, r, r->reason)) != APR_SUCCESS) {
        return rv;
    }
    if (result == NULL || !json_object_is_type(result, json_type_object)) {
        return dp_problem_fail(pprob, e->pool, 502, "portone_bad_response", "PortOne's cancel answer holds no payment");
    }
    record_quietly(e, result, NULL);
    *ppayment = result;
    return APR_SUCCESS;
}

/* Issues a virtual account. */
apr_status_t dp_pay_vbank(json_object **ppayment, dp_problem_t **pprob, dp_pay_env_t *e,
                          const dp_pay_vbank_req_t *r)
{
    json_object *body, *pay = NULL;
    apr_int64_t due = r->vbank_due;
    apr_status_t rv;

    *ppayment = NULL;
    if ((rv = need(pprob, e, 1)) != APR_SUCCESS) {
        return rv;
    }
    if (due == 0) {
        due = apr_time_sec(apr_time_now()) + (apr_int64_t)e->vbank_due_days * 86400;
    }
    /* the order first: the "ready" webhook may arrive before PortOne's answer */
    if ((rv = store_prepared(pprob, e, r->merchant_uid, r->amount, 0)) != APR_SUCCESS) {
        return rv;
    }
    body = dp_json_object(e->pool);
    if (e->channel_key) {
        dp_json_set_str(body, "channel_key", e->channel_key);
    }
    else if (e->pg) {
        dp_json_set_str(body, "pg", e->pg);
    }
    dp_json_set_str(body, "merchant_uid", r->merchant_uid);
    dp_json_set_int(body, "amount", r->amount);
    dp_json_set_str(body, "vbank_code", r->vbank_code);
    dp_json_set_int(body, "vbank_due", due);
    dp_json_set_str(body, "vbank_holder", r->vbank_holder);
    dp_json_set_str(body, "name", r->name);
    dp_json_set_str(body, "buyer_name", r->buyer_name);
    dp_json_set_str(body, "buyer_email", r->buyer_email);
    dp_json_set_str(body, "buyer_tel", r->buyer_tel);
    dp_json_set_str(body, "buyer_addr", r->buyer_addr);
    dp_json_set_str(body, "buyer_postcode", r->buyer_postcode);
    if ((rv = dp_portone_call(&pay, pprob, e->portone, e->pool, "POST", "/vbanks", body)) != APR_SUCCESS) {
        return rv;
    }
    if (pay == NULL || !json_object_is_type(pay, json_type_object)) {
        return dp_problem_fail(pprob, e->pool, 502, "portone_bad_response", "PortOne's answer holds no payment");
    }
    if ((rv = dp_pay_record(NULL, pprob, e->db, pay, &r->amount, 1)) != APR_SUCCESS) {
        return rv;
    }
    *ppayment = pay;
    return APR_SUCCESS;
}

/* Cancels a paid payment whose amount does not match, in full; returns PortOne's updated
 * payment in *presult, or NULL (logged) when the cancel failed. */
static void cancel_mismatch(json_object **presult, dp_pay_env_t *e, json_object *pay,
                            apr_int64_t expected, apr_int64_t actual)
{
    apr_int64_t cancelled = 0;
    dp_problem_t *prob = NULL;
    const char *imp_uid = dp_json_get_str(pay, "imp_uid");
    const char *ccy = dp_json_get_str(pay, "currency");
    const char *reason = dp_pay_currency_ok(ccy)
        ? apr_psprintf(e->pool, "amount mismatch: expected %" APR_INT64_T_FMT ", paid %" APR_INT64_T_FMT,
                       expected, actual)
        : apr_psprintf(e->pool, "currency mismatch: expected %" APR_INT64_T_FMT " " DP_PAY_CURRENCY
                       ", paid in %.8s", expected, ccy);

    *presult = NULL;
    dp_pay_json_amount(&cancelled, pay, "cancel_amount");
    if (portone_cancel(presult, &prob, e, imp_uid, actual - cancelled, NULL, reason) != APR_SUCCESS
        || *presult == NULL || !json_object_is_type(*presult, json_type_object)) {
        dp_log_p(e->pool, DP_LOG_WARNING, 0, "payment %s: amount mismatch, automatic cancel failed: %s",
                 imp_uid, prob && prob->detail ? prob->detail : "no payment in the answer");
        *presult = NULL;
        return;
    }
    dp_log_p(e->pool, DP_LOG_NOTICE, 0, "payment %s: amount mismatch (expected %" APR_INT64_T_FMT
             ", paid %" APR_INT64_T_FMT "): cancelled at PortOne", imp_uid, expected, actual);
}

/* Verifies a payment against the order. */
apr_status_t dp_pay_verify(json_object **pout, dp_problem_t **pprob, dp_pay_env_t *e,
                           const char *imp_uid, const char *merchant_uid, const apr_int64_t *amount,
                           const char *status)
{
    json_object *pay = NULL, *after = NULL;
    dp_pay_rec_t *cur = NULL;
    const char *mu, *pstatus, *ccy;
    apr_int64_t actual = 0, expected = 0;
    dp_verify_t v;
    apr_status_t rv;

    *pout = NULL;
    if ((rv = need(pprob, e, 1)) != APR_SUCCESS
        || (rv = portone_payment(&pay, pprob, e, imp_uid, NULL)) != APR_SUCCESS) {
        return rv;
    }
    mu = dp_json_get_str(pay, "merchant_uid");
    pstatus = dp_json_get_str(pay, "status");
    if (mu == NULL || pstatus == NULL || !dp_pay_json_amount(&actual, pay, "amount")) {
        return dp_problem_fail(pprob, e->pool, 502, "portone_bad_response", "PortOne's payment object is incomplete");
    }
    if (merchant_uid && strcmp(merchant_uid, mu) != 0) {
        /* another order's payment: neither recorded nor cancelled (it may be that order's) */
        dp_problem_fail(pprob, e->pool, 409, "payment_order_mismatch",
                        "payment %s belongs to another order than %s", imp_uid, merchant_uid);
        if (pprob && *pprob) {
            dp_problem_add(*pprob, e->pool, "imp_uid", json_object_new_string(imp_uid));
            dp_problem_add(*pprob, e->pool, "merchant_uid", json_object_new_string(merchant_uid));
        }
        return DP_EPROBLEM;
    }
    if ((rv = dp_store_pay_get(&cur, pprob, e->db, mu, 0)) != APR_SUCCESS) {
        return rv;
    }
    v = dp_pay_decide(&expected, cur && cur->has_prepared ? &cur->prepared_amount : NULL, amount, actual);
    if (v == DP_VERIFY_NO_EXPECTATION) {
        return dp_problem_fail(pprob, e->pool, 404, "order_not_found",
                               "no prepared amount is recorded for merchant_uid %s; pass 'amount'", mu);
    }
    ccy = dp_json_get_str(pay, "currency");
    if (v == DP_VERIFY_MISMATCH || !dp_pay_currency_ok(ccy)) {
        int cancelled = 0, by_currency = v != DP_VERIFY_MISMATCH;
        if (dp_pay_should_cancel(DP_VERIFY_MISMATCH, pstatus, e->auto_cancel)) {
            cancel_mismatch(&after, e, pay, expected, actual);
            if (after) {
                pay = after;
                cancelled = 1;
            }
        }
        if (e->db) {
            dp_problem_t *ignored = NULL;
            dp_pay_record(NULL, &ignored, e->db, pay, NULL, 0);  /* keeps the cancellations */
        }
        if (by_currency) {
            dp_problem_fail(pprob, e->pool, 409, "currency_mismatch",
                            "PortOne's currency %.8s differs from the order's " DP_PAY_CURRENCY "%s",
                            ccy, cancelled ? "; the payment was cancelled" : "");
        } else {
            dp_problem_fail(pprob, e->pool, 409, "amount_mismatch",
                            "PortOne's amount %" APR_INT64_T_FMT " differs from the expected %" APR_INT64_T_FMT "%s",
                            actual, expected, cancelled ? "; the payment was cancelled" : "");
        }
        if (pprob && *pprob) {
            dp_problem_add(*pprob, e->pool, "expected_currency", json_object_new_string(DP_PAY_CURRENCY));
            dp_problem_add(*pprob, e->pool, "currency", json_object_new_string(ccy ? ccy : DP_PAY_CURRENCY));
            dp_problem_add(*pprob, e->pool, "expected", json_object_new_int64(expected));
            dp_problem_add(*pprob, e->pool, "actual", json_object_new_int64(actual));
            dp_problem_add(*pprob, e->pool, "cancelled", json_object_new_boolean(cancelled));
            dp_problem_add(*pprob, e->pool, "imp_uid", json_object_new_string(imp_uid));
            dp_problem_add(*pprob, e->pool, "merchant_uid", json_object_new_string(mu));
        }
        return DP_EPROBLEM;
    }
    record_quietly(e, pay, cur && cur->has_prepared ? NULL : amount);
    if (status && strcmp(status, pstatus) != 0) {
        dp_problem_fail(pprob, e->pool, 409, "status_mismatch", "the payment is %s, not %s", pstatus, status);
        if (pprob && *pprob) {
            dp_problem_add(*pprob, e->pool, "expected_status", json_object_new_string(status));
            dp_problem_add(*pprob, e->pool, "actual_status", json_object_new_string(pstatus));
        }
        return DP_EPROBLEM;
    }
    *pout = dp_json_object(e->pool);
    json_object_object_add(*pout, "verified", json_object_new_boolean(1));
    dp_json_set_ref(*pout, "payment", pay);
    return APR_SUCCESS;
}

/* "YYYY-MM-DD HH:MM:SS" (UTC) of unix seconds t, in p. */
static const char *utc_datetime(apr_pool_t *p, apr_int64_t t)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, apr_time_from_sec(t));
    return apr_psprintf(p, "%04d-%02d-%02d %02d:%02d:%02d", x.tm_year + 1900, x.tm_mon + 1,
                        x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
}

static void set_opt_int(json_object *o, const char *key, int has, apr_int64_t v)
{
    json_object_object_add(o, key, has ? json_object_new_int64(v) : NULL);
}

/* The JSON of a local record. */
static json_object *rec_json(apr_pool_t *p, const dp_pay_rec_t *r)
{
    json_object *o = dp_json_object(p), *vb;

    dp_json_set_str(o, "merchant_uid", r->merchant_uid);
    json_object_object_add(o, "imp_uid", r->imp_uid ? json_object_new_string(r->imp_uid) : NULL);
    dp_json_set_str(o, "status", r->status);
    set_opt_int(o, "prepared_amount", r->has_prepared, r->prepared_amount);
    set_opt_int(o, "amount", r->has_amount, r->amount);
    dp_json_set_int(o, "cancelled_amount", r->cancelled_amount);
    dp_json_set_str(o, "currency", r->currency);
    dp_json_set_str(o, "pay_method", r->method);
    dp_json_set_str(o, "pg_provider", r->pg_provider);
    dp_json_set_str(o, "name", r->name);
    dp_json_set_str(o, "buyer_name", r->buyer_name);
    dp_json_set_str(o, "buyer_email", r->buyer_email);
    dp_json_set_str(o, "buyer_tel", r->buyer_tel);
    if (r->vbank_code || r->vbank_num) {
        vb = json_object_new_object();
        dp_json_set_str(vb, "code", r->vbank_code);
        dp_json_set_str(vb, "name", r->vbank_name);
        dp_json_set_str(vb, "num", r->vbank_num);
        dp_json_set_str(vb, "holder", r->vbank_holder);
        dp_json_set_int(vb, "due", r->vbank_due);
        json_object_object_add(o, "vbank", vb);
    }
    dp_json_set_int(o, "paid_at", r->paid_at);
    dp_json_set_int(o, "failed_at", r->failed_at);
    dp_json_set_int(o, "cancelled_at", r->cancelled_at);
    dp_json_set_str(o, "created_at", dp_iso_datetime(p, r->created_at));
    dp_json_set_str(o, "updated_at", dp_iso_datetime(p, r->updated_at));
    return o;
}

/* Lists local records. */
apr_status_t dp_pay_list(json_object **pout, dp_problem_t **pprob, dp_pay_env_t *e,
                         const char *status, apr_int64_t from, apr_int64_t to,
                         apr_int64_t page, apr_int64_t limit)
{
    apr_array_header_t *items = NULL;
    apr_int64_t total = 0;
    json_object *arr;
    apr_status_t rv;
    int i;

    *pout = NULL;
    if (e->db == NULL) {
        dp_problem_fail(pprob, e->pool, 503, "database_unavailable", "the database cannot be reached");
        if (pprob && *pprob) (*pprob)->retry_after = "5";
        return DP_EPROBLEM;
    }
    rv = dp_store_pay_list(&items, &total, pprob, e->db, status,
                           from >= 0 ? utc_datetime(e->pool, from) : NULL,
                           to >= 0 ? utc_datetime(e->pool, to) : NULL,
                           (page - 1) * limit, limit);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pout = dp_json_object(e->pool);
    arr = json_object_new_array();
    for (i = 0; i < items->nelts; ++i) {
        json_object_array_add(arr, json_object_get(rec_json(e->pool, APR_ARRAY_IDX(items, i, dp_pay_rec_t *))));
    }
    json_object_object_add(*pout, "items", arr);
    dp_json_set_int(*pout, "page", page);
    dp_json_set_int(*pout, "limit", limit);
    dp_json_set_int(*pout, "total", total);
    return APR_SUCCESS;
}

/* The webhook's answer. */
static json_object *webhook_answer(apr_pool_t *p, const char *outcome, int duplicate)
{
    json_object *o = dp_json_object(p);

    json_object_object_add(o, "received", json_object_new_boolean(1));
    dp_json_set_str(o, "outcome", outcome ? outcome : "received");
    json_object_object_add(o, "duplicate", json_object_new_boolean(duplicate));
    return o;
}

/* Applies what PortOne says about one payment (see dp_pay.h): the one path of webhooks and
 * the reconciler. */
apr_status_t dp_pay_apply(dp_pay_outcome_t *poutcome, const char **pdetail, dp_problem_t **pprob,
                          dp_pay_env_t *e, const char *imp_uid, const char *merchant_uid)
{
    json_object *pay = NULL, *after = NULL;
    dp_problem_t *prob = NULL;
    dp_pay_outcome_t outcome = DP_OUTCOME_PENDING;
    const char *mu, *detail = NULL;
    apr_int64_t actual = 0;
    dp_pay_rec_t *cur = NULL;
    apr_status_t rv = APR_SUCCESS;

    if (e->portone == NULL) {
        detail = "PortOne is not configured";
        outcome = DP_OUTCOME_PENDING;
        goto leave;
    }
    if (portone_payment(&pay, &prob, e, imp_uid, imp_uid ? NULL : merchant_uid) != APR_SUCCESS) {
        detail = apr_psprintf(e->pool, "%s: %s", prob->code, prob->detail ? prob->detail : "");
        outcome = prob->status == 404 ? DP_OUTCOME_UNKNOWN_PAYMENT : DP_OUTCOME_PENDING;
        goto leave;
    }
    mu = dp_json_get_str(pay, "merchant_uid");
    if (mu == NULL || (merchant_uid && strcmp(mu, merchant_uid) != 0)) {
        detail = "PortOne's merchant_uid differs from the event's";
        outcome = DP_OUTCOME_MISMATCH;
        goto leave;
    }
    if ((rv = dp_pay_record(&outcome, pprob, e->db, pay, NULL, 0)) != APR_SUCCESS) {
        outcome = DP_OUTCOME_PENDING;
        goto leave;
    }
    /* a scheduled payment's result also updates its schedule (subscriptions, idempotent) */
    if ((outcome == DP_OUTCOME_APPLIED || outcome == DP_OUTCOME_STALE)
        && (rv = dp_sub_result_on_payment(pprob, e->db, mu, dp_json_get_str(pay, "imp_uid"),
                                          dp_json_get_str(pay, "status"))) != APR_SUCCESS) {
        outcome = DP_OUTCOME_PENDING;
        goto leave;
    }
    /* billing-aware containers (issue 15): the customer's state follows the payment */
    if ((outcome == DP_OUTCOME_APPLIED || outcome == DP_OUTCOME_STALE)
        && (rv = dp_billing_on_payment_object(pprob, e->db, pay)) != APR_SUCCESS) {
        outcome = DP_OUTCOME_PENDING;
        goto leave;
    }
    if ((outcome == DP_OUTCOME_AMOUNT_MISMATCH || outcome == DP_OUTCOME_CURRENCY_MISMATCH) && e->auto_cancel) {
        dp_pay_json_amount(&actual, pay, "amount");
        if (dp_store_pay_get(&cur, pprob, e->db, mu, 0) == APR_SUCCESS && cur && cur->has_prepared
            && dp_pay_should_cancel(DP_VERIFY_MISMATCH, dp_json_get_str(pay, "status"), 1)) {
            cancel_mismatch(&after, e, pay, cur->prepared_amount, actual);
            if (after) {
                dp_pay_record(NULL, &prob, e->db, after, NULL, 0);
                detail = "cancelled at PortOne";
            }
        }
    }

leave:
    if (poutcome) *poutcome = outcome;
    if (pdetail) *pdetail = detail;
    return rv;
}

/* Records a webhook for the background task. */
apr_status_t dp_pay_webhook(json_object **pout, dp_problem_t **pprob, dp_pay_env_t *e,
                            const dp_webhook_t *ev, const char *source_ip,
                            const char *raw, apr_size_t rawlen)
{
    const char *key = dp_webhook_dedupe_key(e->pool, ev), *outcome = NULL;
    const char *body;
    apr_size_t n = rawlen > 4096 ? 4096 : rawlen;
    dp_problem_t *ignored = NULL;
    int fresh = 0;

    *pout = NULL;
    if (key == NULL) {
        return dp_problem_fail(pprob, e->pool, 500, "internal_error", "hashing the event failed");
    }
    while (n > 0 && n < rawlen && ((unsigned char)raw[n] & 0xC0) == 0x80) {
        --n;  /* cut at a character boundary */
    }
    body = dp_utf8_valid(raw, n) ? apr_pstrmemdup(e->pool, raw, n) : "(body is not UTF-8)";
    /* durable first; PortOne is asked by the background task (dp_pay_apply), not here */
    if (e->db == NULL
        || dp_store_rec_intake(&fresh, pprob, e->db, key, source_ip, ev->imp_uid, ev->merchant_uid,
                               ev->status, ev->cancellation_id, body) != APR_SUCCESS) {
        dp_problem_fail(pprob, e->pool, 503, "webhook_not_recorded",
                        "the event could not be recorded; send it again");
        if (pprob && *pprob) (*pprob)->retry_after = "60";
        return DP_EPROBLEM;
    }
    if (fresh || dp_store_webhook_outcome(&outcome, &ignored, e->db, key) != APR_SUCCESS
        || outcome == NULL) {
        outcome = "received";
    }
    /* a duplicate: the event was known and already settled (a resend of a pending one is not) */
    *pout = webhook_answer(e->pool, outcome, !fresh && strcmp(outcome, "received") != 0
                                             && strcmp(outcome, "pending") != 0);
    return APR_SUCCESS;
}

/* idem: reads an optional currency field (only DP_PAY_CURRENCY). */
apr_status_t dp_pay_field_currency(const char **pval, dp_problem_t **pprob, apr_pool_t *p,
                                   json_object *body, const char *key)
{
    apr_status_t rv;

    *pval = NULL;
    rv = dp_json_field_str(pval, pprob, p, body, key, 0, 8);
    if (rv != APR_SUCCESS && pprob && *pprob && (*pprob)->status != 422) {
        return rv;   /* not a string: 400 wrong_type */
    }
    if (rv != APR_SUCCESS || (*pval && strcmp(*pval, DP_PAY_CURRENCY) != 0)) {
        *pval = NULL;   /* empty, too long or another currency */
        dp_problem_fail(pprob, p, 400, "unsupported_currency", "the field '%s' must be \"%s\": "
                        "every order is priced in %s", key, DP_PAY_CURRENCY, DP_PAY_CURRENCY);
        if (pprob && *pprob) {
            dp_problem_add(*pprob, p, "field", json_object_new_string(key));
        }
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}
