/* dp_memo: a small per-process memo of computed answers (a JSON page, a health state), each
 * kept for a short time and only for the data generation it was computed from. Thread-safe;
 * bounded in entries and bytes; copies in and out, so no caller ever holds a shared buffer. */
#ifndef DP_MEMO_H
#define DP_MEMO_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct dp_memo_t dp_memo_t;

/* Creates a memo in p of at most max_entries answers of at most max_bytes each, each valid
 * for ttl after it was stored; p must outlive every user (a process pool). */
apr_status_t dp_memo_create(dp_memo_t **pmemo, apr_pool_t *p, unsigned max_entries,
                            apr_size_t max_bytes, apr_interval_time_t ttl);

/* Copies into p the answer stored for key at generation gen less than ttl before now;
 * APR_NOTFOUND when there is none (absent, older, or of another generation). */
apr_status_t dp_memo_get(const char **pval, apr_size_t *plen, dp_memo_t *memo, apr_pool_t *p,
                         const char *key, apr_uint32_t gen, apr_time_t now);

/* Stores a copy of val (len bytes) for key, computed from data read at generation gen, at
 * time now; an answer over max_bytes is not stored. A full memo starts over empty. */
apr_status_t dp_memo_put(dp_memo_t *memo, const char *key, apr_uint32_t gen, apr_time_t now,
                         const char *val, apr_size_t len);

/* Number of answers held now (for tests). */
unsigned dp_memo_count(dp_memo_t *memo);

#endif
