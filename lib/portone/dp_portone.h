/* dp_portone: the PortOne (iamport) V1 REST client: one token per process, envelope mapping. */
#ifndef DP_PORTONE_H
#define DP_PORTONE_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_http.h"
#include "dp_problem.h"

typedef struct dp_portone_t dp_portone_t;

typedef struct dp_portone_opts_t {
    const char *base_url;      /* "https://api.iamport.kr" (no trailing '/') */
    const char *imp_key;       /* secret: never logged */
    const char *imp_secret;    /* secret: never logged */
    const char *ca_file;       /* CA bundle for tests, or NULL */
    long connect_timeout_ms;
    long timeout_ms;
} dp_portone_opts_t;

/* Creates a client in p (process lifetime); thread-safe afterwards. */
apr_status_t dp_portone_create(dp_portone_t **pc, apr_pool_t *p, const dp_portone_opts_t *opts);

/* Forgets curl handles (and the token) inherited over fork; call in child_init. */
void dp_portone_child_init(dp_portone_t *c);

/* Calls PortOne: method + path ("/payments/imp_123"), optional JSON body; on code 0 sets
 * *presponse to the envelope's "response" (borrowed from a value owned by p; may be NULL).
 * Maps failures to problems: HTTP 404 -> 404; business errors (code != 0) -> 409/422 with
 * PortOne's message in detail and "portone_code"; 401 after one refresh -> 502;
 * unreachable -> 503; timeout -> 504. */
apr_status_t dp_portone_call(json_object **presponse, dp_problem_t **pprob, dp_portone_t *c,
                             apr_pool_t *p, const char *method, const char *path, json_object *body);

/* Returns the getToken calls this process made (tests, benchmarks). */
long dp_portone_token_fetches(dp_portone_t *c);

/* Maps one PortOne answer (HTTP status and body) to its "response" member or a problem: the
 * mapping dp_portone_call applies (exposed for tests and fuzzing). */
apr_status_t dp_portone_envelope(json_object **presponse, dp_problem_t **pprob, apr_pool_t *p,
                                 int http_status, const char *body, apr_size_t len);

/* Maps a dp_http_perform failure to a problem: 503 unreachable, 504 timeout, 502 otherwise. */
apr_status_t dp_portone_transport_problem(dp_problem_t **pprob, apr_pool_t *p, apr_status_t rv);

#endif
