/* dp_problem: RFC 9457 problem details. */
#include <stdarg.h>
#include <apr_strings.h>

#include "dp_problem.h"
#include "dp_json_value.h"

/* Returns the standard reason phrase of an HTTP status. */
const char *dp_status_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Error";
    }
}

static dp_problem_t *problem_vmake(apr_pool_t *p, int status, const char *code,
                                   const char *fmt, va_list ap)
{
    dp_problem_t *prob = apr_pcalloc(p, sizeof(*prob));

    prob->status = status;
    prob->code = code;
    prob->title = dp_status_phrase(status);
    prob->detail = fmt ? apr_pvsprintf(p, fmt, ap) : NULL;
    return prob;
}

/* Makes a problem in p with a printf-style detail. */
dp_problem_t *dp_problem_make(apr_pool_t *p, int status, const char *code, const char *fmt, ...)
{
    dp_problem_t *prob;
    va_list ap;

    va_start(ap, fmt);
    prob = problem_vmake(p, status, code, fmt, ap);
    va_end(ap);
    return prob;
}

/* Sets *pprob to a new problem and returns DP_EPROBLEM. */
apr_status_t dp_problem_fail(dp_problem_t **pprob, apr_pool_t *p, int status, const char *code,
                             const char *fmt, ...)
{
    va_list ap;

    if (pprob) {
        va_start(ap, fmt);
        *pprob = problem_vmake(p, status, code, fmt, ap);
        va_end(ap);
    }
    return DP_EPROBLEM;
}

/* Adds an extension member (takes the reference of val). */
dp_problem_t *dp_problem_add(dp_problem_t *prob, apr_pool_t *p, const char *key, json_object *val)
{
    if (prob->ext == NULL) {
        prob->ext = dp_json_object(p);
    }
    json_object_object_add(prob->ext, key, val);
    return prob;
}

/* Builds the problem+json body of prob. */
json_object *dp_problem_json(apr_pool_t *p, const dp_problem_t *prob)
{
    json_object *o = dp_json_object(p);

    json_object_object_add(o, "type", json_object_new_string("about:blank"));
    json_object_object_add(o, "title", json_object_new_string(prob->title ? prob->title
                                                              : dp_status_phrase(prob->status)));
    json_object_object_add(o, "status", json_object_new_int(prob->status));
    if (prob->detail) {
        json_object_object_add(o, "detail", json_object_new_string(prob->detail));
    }
    json_object_object_add(o, "code", json_object_new_string(prob->code ? prob->code : "error"));
    if (prob->ext) {
        json_object_object_foreach(prob->ext, k, v) {
            if (json_object_object_get_ex(o, k, NULL)) {
                continue; /* the standard members win */
            }
            json_object_object_add(o, k, json_object_get(v));
        }
    }
    return o;
}
