/* h_payments: PortOne payment and webhook routes. Each handler validates the request, calls
 * one dp_pay_* operation and maps the result to HTTP. */
#include <string.h>
#include <apr_strings.h>
#include <apr_network_io.h>
#include <apr_atomic.h>

#include "dp_glue.h"
#include "h_areas.h"
#include "dp_pay.h"
#include "dp_store_pay.h"
#include "dp_memo.h"

#define MAX_AMOUNT APR_INT64_C(10000000000000)   /* 10^13 KRW */

/* Creates the PortOne client of server s. */
int dp_payments_post_config(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *pconf)
{
    dp_portone_opts_t o;
    dp_portone_t *po = NULL;
    apr_status_t rv;

    if (c->portone_key == NULL || c->portone_secret == NULL) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "dockpay: PortOne is not configured (DockpayPortOneKey/DockpayPortOneSecret); "
                     "payment routes answer 503");
        return OK;
    }
    memset(&o, 0, sizeof(o));
    o.base_url = c->portone_url;
    o.imp_key = c->portone_key;
    o.imp_secret = c->portone_secret;
    o.ca_file = c->portone_ca_file;
    o.timeout_ms = (long)c->portone_timeout * 1000;
    o.connect_timeout_ms = (long)c->portone_connect_timeout * 1000;
    if (o.connect_timeout_ms > o.timeout_ms) {
        o.connect_timeout_ms = o.timeout_ms;
    }
    if ((rv = dp_portone_create(&po, pconf, &o)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "dockpay: cannot create the PortOne client");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    proc->portone = po;
    return OK;
}

/* Forgets state inherited over fork. */
void dp_payments_child_init(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *p)
{
    (void)s; (void)c; (void)p;
    if (proc && proc->portone) {
        dp_portone_child_init(proc->portone);
    }
}

/* "configured" when a PortOne key and secret are set. */
const char *dp_payments_health(dp_req_t *q)
{
    return (q->conf->portone_key && q->conf->portone_secret) ? "configured" : "not configured";
}

/* ------------------------------------------------------------------------------------------ */
/* helpers */

/* Fills the operation environment; with_db borrows the request's database connection (NULL
 * when it is down: the operation decides whether that is fatal). */
static void env_init(dp_pay_env_t *e, dp_req_t *q, int with_db)
{
    dp_problem_t *ignored = NULL;

    memset(e, 0, sizeof(*e));
    e->pool = q->pool;
    e->portone = q->proc->portone;
    e->db = with_db ? dp_db_acquire(&ignored, q) : NULL;
    e->channel_key = q->conf->portone_channel;
    e->pg = q->conf->portone_pg;
    e->vbank_due_days = q->conf->vbank_due_days;
    e->auto_cancel = q->conf->auto_cancel;
}

/* Reads an optional/required merchant_uid field and checks its form. */
static apr_status_t field_merchant_uid(const char **pval, dp_problem_t **pprob, dp_req_t *q,
                                       json_object *body, int required)
{
    apr_status_t rv = dp_json_field_str(pval, pprob, q->pool, body, "merchant_uid", required, 40);

    if (rv == APR_SUCCESS && *pval && !dp_pay_valid_merchant_uid(*pval)) {
        return dp_problem_fail(pprob, q->pool, 422, "invalid_value",
                               "the field 'merchant_uid' must be 1..40 characters without '/' or controls");
    }
    return rv;
}

static apr_status_t field_imp_uid(const char **pval, dp_problem_t **pprob, dp_req_t *q,
                                  json_object *body, int required)
{
    apr_status_t rv = dp_json_field_str(pval, pprob, q->pool, body, "imp_uid", required, 32);

    if (rv == APR_SUCCESS && *pval && !dp_pay_valid_imp_uid(*pval)) {
        return dp_problem_fail(pprob, q->pool, 422, "invalid_value",
                               "the field 'imp_uid' must be 1..32 characters of [A-Za-z0-9._:-]");
    }
    return rv;
}

