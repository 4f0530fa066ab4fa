/* dp_dk_progress: line splitting of engine streams and the NDJSON progress parser. */
#include <string.h>
#include <apr_strings.h>

#include "dp_dk_progress.h"
#include "dp_util.h"
#include "dp_json.h"

/* ------------------------------------------------------------------------------------------ */
/* line splitter */

struct dp_dk_lines_t {
    char *buf;
    apr_size_t len, max;
    int skipping;               /* the current line grew over max: drop it up to its newline */
    apr_size_t skipped;
    dp_dk_line_fn *fn;
    void *baton;
};

/* Creates a splitter in p. */
dp_dk_lines_t *dp_dk_lines_create(apr_pool_t *p, apr_size_t max_line, dp_dk_line_fn *fn, void *baton)
{
    dp_dk_lines_t *l = apr_pcalloc(p, sizeof(*l));

    l->max = max_line ? max_line : 1;
    l->buf = apr_palloc(p, l->max);
    l->fn = fn;
    l->baton = baton;
    return l;
}

/* Delivers the buffered line (dropping a trailing CR) and empties the buffer. */
static apr_status_t lines_emit(dp_dk_lines_t *l)
{
    apr_size_t n = l->len;

    l->len = 0;
    if (n > 0 && l->buf[n - 1] == '\r') {
        --n;
    }
    return l->fn(l->baton, l->buf, n);
}

/* Feeds len bytes. */
apr_status_t dp_dk_lines_feed(void *lines, const char *data, apr_size_t len)
{
    dp_dk_lines_t *l = lines;
    apr_status_t rv;

    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        apr_size_t n = nl ? (apr_size_t)(nl - data) : len;

        if (!l->skipping) {
            if (l->len + n > l->max) {
                l->skipping = 1;
                l->len = 0;
                ++l->skipped;
            }
            else {
                memcpy(l->buf + l->len, data, n);
                l->len += n;
            }
        }
        if (nl == NULL) {
            break;
        }
        if (l->skipping) {
            l->skipping = 0;
        }
        else if ((rv = lines_emit(l)) != APR_SUCCESS) {
            return rv;
        }
        data += n + 1;
        len -= n + 1;
    }
    return APR_SUCCESS;
}

/* Delivers a last line that had no newline. */
apr_status_t dp_dk_lines_finish(dp_dk_lines_t *l)
{
    if (l->skipping) {
        l->skipping = 0;
        l->len = 0;
        return APR_SUCCESS;
    }
    return l->len > 0 ? lines_emit(l) : APR_SUCCESS;
}

/* Returns how many lines were skipped. */
apr_size_t dp_dk_lines_skipped(const dp_dk_lines_t *l)
{
    return l->skipped;
}

/* ------------------------------------------------------------------------------------------ */
/* progress parser */

typedef struct dp_dk_progress_priv_t {
    apr_pool_t *pool;
    dp_dk_lines_t *lines;
    json_tokener *tok;
    int keep_log;
    char **ring;                /* DP_DK_PROGRESS_LOG_LINES slots of LOG_WIDTH+1 bytes, lazily */
    apr_size_t head, count;     /* oldest slot, slots in use */
    char pending[DP_DK_PROGRESS_LOG_WIDTH + 1];  /* "stream" text not ended by a newline yet */
    apr_size_t pending_len;
    char raw[DP_DK_PROGRESS_RAW];
    apr_size_t raw_len;
} priv_t;

static apr_status_t tokener_cleanup(void *data)
{
    json_tokener_free(data);
    return APR_SUCCESS;
}

/* Appends one log line (cut to LOG_WIDTH bytes), dropping the oldest over the cap. */
static void log_add(dp_dk_progress_t *g, const char *s, apr_size_t n)
{
    priv_t *v = g->priv;
    apr_size_t slot;

    if (n > DP_DK_PROGRESS_LOG_WIDTH) {
        n = DP_DK_PROGRESS_LOG_WIDTH;
    }
    if (v->count < DP_DK_PROGRESS_LOG_LINES) {
        slot = (v->head + v->count++) % DP_DK_PROGRESS_LOG_LINES;
    }
    else {
        slot = v->head;
        v->head = (v->head + 1) % DP_DK_PROGRESS_LOG_LINES;
        ++g->log_dropped;
    }
    if (v->ring[slot] == NULL) {
        v->ring[slot] = apr_palloc(v->pool, DP_DK_PROGRESS_LOG_WIDTH + 1);
    }
    memcpy(v->ring[slot], s, n);
    v->ring[slot][n] = '\0';
}

