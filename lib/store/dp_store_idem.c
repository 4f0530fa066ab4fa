/* dp_store_idem: idempotency-key records through labelled statements. */
#include <string.h>
#include <apr_strings.h>
#include <apr_base64.h>

#include "dp_store_idem.h"
#include "dp_util.h"

const dp_stmt_def_t dp_store_idem_statements[] = {
    /* one statement, so the claim is atomic across servers: the primary key makes a second
     * INSERT of the same pair an UPDATE of the existing row, which only takes the row over
     * (claim := the new token) when it expired or its request died. Assignments run left to
     * right: the later ones see the new claim. */
    { "idem_claim",
      "INSERT INTO idempotency_keys (key_name, idem_key, request_hash, claim, state, created_at, updated_at) "
      "VALUES (%s, %s, %s, %s, 'pending', %lld, %lld) "
      "ON DUPLICATE KEY UPDATE "
      "claim = IF(created_at < %lld OR (state = 'pending' AND updated_at < %lld), VALUES(claim), claim), "
      "request_hash = IF(claim = VALUES(claim), VALUES(request_hash), request_hash), "
      "state = IF(claim = VALUES(claim), 'pending', state), "
      "status = IF(claim = VALUES(claim), NULL, status), "
      "content_type = IF(claim = VALUES(claim), NULL, content_type), "
      "body_b64 = IF(claim = VALUES(claim), NULL, body_b64), "
      "target = IF(claim = VALUES(claim), NULL, target), "
      "created_at = IF(claim = VALUES(claim), VALUES(created_at), created_at), "
      "updated_at = IF(claim = VALUES(claim), VALUES(updated_at), updated_at)" },
    { "idem_get",
      "SELECT claim, request_hash, state, status, content_type, body_b64 IS NOT NULL, target, created_at "
      "FROM idempotency_keys WHERE key_name = %s AND idem_key = %s" },
    /* apart: the driver gives a text column a buffer of up to its fldsz (1 MiB) per row */
    { "idem_body",
      "SELECT body_b64 FROM idempotency_keys WHERE key_name = %s AND idem_key = %s AND claim = %s" },
    { "idem_done",
      "UPDATE idempotency_keys SET state = 'done', status = %d, content_type = %s, body_b64 = %s, "
      "target = %s, updated_at = %lld WHERE key_name = %s AND idem_key = %s AND claim = %s" },
    { "idem_release",
      "DELETE FROM idempotency_keys WHERE key_name = %s AND idem_key = %s AND claim = %s" },
    { "idem_purge", "DELETE FROM idempotency_keys WHERE created_at < %lld LIMIT 100" },
    { NULL, NULL }
};