/* Checks a bank code field against the bank table (422 invalid_bank_code). */
static apr_status_t check_bank(dp_problem_t **pprob, dp_req_t *q, const char *field, const char *code)
{
    if (code && dp_pay_bank_normalise(q->pool, code) == NULL) {
        dp_problem_fail(pprob, q->pool, 422, "invalid_bank_code",
                        "the field '%s' is not a known bank code (3-digit KFTC, 2-digit or BKnn)", field);
        if (pprob && *pprob) {
            dp_problem_add(*pprob, q->pool, "field", json_object_new_string(field));
        }
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* routes */

/* GET /payments: local records, newest first. */
static int h_list(dp_req_t *q)
{
    dp_pay_env_t e;
    dp_problem_t *prob = NULL;
    json_object *out = NULL;
    const char *status = dp_query(q, "status");
    const char *key, *text;
    apr_size_t len;
    apr_uint32_t gen;
    apr_time_t now;
    apr_int64_t from, to, page, limit;

    if (status && dp_pay_status_rank(status) < 0) {
        return dp_fail(q, 400, "bad_query", "the query parameter 'status' must be prepared, ready, "
                       "failed, paid or cancelled");
    }
    if (dp_query_int(&from, &prob, q, "from", -1, 0, APR_INT64_C(253402300799)) != APR_SUCCESS
        || dp_query_int(&to, &prob, q, "to", -1, 0, APR_INT64_C(253402300799)) != APR_SUCCESS
        || dp_query_int(&page, &prob, q, "page", 1, 1, 1000000) != APR_SUCCESS
        || dp_query_int(&limit, &prob, q, "limit", 20, 1, 100) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    /* a page computed in this process less than DockpayPaymentsCache ago is answered again
     * unless a payment changed since (the change count is read before the query) */
    gen = dp_store_pay_changes();
    now = apr_time_now();
    key = apr_psprintf(q->pool, "%s|%" APR_INT64_T_FMT "|%" APR_INT64_T_FMT "|%" APR_INT64_T_FMT
                       "|%" APR_INT64_T_FMT, status ? status : "", from, to, page, limit);
    if (dp_memo_get(&text, &len, q->proc->pages, q->pool, key, gen, now) == APR_SUCCESS) {
        return dp_send_json_text(q, 200, text, len);
    }
    env_init(&e, q, 1);
    if (dp_pay_list(&out, &prob, &e, status, from, to, page, limit) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    text = dp_json_str(q->pool, out);
    len = strlen(text);
    dp_memo_put(q->proc->pages, key, gen, now, text, len);
    return dp_send_json_text(q, 200, text, len);
}

/* GET /payments/{imp_uid} and /payments/find/{merchant_uid}: PortOne's object, recorded. */
static int lookup(dp_req_t *q, const char *imp_uid, const char *merchant_uid)
{
    dp_pay_env_t e;
    dp_problem_t *prob = NULL;
    json_object *pay = NULL;

    if (imp_uid && !dp_pay_valid_imp_uid(imp_uid)) {
        return dp_fail(q, 400, "bad_param", "'%s' is not a PortOne imp_uid", imp_uid);
    }
    if (merchant_uid && !dp_pay_valid_merchant_uid(merchant_uid)) {
        return dp_fail(q, 400, "bad_param", "the merchant_uid is not valid");
    }
    env_init(&e, q, 1);
    if (dp_pay_lookup(&pay, &prob, &e, imp_uid, merchant_uid) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, pay);
}

static int h_get(dp_req_t *q)
{
    return lookup(q, apr_table_get(q->params, "imp_uid"), NULL);
}

static int h_find(dp_req_t *q)
{
    return lookup(q, NULL, apr_table_get(q->params, "merchant_uid"));
}

/* POST /payments/prepare {"merchant_uid","amount"}: 201 first, 200 when repeated. */
static int h_prepare(dp_req_t *q)
{
    static const char *const allowed[] = { "merchant_uid", "amount", "currency", NULL };
    dp_pay_env_t e;
    dp_problem_t *prob = NULL;
    json_object *body = NULL, *out = NULL;
    const char *mu = NULL, *currency = NULL;
    apr_int64_t amount = 0;
    int created = 0;

    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, allowed) != APR_SUCCESS
        || field_merchant_uid(&mu, &prob, q, body, 1) != APR_SUCCESS
        || dp_json_field_int(&amount, &prob, q->pool, body, "amount", 1, 1, MAX_AMOUNT) != APR_SUCCESS
        || dp_pay_field_currency(&currency, &prob, q->pool, body, "currency") != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = mu;
    env_init(&e, q, 1);
    if (dp_pay_prepare(&out, &created, &prob, &e, mu, amount) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, created ? 201 : 200, out);
}

/* POST /payments/cancel. */
static int h_cancel(dp_req_t *q)
{
    static const char *const allowed[] = { "imp_uid", "merchant_uid", "amount", "reason", "tax_free",
                                           "refund_holder", "refund_bank", "refund_account",
                                           "expected_remainder", NULL };
    dp_pay_env_t e;
    dp_pay_cancel_req_t r;
    dp_problem_t *prob = NULL;
    json_object *body = NULL, *pay = NULL;

    memset(&r, 0, sizeof(r));
    r.amount = -1;
    r.tax_free = -1;
    r.expected_remainder = -1;
    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, allowed) != APR_SUCCESS
        || field_imp_uid(&r.imp_uid, &prob, q, body, 0) != APR_SUCCESS
        || field_merchant_uid(&r.merchant_uid, &prob, q, body, 0) != APR_SUCCESS
        || dp_json_field_int(&r.amount, &prob, q->pool, body, "amount", 0, 1, MAX_AMOUNT) != APR_SUCCESS
        || dp_json_field_str(&r.reason, &prob, q->pool, body, "reason", 0, 256) != APR_SUCCESS
        || dp_json_field_int(&r.tax_free, &prob, q->pool, body, "tax_free", 0, 0, MAX_AMOUNT) != APR_SUCCESS
        || dp_json_field_str(&r.refund_holder, &prob, q->pool, body, "refund_holder", 0, 64) != APR_SUCCESS
        || dp_json_field_str(&r.refund_bank, &prob, q->pool, body, "refund_bank", 0, 4) != APR_SUCCESS
        || dp_json_field_str(&r.refund_account, &prob, q->pool, body, "refund_account", 0, 32) != APR_SUCCESS
        || check_bank(&prob, q, "refund_bank", r.refund_bank) != APR_SUCCESS
        || dp_json_field_int(&r.expected_remainder, &prob, q->pool, body, "expected_remainder", 0, 0,
                             MAX_AMOUNT) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    r.has_expected_remainder = r.expected_remainder >= 0;
    if (r.imp_uid == NULL && r.merchant_uid == NULL) {
        return dp_fail(q, 400, "missing_field", "the field 'imp_uid' or 'merchant_uid' is required");
    }
    r.has_amount = r.amount >= 0;
    r.has_tax_free = r.tax_free >= 0;
    if (r.has_amount && r.has_tax_free && r.tax_free > r.amount) {
        return dp_fail(q, 422, "invalid_value", "the field 'tax_free' must not exceed 'amount'");
    }
    q->target = r.imp_uid ? r.imp_uid : r.merchant_uid;
    env_init(&e, q, 1);
    if (dp_pay_cancel(&pay, &prob, &e, &r) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, pay);
}

/* POST /payments/vbank: a virtual account; 201 with PortOne's payment object. */
static int h_vbank(dp_req_t *q)
{
    static const char *const allowed[] = { "merchant_uid", "amount", "vbank_code", "vbank_due",
                                           "vbank_holder", "name", "buyer_name", "buyer_email",
                                           "buyer_tel", "buyer_addr", "buyer_postcode", "currency", NULL };
    dp_pay_env_t e;
    dp_pay_vbank_req_t r;
    dp_problem_t *prob = NULL;
    json_object *body = NULL, *pay = NULL;
    const char *currency = NULL;
    apr_int64_t now = apr_time_sec(apr_time_now());

    memset(&r, 0, sizeof(r));
    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, allowed) != APR_SUCCESS
        || field_merchant_uid(&r.merchant_uid, &prob, q, body, 1) != APR_SUCCESS
        || dp_json_field_int(&r.amount, &prob, q->pool, body, "amount", 1, 1, MAX_AMOUNT) != APR_SUCCESS
        || dp_json_field_str(&r.vbank_code, &prob, q->pool, body, "vbank_code", 1, 8) != APR_SUCCESS
        || dp_json_field_int(&r.vbank_due, &prob, q->pool, body, "vbank_due", 0, now + 60,
                             now + 366 * 86400) != APR_SUCCESS
        || dp_json_field_str(&r.vbank_holder, &prob, q->pool, body, "vbank_holder", 1, 64) != APR_SUCCESS
        || dp_json_field_str(&r.name, &prob, q->pool, body, "name", 1, 80) != APR_SUCCESS
        || dp_json_field_str(&r.buyer_name, &prob, q->pool, body, "buyer_name", 0, 64) != APR_SUCCESS
        || dp_json_field_str(&r.buyer_email, &prob, q->pool, body, "buyer_email", 0, 128) != APR_SUCCESS
        || dp_json_field_str(&r.buyer_tel, &prob, q->pool, body, "buyer_tel", 0, 32) != APR_SUCCESS
        || dp_json_field_str(&r.buyer_addr, &prob, q->pool, body, "buyer_addr", 0, 128) != APR_SUCCESS
        || dp_json_field_str(&r.buyer_postcode, &prob, q->pool, body, "buyer_postcode", 0, 8) != APR_SUCCESS
        || check_bank(&prob, q, "vbank_code", r.vbank_code) != APR_SUCCESS
        || dp_pay_field_currency(&currency, &prob, q->pool, body, "currency") != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = r.merchant_uid;
    env_init(&e, q, 1);
    if (dp_pay_vbank(&pay, &prob, &e, &r) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 201, pay);
}

/* POST /payments/verify {"imp_uid","merchant_uid"?,"amount"?,"status"?}. */
static int h_verify(dp_req_t *q)
{
    static const char *const allowed[] = { "imp_uid", "merchant_uid", "amount", "status", NULL };
    dp_pay_env_t e;
    dp_problem_t *prob = NULL;
    json_object *body = NULL, *out = NULL;
    const char *imp_uid = NULL, *status = NULL, *merchant_uid = NULL;
    apr_int64_t amount = -1;

    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, allowed) != APR_SUCCESS
        || field_imp_uid(&imp_uid, &prob, q, body, 1) != APR_SUCCESS
        || field_merchant_uid(&merchant_uid, &prob, q, body, 0) != APR_SUCCESS
        || dp_json_field_int(&amount, &prob, q->pool, body, "amount", 0, 0, MAX_AMOUNT) != APR_SUCCESS
        || dp_json_field_str(&status, &prob, q->pool, body, "status", 0, 16) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (status && dp_pay_status_rank(status) < 1) {
        return dp_fail(q, 422, "invalid_value", "the field 'status' must be ready, paid, cancelled or failed");
    }
    q->target = imp_uid;
    env_init(&e, q, 1);
    if (dp_pay_verify(&out, &prob, &e, imp_uid, merchant_uid, amount >= 0 ? &amount : NULL,
                      status) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* True when the request's source address is in DockpayWebhookAllow. */
static int webhook_source_allowed(dp_req_t *q)
{
    apr_array_header_t *allow = q->conf->webhook_allow;
    apr_sockaddr_t *sa = q->r->useragent_addr;
    int i;

    for (i = 0; allow && sa && i < allow->nelts; ++i) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(allow, i, apr_ipsubnet_t *), sa)) {
            return 1;
        }
    }
    return 0;
}

