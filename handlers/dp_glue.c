/* dp_glue: responses, request bodies, query parameters and database handles for handlers. */
#include <string.h>
#include <stdarg.h>
#include <httpd.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <apr_strings.h>
#include <apr_buckets.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "dp_glue.h"

/* ------------------------------------------------------------------------------------------ */
/* responses */

/* Sends len bytes of body as ctype with status. */
int dp_send_text(dp_req_t *q, int status, const char *ctype, const char *body, apr_size_t len)
{
    request_rec *r = q->r;
    apr_bucket_brigade *bb;
    apr_status_t rv;

    r->status = status;
    q->sent = 1;
    q->sent_ctype = ctype;
    q->sent_body = body;
    q->sent_len = len;
    if (ctype) {
        ap_set_content_type(r, ctype);
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)len);
    if (r->header_only || len == 0) {
        return OK;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_write(bb, NULL, NULL, body, len);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !r->connection->aborted) {
        DP_LOG(q, APLOG_INFO, rv, "sending the response failed");
    }
    return OK;
}

/* Sends body (a JSON value) with status. */
int dp_send_json(dp_req_t *q, int status, json_object *body)
{
    const char *s = dp_json_str(q->pool, body);
    return dp_send_text(q, status, "application/json; charset=utf-8", s, strlen(s));
}

/* Sends serialised JSON with status. */
int dp_send_json_text(dp_req_t *q, int status, const char *json, apr_size_t len)
{
    return dp_send_text(q, status, "application/json; charset=utf-8", json, len);
}

