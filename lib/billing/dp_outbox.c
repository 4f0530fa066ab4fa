/* dp_outbox: signed events for the merchant's application (see dp_outbox.h). */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <apr_time.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>

#include "dp_outbox.h"
#include "dp_store_outbox.h"
#include "dp_http.h"
#include "dp_json.h"
#include "dp_log.h"
#include "dp_util.h"

#define SECRET_PREFIX "whsec_"

/* ------------------------------------------------------------------------------------------ */
/* format and signature */

/* Decodes a whsec_ secret. */
apr_status_t dp_outbox_secret(unsigned char **pkey, apr_size_t *plen, apr_pool_t *p,
                              const char *secret)
{
    const char *b64;
    apr_size_t n, i;
    unsigned char *key;
    int len;

    *pkey = NULL;
    *plen = 0;
    if (secret == NULL || strncmp(secret, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1) != 0) {
        return APR_EINVAL;
    }
    b64 = secret + sizeof(SECRET_PREFIX) - 1;
    n = strlen(b64);
    if (n == 0 || n % 4 != 0 || n > 128) {
        return APR_EINVAL;
    }
    for (i = 0; i < n; ++i) {
        char c = b64[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                 || c == '+' || c == '/' || (c == '=' && i >= n - 2);
        if (!ok || (i == n - 2 && c == '=' && b64[n - 1] != '=')) {
            return APR_EINVAL;
        }
    }
    key = apr_palloc(p, (apr_size_t)apr_base64_decode_len(b64));
    len = apr_base64_decode_binary(key, b64);
    if (len < 16 || len > 64) {
        return APR_EINVAL;
    }
    *pkey = key;
    *plen = (apr_size_t)len;
    return APR_SUCCESS;
}

/* Signs id.timestamp.body the Standard Webhooks way. */
const char *dp_outbox_sign(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                           const char *id, apr_int64_t timestamp, const char *body, apr_size_t len)
{
    const char *head = apr_psprintf(p, "%s.%" APR_INT64_T_FMT ".", id, timestamp);
    apr_size_t hlen = strlen(head);
    unsigned char *msg = apr_palloc(p, hlen + len + 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *out;

    memcpy(msg, head, hlen);
    memcpy(msg + hlen, body, len);
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, hlen + len, md, &mdlen) == NULL) {
        return NULL;
    }
    out = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)mdlen) + 3);
    memcpy(out, "v1,", 3);
    apr_base64_encode_binary(out + 3, md, (int)mdlen);
    return out;
}

/* The delivered body. */
const char *dp_outbox_body(apr_pool_t *p, const char *type, const char *created_at,
                           const char *payload)
{
    json_object *t = dp_json_own(p, json_object_new_string(type ? type : ""));
    json_object *ts = dp_json_own(p, json_object_new_string(dp_iso_datetime(p, created_at ? created_at : "")));

    return apr_pstrcat(p, "{\"type\":", dp_json_str(p, t), ",\"timestamp\":", dp_json_str(p, ts),
                       ",\"data\":", payload && *payload ? payload : "{}", "}", NULL);
}

static const int default_backoff[] = { 5, 30, 120, 600, 3600 };

/* Seconds to wait after a failed attempt. */
apr_int64_t dp_outbox_backoff(const apr_array_header_t *steps, int attempts)
{
    int n = steps && steps->nelts > 0 ? steps->nelts : (int)(sizeof(default_backoff) / sizeof(int));
    int i = attempts < 1 ? 0 : attempts - 1;

    if (i >= n) {
        i = n - 1;
    }
    return steps && steps->nelts > 0 ? APR_ARRAY_IDX(steps, i, int) : default_backoff[i];
}

/* ------------------------------------------------------------------------------------------ */
/* delivery */

