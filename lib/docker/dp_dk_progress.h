/* dp_dk_progress: line splitting of engine streams and the NDJSON progress parser of pull and
 * build (in-band errors, final status, image id, build log) with bounded memory. */
#ifndef DP_DK_PROGRESS_H
#define DP_DK_PROGRESS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_docker.h"
#include "dp_problem.h"

/* ------------------------------------------------------------------------------------------ */
/* line splitter */

/* Called for each complete line (without "\n" or a trailing "\r"); non-APR_SUCCESS stops. */
typedef apr_status_t dp_dk_line_fn(void *baton, const char *line, apr_size_t len);

typedef struct dp_dk_lines_t dp_dk_lines_t;

/* Creates a splitter in p that buffers at most max_line bytes of one line; longer lines are
 * skipped whole (and counted). */
dp_dk_lines_t *dp_dk_lines_create(apr_pool_t *p, apr_size_t max_line, dp_dk_line_fn *fn, void *baton);

/* Feeds len bytes (a dp_http_write_fn: baton is the dp_dk_lines_t). */
apr_status_t dp_dk_lines_feed(void *lines, const char *data, apr_size_t len);

/* Delivers a last line that had no newline. */
apr_status_t dp_dk_lines_finish(dp_dk_lines_t *l);

/* Returns how many lines were skipped for being longer than max_line. */
apr_size_t dp_dk_lines_skipped(const dp_dk_lines_t *l);

/* ------------------------------------------------------------------------------------------ */
/* progress parser */

#define DP_DK_PROGRESS_MAX_LINE  (64 * 1024)   /* longest NDJSON line kept */
#define DP_DK_PROGRESS_LOG_LINES 1000          /* build log lines kept (the last ones) */
#define DP_DK_PROGRESS_LOG_WIDTH 1000          /* bytes kept of one log line */
#define DP_DK_PROGRESS_RAW       4096          /* bytes of the stream's start kept verbatim */

typedef struct dp_dk_progress_t {
    /* results, read after dp_dk_progress_finish (strings in the pool, NULL when not seen) */
    const char *error;          /* the first in-band error ("error" or errorDetail.message) */
    const char *status;         /* the last overall status ("Downloaded newer image for x") */
    const char *digest;         /* "sha256:..." from a "Digest: " status */
    const char *id;             /* image id from aux.ID or "Successfully built <id>" */
    apr_array_header_t *tags;   /* const char*: names from "Successfully tagged <name>" */
    apr_size_t lines;           /* JSON lines seen */
    apr_size_t log_dropped;     /* log lines dropped from the front (over the cap) */
    struct dp_dk_progress_priv_t *priv;
} dp_dk_progress_t;

/* Creates a parser in p; keep_log collects the "stream"/"status" text as log lines. */
dp_dk_progress_t *dp_dk_progress_create(apr_pool_t *p, int keep_log);

/* Feeds len bytes of the stream (a dp_http_write_fn: baton is the dp_dk_progress_t). */
apr_status_t dp_dk_progress_feed(void *prog, const char *data, apr_size_t len);

/* Ends the stream: parses a last unterminated line and flushes partial log text. */
void dp_dk_progress_finish(dp_dk_progress_t *g);

/* Returns the kept log lines, oldest first, as a new array owned by p. */
json_object *dp_dk_progress_log(dp_dk_progress_t *g, apr_pool_t *p);

/* Returns the first bytes of the stream verbatim (an error answer's body) and their length. */
const char *dp_dk_progress_raw(dp_dk_progress_t *g, apr_size_t *plen);

/* Sends req (an engine path in req->url) through d, parsing the answer with g. An engine
 * status >= 400 becomes the problem dp_docker_problem makes of it (*pstatus gets the status);
 * APR_ECONNABORTED when a caller's callback (read/tick) stopped the transfer. */
apr_status_t dp_dk_progress_call(int *pstatus, dp_problem_t **pprob, dp_dk_progress_t *g,
                                 dp_docker_t *d, apr_pool_t *p, dp_http_req_t *req);

/* Pulls ref (which names a tag or digest) through d, reading the whole progress stream into a
 * new *pg; auth (or NULL) goes in X-Registry-Auth; tick (or NULL) may stop it. An engine error
 * or an in-band error is a problem: 404 image_not_found when the message says the image does not
 * exist, else 502 pull_failed. APR_ECONNABORTED when tick stopped the transfer. */
apr_status_t dp_dk_pull(dp_dk_progress_t **pg, dp_problem_t **pprob, dp_docker_t *d, apr_pool_t *p,
                        const char *ref, const char *auth, dp_http_tick_fn *tick, void *tick_baton,
                        long timeout_ms);

#endif
