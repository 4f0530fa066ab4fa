/* dp_portone: the PortOne (iamport) V1 REST client.
 *
 * One access token per process, shared by all threads. It is refreshed before it expires
 * (the server's expired_at - now, applied to the local clock at receipt, minus a margin) by
 * one thread at a time: the others wait on a condition variable and reuse the new token, or
 * the fetch's failure. A 401 invalidates the token it was sent with (only that one), and the
 * call is retried once with a fresh token. The key, the secret and the token are never logged,
 * returned or stored. */
#include <string.h>
#include <ctype.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_atomic.h>
#include <apr_time.h>

#include "dp_portone.h"
#include "dp_json.h"
#include "dp_log.h"

#define DP_TOKEN_MAX 512
#define DP_TOKEN_MARGIN apr_time_from_sec(30)

struct dp_portone_t {
    apr_pool_t *pool;
    dp_http_t *http;
    const char *base_url;
    const char *imp_key;
    const char *imp_secret;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;
    /* under lock: */
    char token[DP_TOKEN_MAX];
    apr_time_t refresh_at;          /* local time after which the token is refreshed; 0 = none */
    apr_uint64_t generation;        /* bumped for every token installed */
    int fetching;                   /* a thread is fetching a token now */
    apr_uint64_t fetch_seq;         /* bumped when a fetch ends (success or failure) */
    int fetch_status;               /* problem of the last failed fetch (status, code, detail) */
    char fetch_code[48];
    char fetch_detail[256];
    volatile apr_uint32_t fetches;  /* getToken calls made */
};

/* Creates a client in p. */
apr_status_t dp_portone_create(dp_portone_t **pc, apr_pool_t *p, const dp_portone_opts_t *opts)
{
    dp_portone_t *c = apr_pcalloc(p, sizeof(*c));
    dp_http_opts_t ho;
    apr_size_t n;
    apr_status_t rv;

    *pc = NULL;
    if (opts->base_url == NULL || opts->imp_key == NULL || opts->imp_secret == NULL) {
        return APR_EINVAL;
    }
    memset(&ho, 0, sizeof(ho));
    ho.ca_file = opts->ca_file;
    ho.connect_timeout_ms = opts->connect_timeout_ms;
    ho.timeout_ms = opts->timeout_ms;
    ho.max_response = 4 * 1024 * 1024;
    ho.max_idle_handles = 32;
    if ((rv = dp_http_create(&c->http, p, &ho)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&c->cond, p)) != APR_SUCCESS) {
        return rv;
    }
    c->pool = p;
    c->base_url = apr_pstrdup(p, opts->base_url);
    n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/') {
        ((char *)c->base_url)[--n] = '\0';
    }
    c->imp_key = apr_pstrdup(p, opts->imp_key);
    c->imp_secret = apr_pstrdup(p, opts->imp_secret);
    *pc = c;
    return APR_SUCCESS;
}

/* Forgets curl handles and the token inherited over fork. */
void dp_portone_child_init(dp_portone_t *c)
{
    if (c == NULL) {
        return;
    }
    dp_http_child_init(c->http);
    memset(c->token, 0, sizeof(c->token));
    c->refresh_at = 0;
    c->fetching = 0;
    apr_atomic_set32(&c->fetches, 0);
}

