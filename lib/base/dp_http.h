/* dp_http: the one HTTP client of the project (the only file that includes curl). */
#ifndef DP_HTTP_H
#define DP_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "dp_util.h"

typedef struct dp_http_t dp_http_t;

typedef struct dp_http_opts_t {
    const char *unix_socket;   /* talk to this unix socket (Docker), or NULL for TCP */
    const char *ca_file;       /* CA bundle for TLS verification, or NULL for the system's */
    long connect_timeout_ms;   /* connect timeout (0: 5 s) */
    long timeout_ms;           /* whole-transfer timeout (0: 30 s) */
    apr_size_t max_response;   /* buffered response cap in bytes (0: 8 MiB) */
    int max_idle_handles;      /* easy handles kept for reuse (0: 16) */
} dp_http_opts_t;

/* Streamed response data; return non-APR_SUCCESS to abort the transfer. */
typedef apr_status_t dp_http_write_fn(void *baton, const char *data, apr_size_t len);
/* Streamed request body: fill up to *len bytes of buf, set *len (0 at the end). */
typedef apr_status_t dp_http_read_fn(void *baton, char *buf, apr_size_t *len);
/* Called about once a second while a transfer runs; non-APR_SUCCESS aborts it. */
typedef apr_status_t dp_http_tick_fn(void *baton);

typedef struct dp_http_req_t {
    const char *method;        /* "GET", "POST", ... */
    const char *url;           /* absolute URL ("http://localhost/v1.41/_ping" on a socket) */
    apr_table_t *headers;      /* request headers, or NULL (CR/LF in any is refused) */
    const char *body;          /* request body, or NULL */
    apr_size_t body_len;
    dp_http_read_fn *read_cb;  /* or: stream the request body from this callback */
    void *read_baton;
    dp_http_write_fn *write_cb;/* stream the response body here instead of buffering it */
    void *write_baton;
    dp_http_tick_fn *tick_cb;  /* periodic callback (abort checks, heartbeats) */
    void *tick_baton;
    long timeout_ms;           /* 0: client default; -1: no overall timeout (streams) */
    apr_size_t max_response;   /* 0: client default */
} dp_http_req_t;

typedef struct dp_http_resp_t {
    int status;                /* HTTP status */
    apr_table_t *headers;      /* response headers (last response of the transfer) */
    char *body;                /* buffered body, NUL-terminated (empty when streamed) */
    apr_size_t len;
} dp_http_resp_t;

/* Initialises libcurl once; call in post_config (single-threaded). */
apr_status_t dp_http_global_init(void);

/* Creates a client in p (process lifetime); thread-safe afterwards. */
apr_status_t dp_http_create(dp_http_t **phttp, apr_pool_t *p, const dp_http_opts_t *opts);

/* Performs req; the response lives in p. Errors: APR_ECONNREFUSED (unreachable), APR_TIMEUP
 * (timed out), APR_ENOSPC (response over the cap), APR_ECONNABORTED (a callback aborted),
 * APR_EINVAL (bad request), APR_EGENERAL (anything else). */
apr_status_t dp_http_perform(dp_http_resp_t **presp, dp_http_t *h, apr_pool_t *p,
                             const dp_http_req_t *req);

/* Forgets the idle handles inherited over fork (never cleans them up); call in child_init. */
void dp_http_child_init(dp_http_t *h);

/* Returns the number of new connections the client has opened (for benchmarks and tests). */
long dp_http_connects(dp_http_t *h);

#endif
