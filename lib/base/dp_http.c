/* dp_http: the one HTTP client of the project, on libcurl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_atomic.h>
#include <apr_time.h>

#include "dp_http.h"

#define DP_HTTP_MAX_HANDLES 64

struct dp_http_t {
    apr_pool_t *pool;
    dp_http_opts_t opts;
    apr_thread_mutex_t *lock;
    CURL *idle[DP_HTTP_MAX_HANDLES];
    int nidle;
    volatile apr_uint32_t connects;
};

typedef struct {
    apr_pool_t *p;
    const dp_http_req_t *req;
    dp_http_resp_t *resp;
    char *buf;
    apr_size_t len, cap, limit;
    int over_limit;
    int aborted;
    apr_time_t last_tick;
} xfer_t;

/* Initialises libcurl once. */
apr_status_t dp_http_global_init(void)
{
    static int done;

    if (!done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            return APR_EGENERAL;
        }
        done = 1;
    }
    return APR_SUCCESS;
}

static apr_status_t http_cleanup(void *data)
{
    dp_http_t *h = data;
    int i;

    for (i = 0; i < h->nidle; ++i) {
        curl_easy_cleanup(h->idle[i]);
    }
    h->nidle = 0;
    return APR_SUCCESS;
}

/* Creates a client in p. */
apr_status_t dp_http_create(dp_http_t **phttp, apr_pool_t *p, const dp_http_opts_t *opts)
{
    dp_http_t *h = apr_pcalloc(p, sizeof(*h));
    apr_status_t rv;

    h->pool = p;
    h->opts = *opts;
    if (h->opts.connect_timeout_ms <= 0) h->opts.connect_timeout_ms = 5000;
    if (h->opts.timeout_ms <= 0) h->opts.timeout_ms = 30000;
    if (h->opts.max_response == 0) h->opts.max_response = 8 * 1024 * 1024;
    if (h->opts.max_idle_handles <= 0) h->opts.max_idle_handles = 16;
    if (h->opts.max_idle_handles > DP_HTTP_MAX_HANDLES) h->opts.max_idle_handles = DP_HTTP_MAX_HANDLES;
    if (opts->unix_socket) h->opts.unix_socket = apr_pstrdup(p, opts->unix_socket);
    if (opts->ca_file) h->opts.ca_file = apr_pstrdup(p, opts->ca_file);
    if ((rv = apr_thread_mutex_create(&h->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, h, http_cleanup, apr_pool_cleanup_null);
    *phttp = h;
    return APR_SUCCESS;
}

/* Forgets the idle handles inherited over fork. */
void dp_http_child_init(dp_http_t *h)
{
    h->nidle = 0;  /* the parent's handles share sockets and TLS state: never touch them */
}

/* Returns the number of new connections the client has opened. */
long dp_http_connects(dp_http_t *h)
{
    return (long)apr_atomic_read32(&h->connects);
}

static CURL *handle_acquire(dp_http_t *h)
{
    CURL *c = NULL;

    apr_thread_mutex_lock(h->lock);
    if (h->nidle > 0) {
        c = h->idle[--h->nidle];
    }
    apr_thread_mutex_unlock(h->lock);
    if (c == NULL) {
        c = curl_easy_init();
    }
    else {
        curl_easy_reset(c);  /* keeps the connection cache, drops the options */
    }
    return c;
}

static void handle_release(dp_http_t *h, CURL *c, int reusable)
{
    if (c == NULL) {
        return;
    }
    if (reusable) {
        apr_thread_mutex_lock(h->lock);
        if (h->nidle < h->opts.max_idle_handles) {
            h->idle[h->nidle++] = c;
            c = NULL;
        }
        apr_thread_mutex_unlock(h->lock);
    }
    if (c) {
        curl_easy_cleanup(c);
    }
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *baton)
{
    xfer_t *x = baton;
    apr_size_t n = size * nmemb;

    if (x->req->write_cb) {
        if (x->req->write_cb(x->req->write_baton, data, n) != APR_SUCCESS) {
            x->aborted = 1;
            return 0;
        }
        return n;
    }
    if (x->len + n > x->limit) {
        x->over_limit = 1;
        return 0;
    }
    if (x->len + n + 1 > x->cap) {
        apr_size_t ncap = x->cap ? x->cap : 4096;
        char *nbuf;
        while (ncap < x->len + n + 1) {
            ncap *= 2;
        }
        nbuf = apr_palloc(x->p, ncap);
        if (x->len) {
            memcpy(nbuf, x->buf, x->len);
        }
        x->buf = nbuf;
        x->cap = ncap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *baton)
{
    xfer_t *x = baton;
    apr_size_t n = size * nmemb;
    const char *colon;

    if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
        apr_table_clear(x->resp->headers);  /* a new response (after 100-continue or a redirect) */
        return n;
    }
    colon = memchr(data, ':', n);
    if (colon) {
        const char *v = colon + 1;
        const char *end = data + n;
        while (v < end && (*v == ' ' || *v == '\t')) ++v;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) --end;
        apr_table_addn(x->resp->headers, apr_pstrmemdup(x->p, data, (apr_size_t)(colon - data)),
                       apr_pstrmemdup(x->p, v, (apr_size_t)(end - v)));
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *baton)
{
    xfer_t *x = baton;
    apr_size_t n = size * nmemb;

    if (x->req->read_cb(x->req->read_baton, buf, &n) != APR_SUCCESS) {
        x->aborted = 1;
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static int on_progress(void *baton, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    xfer_t *x = baton;
    apr_time_t now;

    (void)dlt; (void)dln; (void)ult; (void)uln;
    if (x->req->tick_cb == NULL) {
        return 0;
    }
    now = apr_time_now();
    if (now - x->last_tick < apr_time_from_msec(900)) {
        return 0;
    }
    x->last_tick = now;
    if (x->req->tick_cb(x->req->tick_baton) != APR_SUCCESS) {
        x->aborted = 1;
        return 1;
    }
    return 0;
}

static curl_socket_t on_open(void *baton, curlsocktype purpose, struct curl_sockaddr *addr)
{
    dp_http_t *h = baton;

    (void)purpose;
    apr_atomic_inc32(&h->connects);
    return socket(addr->family, addr->socktype, addr->protocol);
}

static apr_status_t map_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
        return APR_SUCCESS;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return APR_ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return APR_TIMEUP;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
        return APR_ECONNABORTED;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return APR_EINVAL;
    default:
        return APR_EGENERAL;
    }
}

static int header_safe(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

typedef struct {
    struct curl_slist *list;
    int bad;
} hdr_ctx_t;

static int add_header(void *baton, const char *key, const char *val)
{
    hdr_ctx_t *hc = baton;
    char *line;
    struct curl_slist *nl;

    if (!header_safe(key) || !header_safe(val) || strchr(key, ':')) {
        hc->bad = 1;
        return 0;
    }
    line = malloc(strlen(key) + strlen(val) + 3);
    if (line == NULL) {
        hc->bad = 1;
        return 0;
    }
    sprintf(line, "%s: %s", key, val);
    nl = curl_slist_append(hc->list, line);
    free(line);
    if (nl == NULL) {
        hc->bad = 1;
        return 0;
    }
    hc->list = nl;
    return 1;
}

/* Performs req; the response lives in p. */
apr_status_t dp_http_perform(dp_http_resp_t **presp, dp_http_t *h, apr_pool_t *p,
                             const dp_http_req_t *req)
{
    CURL *c = NULL;
    CURLcode cc;
    xfer_t x;
    hdr_ctx_t hc = { NULL, 0 };
    dp_http_resp_t *resp = apr_pcalloc(p, sizeof(*resp));
    apr_status_t rv = APR_SUCCESS;
    long code = 0, timeout = req->timeout_ms;
    int reusable = 0;

    memset(&x, 0, sizeof(x));
    x.p = p;
    x.req = req;
    x.resp = resp;
    x.limit = req->max_response ? req->max_response : h->opts.max_response;
    x.last_tick = apr_time_now();
    resp->headers = apr_table_make(p, 16);
    *presp = resp;

    if (req->headers) {
        apr_table_do(add_header, &hc, req->headers, NULL);
        if (hc.bad) {
            rv = APR_EINVAL;
            goto leave;
        }
    }
    hc.list = curl_slist_append(hc.list, "Expect:");  /* no 100-continue round trip */
    if ((c = handle_acquire(h)) == NULL) {
        rv = APR_ENOMEM;
        goto leave;
    }
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (h->opts.ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, h->opts.ca_file);
    }
    if (h->opts.unix_socket) {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->opts.unix_socket);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->opts.connect_timeout_ms);
    if (timeout == 0) {
        timeout = h->opts.timeout_ms;
    }
    if (timeout > 0) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    }
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    if (req->tick_cb) {   /* progress bookkeeping only for callers that want the ticks */
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hc.list);

    if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (req->read_cb) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &x);
        /* UPLOAD means PUT unless told otherwise */
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    else if (req->body || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }

    cc = curl_easy_perform(c);
    if (x.over_limit) {
        rv = APR_ENOSPC;
    }
    else if (x.aborted) {
        rv = APR_ECONNABORTED;
    }
    else {
        rv = map_curl(cc);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    resp->status = (int)code;
    resp->body = x.buf ? x.buf : apr_pstrdup(p, "");
    if (x.buf) {
        x.buf[x.len] = '\0';
    }
    resp->len = x.len;
    reusable = (rv == APR_SUCCESS);

leave:
    curl_slist_free_all(hc.list);
    handle_release(h, c, reusable);
    return rv;
}
