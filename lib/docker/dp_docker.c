/* dp_docker: the Docker Engine API client over its unix socket. */
#include <string.h>
#include <stdio.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_atomic.h>

#include "dp_docker.h"
#include "dp_json.h"
#include "dp_log.h"

struct dp_docker_t {
    apr_pool_t *pool;
    const char *socket;
    dp_http_t *http;
    apr_thread_mutex_t *lock;
    char version[16];          /* negotiated once, then never written again */
    volatile apr_uint32_t negotiated;  /* set (atomically) after version is written */
};

/* Creates a client for endpoint in p. */
apr_status_t dp_docker_create(dp_docker_t **pd, const char **perr, apr_pool_t *p,
                              const char *endpoint, long connect_timeout_ms, long timeout_ms)
{
    dp_docker_t *d = apr_pcalloc(p, sizeof(*d));
    dp_http_opts_t o;
    apr_status_t rv;

    *perr = NULL;
    if (!strncmp(endpoint, "unix://", 7)) {
        d->socket = endpoint + 7;
    }
    else if (!strncmp(endpoint, "unix:", 5)) {
        d->socket = endpoint + 5;
    }
    if (d->socket == NULL || d->socket[0] != '/' || strlen(d->socket) > 100) {
        *perr = "the Docker endpoint must be unix:///absolute/path/to/docker.sock";
        return APR_EINVAL;
    }
    d->socket = apr_pstrdup(p, d->socket);
    d->pool = p;
    memset(&o, 0, sizeof(o));
    o.unix_socket = d->socket;
    o.connect_timeout_ms = connect_timeout_ms;
    o.timeout_ms = timeout_ms;
    o.max_response = 32 * 1024 * 1024;
    o.max_idle_handles = 32;
    if ((rv = dp_http_create(&d->http, p, &o)) != APR_SUCCESS) {
        *perr = "cannot create the HTTP client";
        return rv;
    }
    if ((rv = apr_thread_mutex_create(&d->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        *perr = "cannot create a mutex";
        return rv;
    }
    *pd = d;
    return APR_SUCCESS;
}

/* Forgets curl handles inherited over fork. */
void dp_docker_child_init(dp_docker_t *d)
{
    dp_http_child_init(d->http);
}

/* Returns the socket path of the client. */
const char *dp_docker_socket(const dp_docker_t *d)
{
    return d->socket;
}

/* Returns the process's HTTP client for the engine. */
dp_http_t *dp_docker_http(dp_docker_t *d)
{
    return d->http;
}

static apr_status_t transport_problem(dp_problem_t **pprob, apr_pool_t *p, dp_docker_t *d,
                                      apr_status_t rv)
{
    if (rv == APR_TIMEUP) {
        return dp_problem_fail(pprob, p, 504, "docker_timeout",
                               "the Docker engine did not answer in time");
    }
    if (rv == APR_ENOSPC) {
        return dp_problem_fail(pprob, p, 502, "docker_response_too_large",
                               "the Docker engine's answer was larger than this server accepts");
    }
    if (rv == APR_ECONNABORTED) {
        return dp_problem_fail(pprob, p, 502, "docker_aborted", "the transfer was aborted");
    }
    dp_problem_fail(pprob, p, 503, "docker_unavailable",
                    "the Docker engine at %s cannot be reached", d->socket);
    if (pprob && *pprob) {
        (*pprob)->retry_after = "5";
    }
    return DP_EPROBLEM;
}

/* Compares "1.41"-style versions. */
static int version_cmp(const char *a, const char *b)
{
    int amaj = 0, amin = 0, bmaj = 0, bmin = 0;

    sscanf(a, "%d.%d", &amaj, &amin);
    sscanf(b, "%d.%d", &bmaj, &bmin);
    if (amaj != bmaj) return amaj < bmaj ? -1 : 1;
    if (amin != bmin) return amin < bmin ? -1 : 1;
    return 0;
}

/* Returns the negotiated API version, negotiating once per process. */
apr_status_t dp_docker_version(const char **pversion, dp_problem_t **pprob, dp_docker_t *d,
                               apr_pool_t *p)
{
    dp_http_req_t req;
    dp_http_resp_t *resp;
    const char *daemon;
    apr_status_t rv;

    if (apr_atomic_read32(&d->negotiated)) {
        *pversion = d->version;  /* the hot path: no lock once negotiated */
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(d->lock);
    if (d->version[0]) {
        *pversion = d->version;
        apr_thread_mutex_unlock(d->lock);
        return APR_SUCCESS;
    }
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "http://localhost/_ping";
    req.timeout_ms = 5000;
    rv = dp_http_perform(&resp, d->http, p, &req);
    if (rv != APR_SUCCESS) {
        apr_thread_mutex_unlock(d->lock);
        return transport_problem(pprob, p, d, rv);
    }
    daemon = apr_table_get(resp->headers, "Api-Version");
    if (resp->status != 200 || daemon == NULL || strlen(daemon) >= sizeof(d->version)) {
        apr_thread_mutex_unlock(d->lock);
        return dp_problem_fail(pprob, p, 502, "docker_bad_ping",
                               "the Docker engine's /_ping gave no usable Api-Version");
    }
    if (version_cmp(daemon, DP_DOCKER_API_MIN) < 0) {
        apr_thread_mutex_unlock(d->lock);
        return dp_problem_fail(pprob, p, 502, "docker_too_old",
                               "the Docker engine speaks API %s; at least %s is needed",
                               daemon, DP_DOCKER_API_MIN);
    }
    apr_cpystrn(d->version, version_cmp(daemon, DP_DOCKER_API_MAX) < 0 ? daemon : DP_DOCKER_API_MAX,
                sizeof(d->version));
    apr_atomic_set32(&d->negotiated, 1);
    dp_log_p(p, DP_LOG_INFO, 0, "Docker engine API %s, using %s", daemon, d->version);
    *pversion = d->version;
    apr_thread_mutex_unlock(d->lock);
    return APR_SUCCESS;
}

/* Checks that the engine answers /_ping within timeout_ms. */
apr_status_t dp_docker_ping(dp_problem_t **pprob, dp_docker_t *d, apr_pool_t *p, long timeout_ms)
{
    dp_http_req_t req;
    dp_http_resp_t *resp;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "http://localhost/_ping";
    req.timeout_ms = timeout_ms;
    rv = dp_http_perform(&resp, d->http, p, &req);
    if (rv != APR_SUCCESS) {
        return transport_problem(pprob, p, d, rv);
    }
    if (resp->status != 200) {
        return dp_problem_fail(pprob, p, 502, "docker_bad_ping", "the Docker engine answered %d to /_ping",
                               resp->status);
    }
    return APR_SUCCESS;
}

/* Sends req to the engine below the negotiated version. */
apr_status_t dp_docker_send(dp_http_resp_t **presp, dp_problem_t **pprob, dp_docker_t *d,
                            apr_pool_t *p, dp_http_req_t *req)
{
    const char *version, *path = req->url;
    apr_status_t rv;

    if ((rv = dp_docker_version(&version, pprob, d, p)) != APR_SUCCESS) {
        return rv;
    }
    req->url = apr_pstrcat(p, "http://localhost/v", version, path, NULL);
    rv = dp_http_perform(presp, d->http, p, req);
    req->url = path;
    if (rv == APR_ECONNABORTED && req->write_cb) {
        return rv;  /* the caller's stream ended it: not an upstream failure */
    }
    if (rv != APR_SUCCESS) {
        return transport_problem(pprob, p, d, rv);
    }
    return APR_SUCCESS;
}

/* Makes the problem for an engine error answer. */
dp_problem_t *dp_docker_problem(apr_pool_t *p, int status, const char *body, apr_size_t len)
{
    const char *msg = NULL;
    json_object *j = NULL;
    int out;
    const char *code;

    if (body && len && dp_json_parse(&j, NULL, p, body, len) == APR_SUCCESS) {
        msg = dp_json_get_str(j, "message");
    }
    if (msg == NULL) {
        msg = (body && len) ? apr_pstrmemdup(p, body, len > 512 ? 512 : len) : "no message";
    }
    switch (status) {
    case 400: out = 400; code = "docker_bad_request"; break;
    case 403: out = 409; code = "docker_refused"; break;  /* e.g. a network still in use */
    case 404: out = 404; code = "not_found"; break;
    case 409: out = 409; code = "conflict"; break;
    default:  out = 502; code = "docker_error"; break;
    }
    return dp_problem_make(p, out, code, "Docker: %s", msg);
}

/* Calls method path with an optional JSON body and parses a JSON answer. */
apr_status_t dp_docker_call(json_object **pjson, int *pstatus, dp_problem_t **pprob, dp_docker_t *d,
                            apr_pool_t *p, const char *method, const char *path, json_object *body)
{
    dp_http_req_t req;
    dp_http_resp_t *resp;
    apr_table_t *h = apr_table_make(p, 2);
    apr_status_t rv;

    if (pjson) {
        *pjson = NULL;
    }
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = path;
    if (body) {
        req.body = dp_json_str(p, body);
        req.body_len = strlen(req.body);
        apr_table_setn(h, "Content-Type", "application/json");
    }
    req.headers = h;
    if ((rv = dp_docker_send(&resp, pprob, d, p, &req)) != APR_SUCCESS) {
        return rv;
    }
    if (pstatus) {
        *pstatus = resp->status;
    }
    if (resp->status >= 400) {
        if (pprob) {
            *pprob = dp_docker_problem(p, resp->status, resp->body, resp->len);
        }
        return DP_EPROBLEM;
    }
    if (pjson && resp->len > 0) {
        if (dp_json_parse(pjson, NULL, p, resp->body, resp->len) != APR_SUCCESS) {
            return dp_problem_fail(pprob, p, 502, "docker_bad_response",
                                   "the Docker engine's answer is not JSON");
        }
    }
    return APR_SUCCESS;
}