/* Handles one complete line of "stream" text: the log, and the builder's result lines. */
static void stream_line(dp_dk_progress_t *g, const char *s, apr_size_t n)
{
    priv_t *v = g->priv;
    static const char built[] = "Successfully built ";
    static const char tagged[] = "Successfully tagged ";

    if (n >= sizeof(built) - 1 && !strncmp(s, built, sizeof(built) - 1)) {
        const char *id = apr_pstrmemdup(v->pool, s + sizeof(built) - 1, n - (sizeof(built) - 1));
        if (g->id == NULL) {
            g->id = id;
        }
    }
    else if (n >= sizeof(tagged) - 1 && !strncmp(s, tagged, sizeof(tagged) - 1)) {
        APR_ARRAY_PUSH(g->tags, const char *) =
            apr_pstrmemdup(v->pool, s + sizeof(tagged) - 1, n - (sizeof(tagged) - 1));
    }
    if (v->keep_log) {
        log_add(g, s, n);
    }
}

/* Ends the pending partial stream line, if any. */
static void stream_flush(dp_dk_progress_t *g)
{
    priv_t *v = g->priv;

    if (v->pending_len > 0) {
        stream_line(g, v->pending, v->pending_len);
        v->pending_len = 0;
    }
}

/* Splits "stream" text into lines; text without a newline waits for the next piece. */
static void stream_text(dp_dk_progress_t *g, const char *s, apr_size_t n)
{
    priv_t *v = g->priv;

    while (n > 0) {
        const char *nl = memchr(s, '\n', n);
        apr_size_t k = nl ? (apr_size_t)(nl - s) : n;
        apr_size_t room = DP_DK_PROGRESS_LOG_WIDTH - v->pending_len;

        if (v->pending_len == 0 && nl) {
            stream_line(g, s, k);
        }
        else {
            memcpy(v->pending + v->pending_len, s, k < room ? k : room);
            v->pending_len += k < room ? k : room;
            if (nl || v->pending_len == DP_DK_PROGRESS_LOG_WIDTH) {
                stream_flush(g);
            }
        }
        if (nl == NULL) {
            break;
        }
        s += k + 1;
        n -= k + 1;
    }
}

/* Handles one NDJSON line of a pull or build stream. */
static apr_status_t progress_line(void *baton, const char *line, apr_size_t len)
{
    dp_dk_progress_t *g = baton;
    priv_t *v = g->priv;
    json_object *o, *x;
    const char *s;

    while (len > 0 && (*line == ' ' || *line == '\t')) {
        ++line;
        --len;
    }
    if (len == 0) {
        return APR_SUCCESS;
    }
    json_tokener_reset(v->tok);
    o = json_tokener_parse_ex(v->tok, line, (int)len);
    if (o == NULL || json_tokener_get_error(v->tok) != json_tokener_success
        || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return APR_SUCCESS;  /* not JSON: ignore (the engine writes only JSON lines) */
    }
    ++g->lines;
    if (g->error == NULL) {
        if ((s = dp_json_get_str(o, "error")) != NULL && *s) {
            g->error = apr_pstrdup(v->pool, s);
        }
        else if ((x = dp_json_get(o, "errorDetail")) != NULL
                 && (s = dp_json_get_str(x, "message")) != NULL && *s) {
            g->error = apr_pstrdup(v->pool, s);
        }
    }
    if ((x = dp_json_get(o, "aux")) != NULL && (s = dp_json_get_str(x, "ID")) != NULL) {
        g->id = apr_pstrdup(v->pool, s);
    }
    if ((x = dp_json_get(o, "stream")) != NULL && json_object_is_type(x, json_type_string)) {
        stream_text(g, json_object_get_string(x), (apr_size_t)json_object_get_string_len(x));
    }
    if ((s = dp_json_get_str(o, "status")) != NULL) {
        const char *id = dp_json_get_str(o, "id");
        if (id == NULL) {
            if (!strncmp(s, "Digest: ", 8)) {
                g->digest = apr_pstrdup(v->pool, s + 8);
            }
            else {
                g->status = apr_pstrdup(v->pool, !strncmp(s, "Status: ", 8) ? s + 8 : s);
            }
        }
        if (v->keep_log && dp_json_get(o, "progressDetail") == NULL) {
            /* progress bars are noise in a log; plain status lines (a FROM's pull) are not */
            const char *t = id ? apr_pstrcat(v->pool, id, ": ", s, NULL) : s;
            stream_flush(g);
            log_add(g, t, strlen(t));
        }
    }
    json_object_put(o);
    return APR_SUCCESS;
}