/* Reads the row of (key_name, idem_key) into *prow (NULL when there is none). */
static apr_status_t idem_get(dp_idem_row_t **prow, dp_problem_t **pprob, dp_db_t *db,
                             const char *key_name, const char *idem_key)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[2];
    apr_status_t rv;

    *prow = NULL;
    args[0] = key_name;
    args[1] = idem_key;
    if ((rv = dp_store_select(&res, pprob, db, "idem_get", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        dp_idem_row_t *r = apr_pcalloc(db->pool, sizeof(*r));
        const char *state = dp_store_col(db, row, 2), *st = dp_store_col(db, row, 3);
        const char *kept = dp_store_col(db, row, 5), *created = dp_store_col(db, row, 7);
        apr_int64_t n = 0;

        r->claim = dp_store_col(db, row, 0);
        r->request_hash = dp_store_col(db, row, 1);
        r->done = state && strcmp(state, "done") == 0;
        if (st && dp_parse_int(&n, st, 100, 599) == APR_SUCCESS) {
            r->status = (int)n;
        }
        r->content_type = dp_store_col(db, row, 4);
        r->body_kept = kept && strcmp(kept, "1") == 0;
        r->target = dp_store_col(db, row, 6);
        if (created && dp_parse_int(&n, created, 0, APR_INT64_MAX) == APR_SUCCESS) {
            r->created_at = n;
        }
        if (*prow == NULL) {
            *prow = r;
        }
    }
    return APR_SUCCESS;
}

/* Reads the stored body of row (held by row->claim) into row->body. */
apr_status_t dp_store_idem_body(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                                const char *idem_key, dp_idem_row_t *row)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *dbrow = NULL;
    const void *args[3];
    apr_status_t rv;

    row->body = NULL;
    row->body_len = 0;
    args[0] = key_name;
    args[1] = idem_key;
    args[2] = row->claim;
    if ((rv = dp_store_select(&res, pprob, db, "idem_body", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &dbrow, -1) == 0) {
        const char *b64 = apr_dbd_get_entry(db->driver, dbrow, 0);
        if (b64 && row->body == NULL) {
            char *body = apr_palloc(db->pool, (apr_size_t)apr_base64_decode_len(b64) + 1);
            int len = apr_base64_decode(body, b64);
            body[len > 0 ? len : 0] = '\0';
            row->body = body;
            row->body_len = len > 0 ? (apr_size_t)len : 0;
        }
    }
    if (row->body == NULL) {   /* taken over or released in between: nothing to replay */
        row->body_kept = 0;
        row->status = 0;
    }
    return APR_SUCCESS;
}

/* Claims (key_name, idem_key) for a request. */
apr_status_t dp_store_idem_claim(dp_idem_row_t **prow, dp_problem_t **pprob, dp_db_t *db,
                                 const char *key_name, const char *idem_key, const char *hash,
                                 const char *claim, apr_int64_t now, apr_int64_t abandoned)
{
    apr_int64_t expired = now - DP_IDEM_TTL, stale = now - abandoned;
    const void *args[8];
    apr_status_t rv;

    *prow = NULL;
    args[0] = key_name;
    args[1] = idem_key;
    args[2] = hash;
    args[3] = claim;
    args[4] = &now;
    args[5] = &now;
    args[6] = &expired;
    args[7] = &stale;
    if ((rv = dp_store_exec(NULL, pprob, db, "idem_claim", args)) != APR_SUCCESS
        || (rv = idem_get(prow, pprob, db, key_name, idem_key)) != APR_SUCCESS) {
        return rv;
    }
    if (*prow == NULL) {   /* deleted in between by a 5xx release or a purge: a lost race */
        return dp_problem_fail(pprob, db->pool, 409, "request_in_progress",
                               "another request with this Idempotency-Key is changing it; retry");
    }
    return APR_SUCCESS;
}

/* Stores the answer of the request holding claim. */
apr_status_t dp_store_idem_done(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                                const char *idem_key, const char *claim, int status,
                                const char *content_type, const char *body, apr_size_t len,
                                const char *target, apr_int64_t now)
{
    const void *args[8];
    char *b64 = NULL;

    if (len <= DP_IDEM_MAX_BODY) {
        b64 = apr_palloc(db->pool, (apr_size_t)apr_base64_encode_len((int)len));
        apr_base64_encode(b64, len ? body : "", (int)len);
    }
    args[0] = &status;
    args[1] = content_type ? dp_str_clean(db->pool, content_type, 64) : NULL;
    args[2] = b64;
    args[3] = target ? dp_str_clean(db->pool, target, 255) : NULL;
    args[4] = &now;
    args[5] = key_name;
    args[6] = idem_key;
    args[7] = claim;
    return dp_store_exec(NULL, pprob, db, "idem_done", args);
}

/* Gives the key back. */
apr_status_t dp_store_idem_release(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                                   const char *idem_key, const char *claim)
{
    const void *args[3];

    args[0] = key_name;
    args[1] = idem_key;
    args[2] = claim;
    return dp_store_exec(NULL, pprob, db, "idem_release", args);
}

/* Deletes up to 100 expired rows. */
apr_status_t dp_store_idem_purge(dp_problem_t **pprob, dp_db_t *db, apr_int64_t before)
{
    const void *args[1];

    args[0] = &before;
    return dp_store_exec(NULL, pprob, db, "idem_purge", args);
}