/* A short, secret-free description of a transport failure. */
static const char *transport_error(apr_status_t rv)
{
    switch (rv) {
    case APR_ECONNREFUSED: return "unreachable";
    case APR_TIMEUP: return "timed out";
    case APR_ENOSPC: return "answer too large";
    default: return "transport error";
    }
}

/* POSTs one claimed event; returns the HTTP status (0: none) and sets *perr on failure. */
static int deliver_one(const char **perr, apr_pool_t *p, dp_http_t *http, const dp_outbox_cfg_t *cfg,
                       const dp_outbox_rec_t *ev)
{
    dp_http_req_t req;
    dp_http_resp_t *resp = NULL;
    apr_int64_t now = (apr_int64_t)apr_time_sec(apr_time_now());
    const char *body = dp_outbox_body(p, ev->type, ev->created_at, ev->payload);
    const char *sig = dp_outbox_sign(p, cfg->key, cfg->keylen, ev->event_id, now, body, strlen(body));
    apr_status_t rv;

    *perr = NULL;
    if (sig == NULL) {
        *perr = "signing failed";
        return 0;
    }
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = cfg->url;
    req.headers = apr_table_make(p, 5);
    apr_table_setn(req.headers, "Content-Type", "application/json");
    apr_table_setn(req.headers, "webhook-id", ev->event_id);
    apr_table_setn(req.headers, "webhook-timestamp", apr_psprintf(p, "%" APR_INT64_T_FMT, now));
    apr_table_setn(req.headers, "webhook-signature", sig);
    apr_table_setn(req.headers, "User-Agent", "mod_dockpay-webhooks");
    req.body = body;
    req.body_len = strlen(body);
    req.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    req.max_response = 64 * 1024;
    rv = dp_http_perform(&resp, http, p, &req);
    if (rv != APR_SUCCESS) {
        *perr = transport_error(rv);
        return 0;
    }
    if (resp->status < 200 || resp->status > 299) {
        *perr = apr_psprintf(p, "HTTP %d", resp->status);
    }
    return resp->status;
}

/* Delivers due events. */
apr_status_t dp_outbox_run(int *pattempts, int *pdelivered, dp_problem_t **pprob, dp_db_t *db,
                           const dp_outbox_cfg_t *cfg)
{
    dp_http_opts_t o;
    dp_http_t *http = NULL;
    char worker[25];
    int max = cfg->max_events > 0 ? cfg->max_events : 200;
    int attempts = 0, delivered = 0, lock_secs = (int)(cfg->timeout_ms / 1000) + 30;
    apr_status_t rv = APR_SUCCESS;

    if (pattempts) *pattempts = 0;
    if (pdelivered) *pdelivered = 0;
    if (cfg->url == NULL || cfg->key == NULL) {
        return APR_SUCCESS;
    }
    if (dp_random_hex(worker, 12) != APR_SUCCESS) {
        return dp_problem_fail(pprob, db->pool, 500, "internal_error", "no random bytes for a worker id");
    }
    memset(&o, 0, sizeof(o));
    o.ca_file = cfg->ca_file;
    o.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    o.connect_timeout_ms = o.timeout_ms < 5000 ? o.timeout_ms : 5000;
    o.max_idle_handles = 1;
    o.max_response = 64 * 1024;
    if ((rv = dp_http_create(&http, db->pool, &o)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, db->pool, 500, "internal_error", "no HTTP client for the events");
    }
    while (attempts < max) {
        apr_array_header_t *ids = NULL;
        int i, progress = 0;

        if ((rv = dp_store_outbox_due(&ids, pprob, db, 32)) != APR_SUCCESS) {
            break;
        }
        for (i = 0; i < ids->nelts && attempts < max && rv == APR_SUCCESS; ++i) {
            apr_int64_t id = APR_ARRAY_IDX(ids, i, apr_int64_t);
            dp_outbox_rec_t *ev = NULL;
            const char *err = NULL;
            apr_time_t t0;
            int claimed = 0, status, ms;
            apr_pool_t *p;

            if ((rv = dp_store_outbox_claim(&claimed, pprob, db, id, worker, lock_secs)) != APR_SUCCESS
                || !claimed) {
                continue;
            }
            if ((rv = dp_store_outbox_load(&ev, pprob, db, id)) != APR_SUCCESS || ev == NULL) {
                continue;
            }
            if (apr_pool_create(&p, db->pool) != APR_SUCCESS) {
                rv = APR_ENOMEM;
                break;
            }
            t0 = apr_time_now();
            status = deliver_one(&err, p, http, cfg, ev);
            ms = (int)((apr_time_now() - t0) / 1000);
            ++attempts;
            ++progress;
            rv = dp_store_outbox_attempt(pprob, db, ev->event_id, status, status ? NULL : err, ms);
            if (rv == APR_SUCCESS && err == NULL) {
                rv = dp_store_outbox_delivered(pprob, db, id, worker);
                ++delivered;
            }
            else if (rv == APR_SUCCESS) {
                rv = dp_store_outbox_retry(pprob, db, id, worker, err,
                                           dp_outbox_backoff(cfg->backoff, ev->attempts + 1), cfg->max_age);
                dp_log_p(p, DP_LOG_INFO, 0, "event %s (%s) not delivered: %s", ev->event_id,
                         ev->type, err);
            }
            apr_pool_destroy(p);
        }
        if (rv != APR_SUCCESS || progress == 0) {
            break;
        }
    }
    if (pattempts) *pattempts = attempts;
    if (pdelivered) *pdelivered = delivered;
    return rv;
}