/* Sends prefix + body + suffix without copying body (see dp_glue.h). */
int dp_send_json_wrapped(dp_req_t *q, int status, const char *prefix, const char *body, apr_size_t len,
                         const char *suffix)
{
    request_rec *r = q->r;
    apr_size_t plen = strlen(prefix), slen = strlen(suffix);
    apr_bucket_brigade *bb;
    apr_status_t rv;

    r->status = status;
    q->sent = 1;
    q->sent_ctype = "application/json; charset=utf-8";
    q->sent_body = NULL;   /* not kept whole: only GET answers are wrapped (no idempotency key) */
    q->sent_len = 0;
    ap_set_content_type(r, q->sent_ctype);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)(plen + len + slen));
    if (r->header_only) {
        return OK;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_write(bb, NULL, NULL, prefix, plen);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(body, len, r->pool, r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(suffix, slen, r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !r->connection->aborted) {
        DP_LOG(q, APLOG_INFO, rv, "sending the response failed");
    }
    return OK;
}

/* Sends an empty response with status. */
int dp_send_empty(dp_req_t *q, int status)
{
    q->r->status = status;
    q->sent = 1;
    q->sent_ctype = NULL;
    q->sent_body = NULL;
    q->sent_len = 0;
    return OK;
}

/* Sends {"items": list}. */
int dp_send_items(dp_req_t *q, int status, json_object *list, json_object *warnings)
{
    json_object *o = dp_json_object(q->pool);

    if (list && json_object_is_type(list, json_type_array)) {
        dp_json_set_ref(o, "items", list);
    }
    else {
        json_object_object_add(o, "items", json_object_new_array());
    }
    if (warnings) {
        dp_json_set_ref(o, "warnings", warnings);
    }
    return dp_send_json(q, status, o);
}

/* Sends the outcome of a core operation. */
int dp_send_result(dp_req_t *q, apr_status_t rv, const dp_problem_t *prob, int status, json_object *body)
{
    if (rv != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return body ? dp_send_json(q, status, body) : dp_send_empty(q, status);
}

/* Sends prob as application/problem+json. */
int dp_send_problem(dp_req_t *q, const dp_problem_t *prob)
{
    const char *s;

    if (prob == NULL) {
        prob = dp_problem_make(q->pool, 500, "internal_error", "an unexpected error occurred");
    }
    if (prob->status >= 500) {
        DP_LOG(q, prob->status == 500 ? APLOG_ERR : APLOG_WARNING, 0, "%d %s: %s", prob->status,
               prob->code ? prob->code : "error", prob->detail ? prob->detail : "");
    }
    if (prob->retry_after) {
        apr_table_setn(q->r->headers_out, "Retry-After", prob->retry_after);
    }
    if (prob->status == 401) {
        apr_table_setn(q->r->headers_out, "WWW-Authenticate", "Bearer realm=\"dockpay\"");
    }
    s = dp_json_str(q->pool, dp_problem_json(q->pool, prob));
    return dp_send_text(q, prob->status, "application/problem+json", s, strlen(s));
}

/* Sends a new problem with a printf-style detail. */
int dp_fail(dp_req_t *q, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    dp_problem_t *prob = dp_problem_make(q->pool, status, code, NULL);

    va_start(ap, fmt);
    prob->detail = apr_pvsprintf(q->pool, fmt, ap);
    va_end(ap);
    return dp_send_problem(q, prob);
}

/* ------------------------------------------------------------------------------------------ */
/* request bodies */

/* Reads the request body through brigades, capped at DockpayMaxBody. */
apr_status_t dp_read_body(char **pbuf, apr_size_t *plen, dp_problem_t **pprob, dp_req_t *q)
{
    request_rec *r = q->r;
    apr_off_t cap = q->conf->max_body;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    char *buf = NULL;
    apr_size_t len = 0, size = 0;
    int seen_eos = 0;
    apr_status_t rv = APR_SUCCESS;

    *pbuf = NULL;
    *plen = 0;
    if (q->body_read) {   /* read before (h_idem.c hashes it first) */
        *pbuf = q->body;
        *plen = q->body_len;
        return APR_SUCCESS;
    }
    if (cl) {
        apr_int64_t n;
        if (dp_parse_int(&n, cl, 0, APR_INT64_MAX) != APR_SUCCESS) {
            return dp_problem_fail(pprob, q->pool, 400, "bad_content_length", "bad Content-Length");
        }
        if (n > cap) {
            r->connection->keepalive = AP_CONN_CLOSE;
            return dp_problem_fail(pprob, q->pool, 413, "body_too_large",
                                   "the body is larger than %" APR_OFF_T_FMT " bytes", cap);
        }
    }
    do {
        apr_bucket *b;
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            int st = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            r->connection->keepalive = AP_CONN_CLOSE;
            return dp_problem_fail(pprob, q->pool, st == HTTP_REQUEST_ENTITY_TOO_LARGE ? 413 : st,
                                   st == 413 ? "body_too_large" : "bad_body",
                                   "the request body could not be read");
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            if ((rv = apr_bucket_read(b, &data, &n, APR_BLOCK_READ)) != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                return dp_problem_fail(pprob, q->pool, 400, "bad_body", "the request body could not be read");
            }
            if ((apr_off_t)(len + n) > cap) {
                apr_brigade_cleanup(bb);
                r->connection->keepalive = AP_CONN_CLOSE;
                return dp_problem_fail(pprob, q->pool, 413, "body_too_large",
                                       "the body is larger than %" APR_OFF_T_FMT " bytes", cap);
            }
            if (len + n + 1 > size) {
                apr_size_t nsize = size ? size * 2 : 8192;
                char *nbuf;
                while (nsize < len + n + 1) nsize *= 2;
                nbuf = apr_palloc(r->pool, nsize);
                if (len) memcpy(nbuf, buf, len);
                buf = nbuf;
                size = nsize;
            }
            memcpy(buf + len, data, n);
            len += n;
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos);
    if (buf) {
        buf[len] = '\0';
    }
    *pbuf = buf ? buf : apr_pstrdup(r->pool, "");
    *plen = len;
    q->body = *pbuf;
    q->body_len = len;
    q->body_read = 1;
    return APR_SUCCESS;
}

/* True when ct is application/json (parameters such as charset allowed). */
static int is_json_type(const char *ct)
{
    return ct && strncasecmp(ct, "application/json", 16) == 0
           && (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

/* Reads a JSON object body. */
apr_status_t dp_read_json(json_object **pobj, dp_problem_t **pprob, dp_req_t *q, int optional)
{
    const char *ct = apr_table_get(q->r->headers_in, "Content-Type");
    char *buf;
    apr_size_t len;
    apr_status_t rv;

    *pobj = NULL;
    if (ct && !is_json_type(ct)) {
        return dp_problem_fail(pprob, q->pool, 415, "unsupported_media_type",
                               "send the body as application/json");
    }
    if ((rv = dp_read_body(&buf, &len, pprob, q)) != APR_SUCCESS) {
        return rv;
    }
    if (len == 0) {
        if (optional) {
            *pobj = dp_json_object(q->pool);
            return APR_SUCCESS;
        }
        return dp_problem_fail(pprob, q->pool, 400, "missing_body", "a JSON object body is required");
    }
    if (ct == NULL) {
        return dp_problem_fail(pprob, q->pool, 415, "unsupported_media_type",
                               "send the body as application/json");
    }
    if ((rv = dp_json_parse(pobj, pprob, q->pool, buf, len)) != APR_SUCCESS) {
        return rv;
    }
    if (*pobj == NULL || !json_object_is_type(*pobj, json_type_object)) {
        return dp_problem_fail(pprob, q->pool, 400, "wrong_type", "the body must be a JSON object");
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* query parameters */

/* Returns query parameter name or NULL. */
const char *dp_query(dp_req_t *q, const char *name)
{
    return apr_table_get(q->query, name);
}

/* Reads a boolean query parameter. */
apr_status_t dp_query_bool(int *pval, dp_problem_t **pprob, dp_req_t *q, const char *name, int dflt)
{
    return dp_query_field_bool(pval, pprob, q->pool, q->query, name, dflt);
}

/* Reads an integer query parameter in [min,max]. */
apr_status_t dp_query_int(apr_int64_t *pval, dp_problem_t **pprob, dp_req_t *q, const char *name,
                          apr_int64_t dflt, apr_int64_t min, apr_int64_t max)
{
    return dp_query_field_int(pval, pprob, q->pool, q->query, name, dflt, min, max);
}

/* ------------------------------------------------------------------------------------------ */
/* database handles */

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

static dp_db_t *wrap_db(dp_req_t *q, ap_dbd_t *h)
{
    dp_db_t *db = apr_pcalloc(q->pool, sizeof(*db));

    db->driver = h->driver;
    db->handle = h->handle;
    db->prepared = h->prepared;
    db->pool = q->pool;
    db->opaque = h;
    return db;
}

static apr_status_t db_unavailable(dp_problem_t **pprob, dp_req_t *q)
{
    dp_problem_fail(pprob, q->pool, 503, "database_unavailable", "the database cannot be reached");
    if (pprob && *pprob) {
        (*pprob)->retry_after = "5";
    }
    return DP_EPROBLEM;
}

/* Finds mod_dbd's functions (post_config, before any thread runs). */
void dp_db_init(void)
{
    dbd_acquire_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
}

static int dbd_present(void)
{
    return dbd_acquire_fn != NULL;
}

/* How many handles dp_db_acquire may try past dead pooled ones, and for how long. */
#define DP_DB_ACQUIRE_TRIES 130
#define DP_DB_ACQUIRE_BUDGET apr_time_from_sec(3)

/* Borrows a database connection for this request, skipping pooled handles that died. */
dp_db_t *dp_db_acquire(dp_problem_t **pprob, dp_req_t *q)
{
    ap_dbd_t *h;

    if (!dbd_present()) {
        db_unavailable(pprob, q);
        return NULL;
    }
    /* After a database restart every pooled handle is dead: mod_dbd checks the handle it hands
     * out, drops a dead one and returns NULL, so keep asking until a live (or newly opened)
     * handle comes back. Bounded by DP_DB_ACQUIRE_TRIES (more than any sane DBDMax) and by
     * DP_DB_ACQUIRE_BUDGET of wall time, so an unreachable database still answers 503 promptly. */
    {
        apr_time_t t0 = apr_time_now();
        int i;

        h = NULL;
        for (i = 0; i < DP_DB_ACQUIRE_TRIES && h == NULL; i++) {
            if (i > 1 && apr_time_now() - t0 > DP_DB_ACQUIRE_BUDGET) {
                break;
            }
            h = dbd_acquire_fn(q->r);
        }
    }
    if (h == NULL) {
        db_unavailable(pprob, q);
        return NULL;
    }
    return wrap_db(q, h);
}

/* Opens a connection outside the request's cache. */
dp_db_t *dp_db_open(dp_problem_t **pprob, dp_req_t *q)
{
    ap_dbd_t *h;

    if (!dbd_present() || (h = dbd_open_fn(q->pool, q->r->server)) == NULL) {
        db_unavailable(pprob, q);
        return NULL;
    }
    return wrap_db(q, h);
}

/* Releases a connection from dp_db_open. */
void dp_db_release(dp_req_t *q, dp_db_t *db)
{
    if (db && db->opaque && dbd_close_fn) {
        dbd_close_fn(q->r->server, db->opaque);
        db->opaque = NULL;
    }
}

/* Opens a connection of server s in p for work outside any request, past dead pooled handles. */
dp_db_t *dp_db_open_bg(server_rec *s, apr_pool_t *p)
{
    ap_dbd_t *h = NULL;
    dp_db_t *db;
    int i;

    if (!dbd_present() || dbd_open_fn == NULL) {
        return NULL;
    }
    for (i = 0; h == NULL && i < 20; ++i) {
        h = dbd_open_fn(p, s);
    }
    if (h == NULL) {
        return NULL;
    }
    db = apr_pcalloc(p, sizeof(*db));
    db->driver = h->driver;
    db->handle = h->handle;
    db->prepared = h->prepared;
    db->pool = p;
    db->opaque = h;
    return db;
}

/* Gives back a connection from dp_db_open_bg (NULL: nothing). */
void dp_db_close_bg(server_rec *s, dp_db_t *db)
{
    if (db && db->opaque && dbd_close_fn) {
        dbd_close_fn(s, db->opaque);
        db->opaque = NULL;
    }
}

/* Registers a background task with mod_watchdog (see dp_glue.h). */
apr_status_t dp_task_register(const char *name, apr_interval_time_t interval, void *data,
                              ap_watchdog_callback_fn_t *fn, apr_pool_t *pconf)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb
        = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    ap_watchdog_t *wd = NULL;
    apr_status_t rv;

    if (get_instance == NULL || register_cb == NULL) {
        return APR_ENOTIMPL;
    }
    if ((rv = get_instance(&wd, name, 0, 1, pconf)) != APR_SUCCESS) {
        return rv;
    }
    return register_cb(wd, interval, data, fn);
}
