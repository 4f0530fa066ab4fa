/* dp_problem: RFC 9457 problem details, the one error shape of the API. */
#ifndef DP_PROBLEM_H
#define DP_PROBLEM_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_util.h"

typedef struct dp_problem_t {
    int status;               /* HTTP status */
    const char *code;         /* stable snake_case code clients switch on */
    const char *title;        /* short summary; defaults to the status phrase */
    const char *detail;       /* human-readable explanation of this occurrence */
    const char *retry_after;  /* value of a Retry-After header, or NULL */
    json_object *ext;         /* extension members (an object owned by the pool), or NULL */
} dp_problem_t;

/* Makes a problem in p with a printf-style detail. */
dp_problem_t *dp_problem_make(apr_pool_t *p, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds an extension member (takes the reference of val) and returns prob. */
dp_problem_t *dp_problem_add(dp_problem_t *prob, apr_pool_t *p, const char *key, json_object *val);

/* Sets *pprob to a new problem (if pprob is not NULL) and returns DP_EPROBLEM. */
apr_status_t dp_problem_fail(dp_problem_t **pprob, apr_pool_t *p, int status, const char *code,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Builds the problem+json body of prob as a pool-owned JSON object. */
json_object *dp_problem_json(apr_pool_t *p, const dp_problem_t *prob);

/* Returns the standard reason phrase of an HTTP status ("Not Found"). */
const char *dp_status_phrase(int status);

#endif