/* ------------------------------------------------------------------------------------------ */
/* events of the changes */

static apr_status_t add_event(dp_problem_t **pprob, dp_db_t *db, const char *type,
                              const char *order_key, json_object *data)
{
    return dp_store_outbox_add(NULL, pprob, db, type, order_key, dp_json_str(db->pool, data));
}

static void set_opt_time(json_object *o, const char *key, apr_int64_t t)
{
    json_object_object_add(o, key, t ? json_object_new_int64(t) : NULL);
}

/* The data of a payment event: what identifies it and its amounts (no buyer or card data). */
static json_object *payment_data(apr_pool_t *p, const dp_pay_rec_t *rec, int vbank)
{
    json_object *o = dp_json_object(p), *vb;

    dp_json_set_str(o, "merchant_uid", rec->merchant_uid);
    dp_json_set_str(o, "imp_uid", rec->imp_uid);
    dp_json_set_str(o, "status", rec->status);
    json_object_object_add(o, "amount", rec->has_amount ? json_object_new_int64(rec->amount) : NULL);
    dp_json_set_int(o, "cancelled_amount", rec->cancelled_amount);
    dp_json_set_str(o, "currency", rec->currency ? rec->currency : "KRW");
    dp_json_set_str(o, "pay_method", rec->method);
    dp_json_set_str(o, "pg_provider", rec->pg_provider);
    dp_json_set_str(o, "name", rec->name);
    set_opt_time(o, "paid_at", rec->paid_at);
    set_opt_time(o, "failed_at", rec->failed_at);
    set_opt_time(o, "cancelled_at", rec->cancelled_at);
    if (vbank) {
        vb = json_object_new_object();
        dp_json_set_str(vb, "code", rec->vbank_code);
        dp_json_set_str(vb, "name", rec->vbank_name);
        dp_json_set_str(vb, "num", rec->vbank_num);
        dp_json_set_str(vb, "holder", rec->vbank_holder);
        set_opt_time(vb, "due", rec->vbank_due);
        json_object_object_add(o, "vbank", vb);
    }
    return o;
}

static const char *payment_type(const char *status)
{
    if (status == NULL) return NULL;
    if (!strcmp(status, "ready")) return "vbank.issued";
    if (!strcmp(status, "paid")) return "payment.paid";
    if (!strcmp(status, "failed")) return "payment.failed";
    if (!strcmp(status, "cancelled")) return "payment.cancelled";
    return NULL;
}

