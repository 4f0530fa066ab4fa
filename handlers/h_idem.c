/* h_idem: Idempotency-Key handling around the payment and subscription writes. The handler's
 * answer is what it sent through dp_send_* (recorded in the dp_req_t by dp_glue.c). */
#include <string.h>
#include <apr_strings.h>

#include "h_idem.h"
#include "dp_store_idem.h"

#define IDEM_HEADER "Idempotency-Key"
#define IDEM_MAX_KEY 255

/* True when routes of this kind take an Idempotency-Key. */
int dp_idem_applies(const dp_route_t *route)
{
    return route && (route->scope & DP_SCOPE_PAYMENTS_WRITE)
           && (!strcmp(route->method, "POST") || !strcmp(route->method, "DELETE"));
}

/* True when k is 1..IDEM_MAX_KEY visible ASCII characters (0x21..0x7e). */
static int valid_key(const char *k)
{
    apr_size_t i;

    for (i = 0; k[i]; ++i) {
        if (i >= IDEM_MAX_KEY || (unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e) {
            return 0;
        }
    }
    return i > 0;
}

/* The hex SHA-256 of what makes two requests the same: method, path, query and body. */
static const char *request_hash(dp_req_t *q, const char *body, apr_size_t len)
{
    const char *head = apr_pstrcat(q->pool, q->r->method, "\n", q->r->uri, "\n",
                                   q->r->args ? q->r->args : "", "\n", NULL);
    apr_size_t hlen = strlen(head);
    char *buf = apr_palloc(q->pool, hlen + len + 1);
    char *hex = apr_palloc(q->pool, 65);

    memcpy(buf, head, hlen);
    if (len) {
        memcpy(buf + hlen, body, len);
    }
    dp_sha256_hex(hex, buf, hlen + len);
    return hex;
}

/* Answers with the stored answer of row. */
static int replay(dp_req_t *q, const dp_idem_row_t *row)
{
    static const char gone[] = "{\"replayed\":true,\"detail\":\"the first answer to this "
                               "Idempotency-Key was too large to keep; look the object up\"}";

    apr_table_setn(q->r->headers_out, "Idempotent-Replayed", "true");
    q->target = row->target;
    if (!row->body_kept) {
        return dp_send_text(q, row->status, "application/json; charset=utf-8", gone, sizeof(gone) - 1);
    }
    if (row->status == 204 || row->body_len == 0) {
        return dp_send_empty(q, row->status);
    }
    return dp_send_text(q, row->status, row->content_type, row->body, row->body_len);
}

/* Seconds after which a pending claim counts as abandoned: DP_IDEM_ABANDONED, or more when
 * the PortOne calls of one request (a token, a lookup, the change, a re-read) may take longer. */
static apr_int64_t abandoned_after(dp_req_t *q)
{
    apr_int64_t t = (apr_int64_t)q->conf->portone_timeout * 4 + 30;

    return t > DP_IDEM_ABANDONED ? t : DP_IDEM_ABANDONED;
}

/* Runs fn under q's Idempotency-Key. */
int dp_idem_run(dp_req_t *q, dp_handler_fn *fn)
{
    const char *key = apr_table_get(q->r->headers_in, IDEM_HEADER), *hash;
    dp_problem_t *prob = NULL;
    dp_idem_row_t *row = NULL;
    dp_db_t *db;
    char claim[33], *body = NULL;
    apr_size_t len = 0;
    apr_int64_t now;
    int ret;

    if (key == NULL || q->key == NULL) {
        return fn(q);
    }
    if (!valid_key(key)) {
        return dp_fail(q, 400, "bad_idempotency_key", "the Idempotency-Key header must be 1 to %d "
                       "visible ASCII characters (no spaces or controls)", IDEM_MAX_KEY);
    }
    if (dp_read_body(&body, &len, &prob, q) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    hash = request_hash(q, body, len);
    if (dp_random_hex(claim, 16) != APR_SUCCESS) {
        return dp_fail(q, 500, "internal_error", "no random bytes for the idempotency claim");
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL) {
        return dp_send_problem(q, prob);
    }
    now = apr_time_sec(apr_time_now());
    if (claim[0] == '0') {   /* one claim in 16 purges expired keys (a failure changes nothing) */
        dp_problem_t *ignored = NULL;
        dp_store_idem_purge(&ignored, db, now - DP_IDEM_TTL);
    }
    if (dp_store_idem_claim(&row, &prob, db, q->key->name, key, hash, claim, now,
                            abandoned_after(q)) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (row->claim == NULL || strcmp(row->claim, claim) != 0) {
        if (row->request_hash == NULL || strcmp(row->request_hash, hash) != 0) {
            return dp_fail(q, 422, "idempotency_key_reused", "this Idempotency-Key was used for "
                           "another request (method, path or body) in the last 24 hours; use a new key");
        }
        if (!row->done) {
            dp_problem_t *p = dp_problem_make(q->pool, 409, "request_in_progress",
                                              "the first request with this Idempotency-Key is still "
                                              "running; retry later for its answer");
            p->retry_after = "1";
            return dp_send_problem(q, p);
        }
        if (row->body_kept && dp_store_idem_body(&prob, db, q->key->name, key, row) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        if (row->status == 0) {
            return dp_fail(q, 409, "request_in_progress", "the request with this Idempotency-Key changed "
                           "hands; retry");
        }
        return replay(q, row);
    }

    ret = fn(q);

    if (ret != OK || !q->sent || q->r->status >= 500) {
        /* nothing certain happened (or the handler could not tell): the key is free again */
        if (dp_store_idem_release(&prob, db, q->key->name, key, claim) != APR_SUCCESS) {
            DP_LOG(q, APLOG_WARNING, 0, "idempotency key not released (%s); it is free again in %"
                   APR_INT64_T_FMT " s", prob && prob->detail ? prob->detail : "database", abandoned_after(q));
        }
        return ret;
    }
    if (dp_store_idem_done(&prob, db, q->key->name, key, claim, q->r->status, q->sent_ctype,
                           q->sent_body, q->sent_len, q->target, apr_time_sec(apr_time_now()))
        != APR_SUCCESS) {
        DP_LOG(q, APLOG_WARNING, 0, "the answer to an idempotency key was not stored (%s); the key "
               "is free again in %" APR_INT64_T_FMT " s", prob && prob->detail ? prob->detail : "database",
               abandoned_after(q));
    }
    return ret;
}