/* POST /webhooks/portone: PortOne's notification (no API key; source allow-list). */
static int h_webhook(dp_req_t *q)
{
    dp_pay_env_t e;
    dp_webhook_t ev;
    dp_problem_t *prob = NULL;
    json_object *out = NULL;
    char *raw = NULL;
    apr_size_t len = 0;

    if (!webhook_source_allowed(q)) {
        DP_LOG(q, APLOG_WARNING, 0, "webhook from %s refused: not in DockpayWebhookAllow", q->r->useragent_ip);
        return dp_fail(q, 403, "webhook_forbidden", "this address may not send webhooks");
    }
    if (dp_read_body(&raw, &len, &prob, q) != APR_SUCCESS
        || dp_webhook_parse(&ev, &prob, q->pool, apr_table_get(q->r->headers_in, "Content-Type"),
                            raw, len) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = ev.merchant_uid;
    env_init(&e, q, 1);
    if (dp_pay_webhook(&out, &prob, &e, &ev, q->r->useragent_ip, raw, len) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    dp_reconcile_wake();   /* the background task applies it */
    return dp_send_json(q, 200, out);
}

const dp_handler_entry_t dp_payment_handlers[] = {
    { "payments.list", h_list },
    { "payments.get", h_get },
    { "payments.find", h_find },
    { "payments.prepare", h_prepare },
    { "payments.cancel", h_cancel },
    { "payments.vbank", h_vbank },
    { "payments.verify", h_verify },
    { "webhooks.portone", h_webhook },
    { NULL, NULL }
};