/* Adds the events of one payment row change. */
apr_status_t dp_outbox_payment(dp_problem_t **pprob, dp_db_t *db, const char *cur_status,
                               const char *cur_imp_uid, const dp_pay_rec_t *rec, int saved,
                               json_object *new_cancels)
{
    const char *type = NULL;
    int ncancel = new_cancels ? (int)json_object_array_length(new_cancels) : 0;
    const char *merchant_uid = rec->merchant_uid;
    json_object *data;
    apr_status_t rv;

    if (saved && (cur_status == NULL || strcmp(cur_status, rec->status) != 0
                  || (cur_imp_uid && rec->imp_uid && strcmp(cur_imp_uid, rec->imp_uid) != 0))) {
        type = payment_type(rec->status);
    }
    if (type) {
        data = payment_data(db->pool, rec, !strcmp(type, "vbank.issued"));
        if (!strcmp(type, "payment.cancelled")) {
            dp_json_set_ref(data, "cancellations", new_cancels ? new_cancels : dp_json_array(db->pool));
        }
        if ((rv = add_event(pprob, db, type, merchant_uid, data)) != APR_SUCCESS) {
            return rv;
        }
    }
    if (ncancel > 0 && !(type && !strcmp(type, "payment.cancelled"))) {
        data = payment_data(db->pool, rec, 0);
        dp_json_set_ref(data, "cancellations", new_cancels);
        return add_event(pprob, db, "payment.cancelled", merchant_uid, data);
    }
    return APR_SUCCESS;
}

/* Adds a billing key event. */
apr_status_t dp_outbox_billing_key(dp_problem_t **pprob, dp_db_t *db, const dp_sub_key_rec_t *k,
                                   int deleted)
{
    json_object *o = dp_json_object(db->pool);

    dp_json_set_str(o, "customer_uid", k->customer_uid);
    if (!deleted) {
        dp_json_set_str(o, "pg_provider", k->pg_provider);
        dp_json_set_str(o, "card_name", k->card_name);
        dp_json_set_str(o, "card_code", k->card_code);
    }
    return add_event(pprob, db, deleted ? "billing_key.deleted" : "billing_key.issued",
                     k->customer_uid, o);
}

/* Adds a schedule event. */
apr_status_t dp_outbox_schedule(dp_problem_t **pprob, dp_db_t *db, const dp_sub_sched_rec_t *s)
{
    const char *type;
    json_object *o;

    if (s->status == NULL) return APR_SUCCESS;
    if (!strcmp(s->status, "scheduled")) type = "schedule.created";
    else if (!strcmp(s->status, "revoked")) type = "schedule.revoked";
    else if (!strcmp(s->status, "executed")) type = "schedule.paid";
    else if (!strcmp(s->status, "failed")) type = "schedule.failed";
    else return APR_SUCCESS;
    o = dp_json_object(db->pool);
    dp_json_set_str(o, "merchant_uid", s->merchant_uid);
    dp_json_set_str(o, "customer_uid", s->customer_uid);
    dp_json_set_str(o, "status", s->status);
    set_opt_time(o, "schedule_at", s->schedule_at);
    json_object_object_add(o, "amount", s->amount > 0 ? json_object_new_int64(s->amount) : NULL);
    dp_json_set_str(o, "name", s->name);
    dp_json_set_str(o, "imp_uid", s->imp_uid);
    return add_event(pprob, db, type, s->merchant_uid, o);
}

/* ------------------------------------------------------------------------------------------ */
/* admin views */