/* Returns the getToken calls this process made. */
long dp_portone_token_fetches(dp_portone_t *c)
{
    return c ? (long)apr_atomic_read32(&c->fetches) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* mapping answers to problems */

/* True when needle (lowercase ASCII or UTF-8) occurs in hay, ignoring ASCII case. */
static int contains_ci(const char *hay, const char *needle)
{
    apr_size_t n = strlen(needle), i;

    for (; *hay; ++hay) {
        for (i = 0; i < n && hay[i] && tolower((unsigned char)hay[i]) == (unsigned char)needle[i]; ++i) {
        }
        if (i == n) {
            return 1;
        }
    }
    return 0;
}

/* True when PortOne's message says the request conflicts with the current state (duplicate
 * registration, already cancelled/paid, the checksum no longer matches). */
static int is_conflict_message(const char *msg)
{
    static const char *const words[] = {
        "already", "duplicate", "checksum", "\xec\x9d\xb4\xeb\xaf\xb8" /* 이미 */, NULL
    };
    int i;

    for (i = 0; msg && words[i]; ++i) {
        if (contains_ci(msg, words[i])) {
            return 1;
        }
    }
    return 0;
}

/* Maps a transport failure of dp_http_perform to a problem. */
apr_status_t dp_portone_transport_problem(dp_problem_t **pprob, apr_pool_t *p, apr_status_t rv)
{
    apr_status_t ret;

    if (rv == APR_TIMEUP) {
        return dp_problem_fail(pprob, p, 504, "portone_timeout", "PortOne did not answer in time");
    }
    if (rv == APR_ECONNREFUSED) {
        ret = dp_problem_fail(pprob, p, 503, "portone_unavailable", "PortOne cannot be reached");
        if (pprob && *pprob) (*pprob)->retry_after = "5";
        return ret;
    }
    if (rv == APR_ENOSPC) {
        return dp_problem_fail(pprob, p, 502, "portone_bad_response", "PortOne's answer is too large");
    }
    ret = dp_problem_fail(pprob, p, 503, "portone_unavailable",
                          "the connection to PortOne failed (TLS or network error)");
    if (pprob && *pprob) (*pprob)->retry_after = "5";
    return ret;
}

/* Maps one PortOne answer to its "response" member or a problem. */
apr_status_t dp_portone_envelope(json_object **presponse, dp_problem_t **pprob, apr_pool_t *p,
                                 int http_status, const char *body, apr_size_t len)
{
    json_object *env = NULL, *code_o = NULL;
    dp_problem_t *ignored = NULL;
    const char *msg = NULL;
    apr_int64_t code = 0;
    int has_env = 0;

    *presponse = NULL;
    if (body && len > 0 && dp_json_parse(&env, &ignored, p, body, len) == APR_SUCCESS
        && env && json_object_is_type(env, json_type_object)
        && json_object_object_get_ex(env, "code", &code_o) && json_object_is_type(code_o, json_type_int)) {
        has_env = 1;
        code = (apr_int64_t)json_object_get_int64(code_o);
        msg = dp_json_get_str(env, "message");
    }
    if (http_status == 404) {
        return dp_problem_fail(pprob, p, 404, "portone_not_found", "%s",
                               msg && *msg ? msg : "PortOne knows no such resource");
    }
    if (http_status == 401) {
        return dp_problem_fail(pprob, p, 502, "portone_auth_failed",
                               "PortOne refused the server's credentials");
    }
    if (http_status >= 500 || http_status < 200) {
        return dp_problem_fail(pprob, p, 502, "portone_error", "PortOne answered HTTP %d%s%s",
                               http_status, msg && *msg ? ": " : "", msg && *msg ? msg : "");
    }
    if (!has_env) {
        return dp_problem_fail(pprob, p, 502, "portone_bad_response",
                               "PortOne's answer (HTTP %d) is not its JSON envelope", http_status);
    }
    if (code != 0) {
        int conflict = is_conflict_message(msg);
        dp_problem_fail(pprob, p, conflict ? 409 : 422, conflict ? "portone_conflict" : "portone_rejected",
                        "%s", msg && *msg ? msg : "PortOne refused the request");
        if (pprob && *pprob) {
            dp_problem_add(*pprob, p, "portone_code", json_object_new_int64(code));
        }
        return DP_EPROBLEM;
    }
    if (http_status >= 300) {
        return dp_problem_fail(pprob, p, 502, "portone_error", "PortOne answered HTTP %d%s%s",
                               http_status, msg && *msg ? ": " : "", msg && *msg ? msg : "");
    }
    *presponse = dp_json_get(env, "response");
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* the token */

/* One HTTP exchange with PortOne; token may be NULL (getToken). */
static apr_status_t exchange(dp_http_resp_t **presp, dp_portone_t *c, apr_pool_t *p,
                             const char *method, const char *path, const char *token,
                             const char *body)
{
    dp_http_req_t req;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = apr_pstrcat(p, c->base_url, path, NULL);
    req.headers = apr_table_make(p, 4);
    apr_table_setn(req.headers, "Accept", "application/json");
    if (token) {
        apr_table_setn(req.headers, "Authorization", apr_pstrcat(p, "Bearer ", token, NULL));
    }
    if (body) {
        apr_table_setn(req.headers, "Content-Type", "application/json");
        req.body = body;
        req.body_len = strlen(body);
    }
    return dp_http_perform(presp, c->http, p, &req);
}

/* Fetches a new token (called by the one fetching thread, without the lock); on success
 * fills tok/refresh_at. */
static apr_status_t fetch_token(char *tok, apr_time_t *prefresh, dp_problem_t **pprob,
                                dp_portone_t *c, apr_pool_t *p)
{
    json_object *body = dp_json_object(p), *resp = NULL;
    dp_http_resp_t *hr = NULL;
    const char *at;
    apr_int64_t now, exp;
    apr_time_t received, offset, margin;
    apr_status_t rv;

    dp_json_set_str(body, "imp_key", c->imp_key);
    dp_json_set_str(body, "imp_secret", c->imp_secret);
    apr_atomic_inc32(&c->fetches);
    rv = exchange(&hr, c, p, "POST", "/users/getToken", NULL, dp_json_str(p, body));
    received = apr_time_now();
    if (rv != APR_SUCCESS) {
        dp_log_p(p, DP_LOG_WARNING, rv, "PortOne getToken failed (transport)");
        return dp_portone_transport_problem(pprob, p, rv);
    }
    if (hr->status == 401) {
        dp_log_p(p, DP_LOG_ERR, 0, "PortOne refused the configured key and secret (getToken: 401)");
        return dp_problem_fail(pprob, p, 502, "portone_auth_failed",
                               "PortOne refused the server's credentials");
    }
    if ((rv = dp_portone_envelope(&resp, pprob, p, hr->status, hr->body, hr->len)) != APR_SUCCESS) {
        dp_log_p(p, DP_LOG_WARNING, 0, "PortOne getToken failed: HTTP %d", hr->status);
        if (pprob && *pprob && (*pprob)->status < 500) {
            (*pprob)->status = 502;  /* a refused token request is nothing the client can fix */
            (*pprob)->code = "portone_auth_failed";
        }
        return DP_EPROBLEM;
    }
    at = dp_json_get_str(resp, "access_token");
    now = dp_json_get_int(resp, "now", -1);
    exp = dp_json_get_int(resp, "expired_at", -1);
    if (at == NULL || *at == '\0' || strlen(at) >= DP_TOKEN_MAX || strpbrk(at, "\r\n") || now < 0
        || exp <= now) {
        return dp_problem_fail(pprob, p, 502, "portone_bad_response",
                               "PortOne's getToken answer lacks access_token, now or expired_at");
    }
    offset = apr_time_from_sec(exp - now);
    margin = offset > 2 * DP_TOKEN_MARGIN ? DP_TOKEN_MARGIN : offset / 4;
    *prefresh = received + offset - margin;
    apr_cpystrn(tok, at, DP_TOKEN_MAX);
    return APR_SUCCESS;
}

/* Returns a valid token (copied into p) and its generation; fetches one when needed, one
 * thread at a time. */
static apr_status_t token_get(const char **ptok, apr_uint64_t *pgen, dp_problem_t **pprob,
                              dp_portone_t *c, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    apr_uint64_t seen_seq;

    apr_thread_mutex_lock(c->lock);
    for (;;) {
        if (c->token[0] && apr_time_now() < c->refresh_at) {
            *ptok = apr_pstrdup(p, c->token);
            *pgen = c->generation;
            apr_thread_mutex_unlock(c->lock);
            return APR_SUCCESS;
        }
        if (!c->fetching) {
            break;
        }
        seen_seq = c->fetch_seq;
        while (c->fetching && c->fetch_seq == seen_seq) {
            apr_thread_cond_wait(c->cond, c->lock);
        }
        if (c->fetch_seq != seen_seq && c->fetch_status != 0) {
            /* the fetch this thread waited for failed: share its failure, no second attempt */
            dp_problem_fail(pprob, p, c->fetch_status, apr_pstrdup(p, c->fetch_code), "%s", c->fetch_detail);
            if (pprob && *pprob && c->fetch_status >= 503) (*pprob)->retry_after = "5";
            apr_thread_mutex_unlock(c->lock);
            return DP_EPROBLEM;
        }
    }
    c->fetching = 1;
    apr_thread_mutex_unlock(c->lock);

    {
        char tok[DP_TOKEN_MAX];
        apr_time_t refresh_at = 0;
        dp_problem_t *prob = NULL;

        rv = fetch_token(tok, &refresh_at, &prob, c, p);
        apr_thread_mutex_lock(c->lock);
        c->fetching = 0;
        c->fetch_seq++;
        if (rv == APR_SUCCESS) {
            memcpy(c->token, tok, sizeof(c->token));
            c->refresh_at = refresh_at;
            c->generation++;
            c->fetch_status = 0;
            *ptok = apr_pstrdup(p, c->token);
            *pgen = c->generation;
        }
        else {
            c->fetch_status = prob ? prob->status : 502;
            apr_cpystrn(c->fetch_code, prob && prob->code ? prob->code : "portone_error", sizeof(c->fetch_code));
            apr_cpystrn(c->fetch_detail, prob && prob->detail ? prob->detail : "getToken failed",
                        sizeof(c->fetch_detail));
            if (pprob) *pprob = prob;
        }
        apr_thread_cond_broadcast(c->cond);
        apr_thread_mutex_unlock(c->lock);
        memset(tok, 0, sizeof(tok));
    }
    return rv;
}

/* Drops the token of generation gen (a 401 said it is no longer valid). */
static void token_invalidate(dp_portone_t *c, apr_uint64_t gen)
{
    apr_thread_mutex_lock(c->lock);
    if (c->generation == gen) {
        c->refresh_at = 0;
    }
    apr_thread_mutex_unlock(c->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* calls */

/* Calls PortOne and maps the envelope. */
apr_status_t dp_portone_call(json_object **presponse, dp_problem_t **pprob, dp_portone_t *c,
                             apr_pool_t *p, const char *method, const char *path, json_object *body)
{
    const char *payload = body ? dp_json_str(p, body) : NULL;
    int attempt;

    *presponse = NULL;
    if (c == NULL) {
        return dp_problem_fail(pprob, p, 503, "portone_not_configured",
                               "PortOne is not configured (DockpayPortOneKey/DockpayPortOneSecret)");
    }
    for (attempt = 0; ; ++attempt) {
        const char *tok = NULL;
        apr_uint64_t gen = 0;
        dp_http_resp_t *hr = NULL;
        apr_status_t rv;

        if ((rv = token_get(&tok, &gen, pprob, c, p)) != APR_SUCCESS) {
            return rv;
        }
        rv = exchange(&hr, c, p, method, path, tok, payload);
        if (rv != APR_SUCCESS) {
            dp_log_p(p, DP_LOG_WARNING, rv, "PortOne %s %s failed (transport)", method, path);
            return dp_portone_transport_problem(pprob, p, rv);
        }
        if (hr->status == 401) {
            token_invalidate(c, gen);
            if (attempt == 0) {
                continue;  /* expired or revoked: one fresh token, one retry */
            }
            dp_log_p(p, DP_LOG_WARNING, 0, "PortOne %s %s: 401 again with a fresh token", method, path);
            return dp_problem_fail(pprob, p, 502, "portone_auth_failed",
                                   "PortOne refused the server's credentials");
        }
        rv = dp_portone_envelope(presponse, pprob, p, hr->status, hr->body, hr->len);
        if (rv != APR_SUCCESS && pprob && *pprob && (*pprob)->status >= 500) {
            dp_log_p(p, DP_LOG_WARNING, 0, "PortOne %s %s: HTTP %d", method, path, hr->status);
        }
        return rv;
    }
}
