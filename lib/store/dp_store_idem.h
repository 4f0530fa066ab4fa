/* dp_store_idem: idempotency-key records (db/migrations/006_idempotency.sql) through labelled
 * statements. A row belongs to one (API key name, Idempotency-Key) pair; the request that
 * inserted or took it over holds it by its random claim token until it stores its answer
 * (done) or gives the key back (a 5xx). */
#ifndef DP_STORE_IDEM_H
#define DP_STORE_IDEM_H

#include <apr_pools.h>

#include "dp_store.h"

/* How long a key is kept (seconds): an older row is ignored, taken over and purged. */
#define DP_IDEM_TTL 86400
/* A pending row this old (seconds) belongs to a request that died: it may be taken over
 * (at least; the caller passes more when its upstream calls may take longer). */
#define DP_IDEM_ABANDONED 120
/* The largest response body stored for a replay (bytes). */
#define DP_IDEM_MAX_BODY (64 * 1024)

/* One idempotency row as read back after a claim. */
typedef struct dp_idem_row_t {
    const char *claim;          /* the token of the request holding the row */
    const char *request_hash;   /* hex SHA-256 of the request */
    int done;                   /* 1: the answer is stored; 0: pending */
    int status;                 /* the stored status (done) */
    const char *content_type;   /* the stored Content-Type, or NULL */
    const char *body;           /* the stored body (decoded, in db->pool; dp_store_idem_body) */
    apr_size_t body_len;
    int body_kept;              /* 0 when the body was over DP_IDEM_MAX_BODY and not stored */
    const char *target;         /* the stored audit target, or NULL */
    apr_int64_t created_at;
} dp_idem_row_t;

/* Claims (key_name, idem_key) for a request with hash and the fresh random token claim at
 * now, in one statement: inserts the row, or takes over a row older than DP_IDEM_TTL or a
 * pending one not touched for abandoned seconds; then reads the row back into *prow (its claim
 * equals claim when this request holds it). */
apr_status_t dp_store_idem_claim(dp_idem_row_t **prow, dp_problem_t **pprob, dp_db_t *db,
                                 const char *key_name, const char *idem_key, const char *hash,
                                 const char *claim, apr_int64_t now, apr_int64_t abandoned);

/* Reads the stored body of a done row (claim row->claim) into row->body/body_len; when the
 * row changed hands meanwhile, body_kept and status become 0. */
apr_status_t dp_store_idem_body(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                                const char *idem_key, dp_idem_row_t *row);

/* Stores the answer of the request holding claim (status, content_type may be NULL, body of
 * len bytes; over DP_IDEM_MAX_BODY only the status is kept) and marks the row done. */
apr_status_t dp_store_idem_done(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                                const char *idem_key, const char *claim, int status,
                                const char *content_type, const char *body, apr_size_t len,
                                const char *target, apr_int64_t now);

/* Gives the key back: deletes the row if claim still holds it. */
apr_status_t dp_store_idem_release(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                                   const char *idem_key, const char *claim);

/* Deletes up to 100 rows created before before (the opportunistic purge). */
apr_status_t dp_store_idem_purge(dp_problem_t **pprob, dp_db_t *db, apr_int64_t before);

#endif