/* The JSON of one event (its data parsed back). */
static json_object *event_json(apr_pool_t *p, const dp_outbox_rec_t *r)
{
    json_object *o = dp_json_object(p), *data = NULL;
    dp_problem_t *ignored = NULL;

    dp_json_set_str(o, "id", r->event_id);
    dp_json_set_str(o, "type", r->type);
    dp_json_set_str(o, "order_key", r->order_key);
    dp_json_set_str(o, "state", r->state);
    dp_json_set_int(o, "attempts", r->attempts);
    json_object_object_add(o, "created_at", json_object_new_string(dp_iso_datetime(p, r->created_at)));
    json_object_object_add(o, "next_attempt_at",
                           !strcmp(r->state, "pending") && r->next_attempt_at
                           ? json_object_new_string(dp_iso_datetime(p, r->next_attempt_at)) : NULL);
    json_object_object_add(o, "delivered_at", r->delivered_at
                           ? json_object_new_string(dp_iso_datetime(p, r->delivered_at)) : NULL);
    json_object_object_add(o, "last_error", r->last_error ? json_object_new_string(r->last_error) : NULL);
    if (r->payload && dp_json_parse(&data, &ignored, p, r->payload, strlen(r->payload)) == APR_SUCCESS) {
        dp_json_set_ref(o, "data", data);
    }
    else {
        json_object_object_add(o, "data", NULL);
    }
    return o;
}

static apr_status_t no_event(dp_problem_t **pprob, apr_pool_t *p, const char *event_id)
{
    return dp_problem_fail(pprob, p, 404, "event_not_found", "no event %s", event_id);
}

/* Lists events. */
apr_status_t dp_outbox_list(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                            const char *type, const char *state, const char *order_key,
                            apr_int64_t page, apr_int64_t limit)
{
    apr_array_header_t *items = NULL;
    apr_int64_t total = 0;
    json_object *arr;
    apr_status_t rv;
    int i;

    *pout = NULL;
    if ((rv = dp_store_outbox_list(&items, &total, pprob, db, type, state, order_key,
                                   (page - 1) * limit, limit)) != APR_SUCCESS) {
        return rv;
    }
    *pout = dp_json_object(db->pool);
    arr = json_object_new_array();
    for (i = 0; i < items->nelts; ++i) {
        json_object_array_add(arr, json_object_get(event_json(db->pool,
                                                              APR_ARRAY_IDX(items, i, dp_outbox_rec_t *))));
    }
    json_object_object_add(*pout, "items", arr);
    dp_json_set_int(*pout, "page", page);
    dp_json_set_int(*pout, "limit", limit);
    dp_json_set_int(*pout, "total", total);
    return APR_SUCCESS;
}

/* Returns one event with its attempts. */
apr_status_t dp_outbox_get(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                           const char *event_id)
{
    dp_outbox_rec_t *r = NULL;
    json_object *attempts = NULL;
    apr_status_t rv;

    *pout = NULL;
    if ((rv = dp_store_outbox_get(&r, pprob, db, event_id)) != APR_SUCCESS
        || (r && (rv = dp_store_outbox_attempts(&attempts, pprob, db, event_id)) != APR_SUCCESS)) {
        return rv;
    }
    if (r == NULL) {
        return no_event(pprob, db->pool, event_id);
    }
    *pout = event_json(db->pool, r);
    dp_json_set_ref(*pout, "delivery_attempts", attempts);
    return APR_SUCCESS;
}

/* Queues one event again. */
apr_status_t dp_outbox_redeliver(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                                 const char *event_id)
{
    dp_outbox_rec_t *r = NULL;
    apr_status_t rv;

    *pout = NULL;
    if ((rv = dp_store_outbox_get(&r, pprob, db, event_id)) != APR_SUCCESS) {
        return rv;
    }
    if (r == NULL) {
        return no_event(pprob, db->pool, event_id);
    }
    if ((rv = dp_store_outbox_requeue(pprob, db, event_id)) != APR_SUCCESS
        || (rv = dp_store_outbox_get(&r, pprob, db, event_id)) != APR_SUCCESS) {
        return rv;
    }
    *pout = event_json(db->pool, r);
    return APR_SUCCESS;
}
