/* dp_docker: the Docker Engine API client over its unix socket (versioned paths). */
#ifndef DP_DOCKER_H
#define DP_DOCKER_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_http.h"
#include "dp_problem.h"

/* Lowest Engine API version we talk, and the highest we know. */
#define DP_DOCKER_API_MIN "1.41"
#define DP_DOCKER_API_MAX "1.45"

typedef struct dp_docker_t dp_docker_t;

/* Creates a client for endpoint ("unix:///var/run/docker.sock") in p (process lifetime). */
apr_status_t dp_docker_create(dp_docker_t **pd, const char **perr, apr_pool_t *p,
                              const char *endpoint, long connect_timeout_ms, long timeout_ms);

/* Forgets curl handles inherited over fork; call in child_init. */
void dp_docker_child_init(dp_docker_t *d);

/* Returns the socket path of the client. */
const char *dp_docker_socket(const dp_docker_t *d);

/* Returns the negotiated API version ("1.41", valid for the process's life), negotiating once per process; 503 problem
 * when the engine cannot be reached or is older than DP_DOCKER_API_MIN. */
apr_status_t dp_docker_version(const char **pversion, dp_problem_t **pprob, dp_docker_t *d,
                               apr_pool_t *p);

/* Checks that the engine answers /_ping within timeout_ms. */
apr_status_t dp_docker_ping(dp_problem_t **pprob, dp_docker_t *d, apr_pool_t *p, long timeout_ms);

/* Sends req to the engine: req->url is a path below the version ("/containers/json?all=1"),
 * rewritten to the versioned URL. Transport failures become problems (unreachable 503,
 * timeout 504, oversized 502); any HTTP status is returned in *presp for the caller. */
apr_status_t dp_docker_send(dp_http_resp_t **presp, dp_problem_t **pprob, dp_docker_t *d,
                            apr_pool_t *p, dp_http_req_t *req);

/* Calls method path with an optional JSON body and parses a JSON answer into *pjson (NULL for
 * an empty one). Statuses >= 400 become problems from Docker's message: 404 and 409 pass
 * through, 400 is 400, 403 is 409, 5xx is 502. *pstatus gets the engine's status (304 is no
 * error). */
apr_status_t dp_docker_call(json_object **pjson, int *pstatus, dp_problem_t **pprob, dp_docker_t *d,
                            apr_pool_t *p, const char *method, const char *path, json_object *body);

/* Makes the problem for an engine error answer (status + body, JSON or plain text). */
dp_problem_t *dp_docker_problem(apr_pool_t *p, int status, const char *body, apr_size_t len);

/* Returns the process's HTTP client for the engine (connection counts, streaming calls). */
dp_http_t *dp_docker_http(dp_docker_t *d);

#endif