/* Creates a parser in p. */
dp_dk_progress_t *dp_dk_progress_create(apr_pool_t *p, int keep_log)
{
    dp_dk_progress_t *g = apr_pcalloc(p, sizeof(*g));
    priv_t *v = apr_pcalloc(p, sizeof(*v));

    v->pool = p;
    v->keep_log = keep_log;
    v->tok = json_tokener_new_ex(DP_JSON_MAX_DEPTH);
    apr_pool_cleanup_register(p, v->tok, tokener_cleanup, apr_pool_cleanup_null);
    v->lines = dp_dk_lines_create(p, DP_DK_PROGRESS_MAX_LINE, progress_line, g);
    if (keep_log) {
        v->ring = apr_pcalloc(p, DP_DK_PROGRESS_LOG_LINES * sizeof(char *));
    }
    g->priv = v;
    g->tags = apr_array_make(p, 2, sizeof(const char *));
    return g;
}

/* Feeds len bytes of the stream. */
apr_status_t dp_dk_progress_feed(void *prog, const char *data, apr_size_t len)
{
    dp_dk_progress_t *g = prog;
    priv_t *v = g->priv;

    if (v->raw_len < sizeof(v->raw)) {
        apr_size_t k = sizeof(v->raw) - v->raw_len;
        if (k > len) k = len;
        memcpy(v->raw + v->raw_len, data, k);
        v->raw_len += k;
    }
    return dp_dk_lines_feed(v->lines, data, len);
}

/* Ends the stream. */
void dp_dk_progress_finish(dp_dk_progress_t *g)
{
    dp_dk_lines_finish(g->priv->lines);
    stream_flush(g);
}

/* Returns the kept log lines, oldest first. */
json_object *dp_dk_progress_log(dp_dk_progress_t *g, apr_pool_t *p)
{
    priv_t *v = g->priv;
    json_object *a = dp_json_array(p);
    apr_size_t i;

    for (i = 0; v->ring && i < v->count; ++i) {
        const char *s = v->ring[(v->head + i) % DP_DK_PROGRESS_LOG_LINES];
        json_object_array_add(a, json_object_new_string(s));
    }
    return a;
}

/* Returns the first bytes of the stream verbatim. */
const char *dp_dk_progress_raw(dp_dk_progress_t *g, apr_size_t *plen)
{
    *plen = g->priv->raw_len;
    return g->priv->raw;
}

/* Sends req through d, parsing the answer with g. */
apr_status_t dp_dk_progress_call(int *pstatus, dp_problem_t **pprob, dp_dk_progress_t *g,
                                 dp_docker_t *d, apr_pool_t *p, dp_http_req_t *req)
{
    dp_http_resp_t *resp = NULL;
    apr_status_t rv;

    req->write_cb = dp_dk_progress_feed;
    req->write_baton = g;
    rv = dp_docker_send(&resp, pprob, d, p, req);
    if (pstatus) {
        *pstatus = resp ? resp->status : 0;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    dp_dk_progress_finish(g);
    if (resp->status >= 400) {
        if (pprob) {
            *pprob = dp_docker_problem(p, resp->status, g->priv->raw, g->priv->raw_len);
        }
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}

/* True when an engine message says the image or its manifest does not exist. */
static int says_not_found(const char *msg)
{
    return msg && (strstr(msg, "not found") || strstr(msg, "manifest unknown")
                   || strstr(msg, "does not exist"));
}

/* Pulls ref through d, reading the whole progress stream. */
apr_status_t dp_dk_pull(dp_dk_progress_t **pg, dp_problem_t **pprob, dp_docker_t *d, apr_pool_t *p,
                        const char *ref, const char *auth, dp_http_tick_fn *tick, void *tick_baton,
                        long timeout_ms)
{
    dp_http_req_t req;
    dp_problem_t *prob = NULL;
    apr_status_t rv;
    int status = 0, nf;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = apr_pstrcat(p, "/images/create?fromImage=", dp_url_encode(p, ref), NULL);
    req.headers = apr_table_make(p, 2);
    if (auth) {
        apr_table_setn(req.headers, "X-Registry-Auth", auth);
    }
    req.timeout_ms = timeout_ms;
    req.tick_cb = tick;
    req.tick_baton = tick_baton;
    *pg = dp_dk_progress_create(p, 0);
    rv = dp_dk_progress_call(&status, &prob, *pg, d, p, &req);
    if (rv == APR_ECONNABORTED) {
        return rv;
    }
    if (rv != APR_SUCCESS) {
        if (prob && (status >= 500 || status == 404)) {
            nf = status == 404 || says_not_found(prob->detail);
            prob->status = nf ? 404 : 502;
            prob->code = nf ? "image_not_found" : "pull_failed";
        }
        if (pprob) {
            *pprob = prob;
        }
        return rv;
    }
    if ((*pg)->error) {
        nf = says_not_found((*pg)->error);
        return dp_problem_fail(pprob, p, nf ? 404 : 502, nf ? "image_not_found" : "pull_failed",
                               "Docker: %s (pulling %s)", (*pg)->error, ref);
    }
    return APR_SUCCESS;
}
