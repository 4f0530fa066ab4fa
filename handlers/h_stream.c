/* h_stream: the streaming writer shared by follow routes. */
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <httpd.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_filter.h>
#include <apr_atomic.h>
#include <apr_buckets.h>
#include <apr_portable.h>
#include <apr_strings.h>

#include "h_stream.h"

struct dp_stream_t {
    dp_req_t *q;
    dp_stream_fmt_t fmt;
    apr_bucket_brigade *bb;        /* the one brigade of the response */
    apr_time_t last_write;
    apr_interval_time_t heartbeat;
    int started;
    int aborted;
    int finished;
    int holds_slot;
};

/* Returns the process's stream slot (pool cleanup). */
static apr_status_t release_slot(void *data)
{
    dp_stream_t *s = data;

    if (s->holds_slot) {
        s->holds_slot = 0;
        apr_atomic_dec32(&s->q->proc->streams);
    }
    return APR_SUCCESS;
}

/* Picks the format from the Accept header. */
dp_stream_fmt_t dp_stream_format(dp_req_t *q, dp_stream_fmt_t dflt)
{
    const char *accept = apr_table_get(q->r->headers_in, "Accept");

    if (accept == NULL) {
        return dflt;
    }
    if (ap_strcasestr(accept, "text/event-stream")) {
        return DP_STREAM_SSE;
    }
    if (ap_strcasestr(accept, "application/x-ndjson")) {
        return DP_STREAM_NDJSON;
    }
    if (ap_strcasestr(accept, "text/plain")) {
        return DP_STREAM_TEXT;
    }
    return dflt;
}

/* Takes a stream slot. */
apr_status_t dp_stream_open(dp_stream_t **ps, dp_problem_t **pprob, dp_req_t *q, dp_stream_fmt_t fmt)
{
    dp_stream_t *s = apr_pcalloc(q->pool, sizeof(*s));
    apr_uint32_t max = (apr_uint32_t)q->conf->max_streams;

    *ps = NULL;
    if (apr_atomic_inc32(&q->proc->streams) >= max) {
        apr_atomic_dec32(&q->proc->streams);
        dp_problem_fail(pprob, q->pool, 503, "too_many_streams",
                        "this server process already serves %u streams (DockpayMaxStreams)", (unsigned)max);
        if (pprob && *pprob) {
            (*pprob)->retry_after = "5";
        }
        return DP_EPROBLEM;
    }
    s->q = q;
    s->fmt = fmt;
    s->holds_slot = 1;
    s->heartbeat = apr_time_from_sec(q->conf->heartbeat);
    s->bb = apr_brigade_create(q->pool, q->r->connection->bucket_alloc);
    s->last_write = apr_time_now();
    apr_pool_cleanup_register(q->pool, s, release_slot, apr_pool_cleanup_null);
    *ps = s;
    return APR_SUCCESS;
}

/* Passes the brigade with a FLUSH; marks the stream aborted when the client is gone. */
static apr_status_t pass(dp_stream_t *s, int eos)
{
    request_rec *r = s->q->r;
    apr_status_t rv;

    APR_BRIGADE_INSERT_TAIL(s->bb, eos ? apr_bucket_eos_create(r->connection->bucket_alloc)
                                       : apr_bucket_flush_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, s->bb);
    apr_brigade_cleanup(s->bb);
    if (rv != APR_SUCCESS || r->connection->aborted) {
        s->aborted = 1;
        return APR_ECONNABORTED;
    }
    s->last_write = apr_time_now();
    return APR_SUCCESS;
}

/* Sends the 200 headers now. */
apr_status_t dp_stream_start(dp_stream_t *s)
{
    request_rec *r = s->q->r;
    static const char *const types[] = {
        "text/plain; charset=utf-8", "application/x-ndjson", "text/event-stream; charset=utf-8"
    };

    if (s->started) {
        return s->aborted ? APR_ECONNABORTED : APR_SUCCESS;
    }
    s->started = 1;
    r->status = 200;
    ap_set_content_type(r, types[s->fmt]);
    apr_table_unset(r->headers_out, "Content-Length");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, no-store");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    if (r->header_only) {
        s->aborted = 1;   /* HEAD: nothing more to send */
        return APR_ECONNABORTED;
    }
    return pass(s, 0);
}

/* True once the headers went out. */
int dp_stream_started(const dp_stream_t *s)
{
    return s->started;
}

/* True once the client has gone away. */
int dp_stream_aborted(const dp_stream_t *s)
{
    return s->aborted;
}

/* Writes one event. */
apr_status_t dp_stream_write(dp_stream_t *s, const char *event, const char *data, apr_size_t len)
{
    apr_status_t rv;

    if ((rv = dp_stream_start(s)) != APR_SUCCESS) {
        return rv;
    }
    if (s->fmt != DP_STREAM_SSE) {
        apr_brigade_write(s->bb, NULL, NULL, data, len);
        apr_brigade_write(s->bb, NULL, NULL, "\n", 1);
        return pass(s, 0);
    }
    if (event) {
        apr_brigade_putstrs(s->bb, NULL, NULL, "event: ", event, "\n", NULL);
    }
    /* SSE ends a line at CR, LF or CRLF: every line of data gets its own "data:" */
    do {
        apr_size_t n = 0;
        while (n < len && data[n] != '\n' && data[n] != '\r') ++n;
        apr_brigade_write(s->bb, NULL, NULL, "data: ", 6);
        apr_brigade_write(s->bb, NULL, NULL, data, n);
        apr_brigade_write(s->bb, NULL, NULL, "\n", 1);
        if (n < len && data[n] == '\r' && n + 1 < len && data[n + 1] == '\n') ++n;
        data += n < len ? n + 1 : n;
        len -= n < len ? n + 1 : n;
    } while (len > 0);
    apr_brigade_write(s->bb, NULL, NULL, "\n", 1);
    return pass(s, 0);
}

/* Writes a JSON value as one event. */
apr_status_t dp_stream_write_json(dp_stream_t *s, const char *event, json_object *obj)
{
    size_t n;
    const char *text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN
                                                         | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    return dp_stream_write(s, event, text, n);
}

/* True when the client closed its side of the connection (peeked without reading). */
static int client_hung_up(conn_rec *c)
{
    apr_socket_t *sock;
    apr_os_sock_t fd;
    struct pollfd pfd;

    if (c->master != NULL || (sock = ap_get_conn_socket(c)) == NULL
        || apr_os_sock_get(&fd, sock) != APR_SUCCESS) {
        return 0;
    }
    pfd.fd = fd;
    pfd.events = POLLRDHUP;
    pfd.revents = 0;
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* True once httpd is stopping (or restarting gracefully) this process. */
static int server_stopping(void)
{
    int state = AP_MPMQ_RUNNING;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

/* GETs path from the engine, streaming the answer to write_cb. */
apr_status_t dp_stream_from_docker(dp_http_resp_t **presp, dp_problem_t **pprob, dp_stream_t *s,
                                   const char *path, dp_http_write_fn *write_cb, void *baton)
{
    dp_http_req_t req;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = path;
    req.write_cb = write_cb;
    req.write_baton = baton;
    req.tick_cb = dp_stream_tick;
    req.tick_baton = s;
    req.timeout_ms = -1;  /* follows end with the client or the container, never by a clock */
    return dp_docker_send(presp, pprob, s->q->proc->docker, s->q->pool, &req);
}

/* Periodic check: start, client gone, heartbeat. */
apr_status_t dp_stream_tick(void *baton)
{
    dp_stream_t *s = baton;
    apr_status_t rv;

    if ((rv = dp_stream_start(s)) != APR_SUCCESS) {
        return rv;
    }
    if (s->q->r->connection->aborted || client_hung_up(s->q->r->connection)) {
        s->aborted = 1;
        return APR_ECONNABORTED;
    }
    if (server_stopping()) {   /* a stop or graceful restart ends follow streams: no worker waits on one */
        return APR_ECONNABORTED;
    }
    if (s->fmt == DP_STREAM_SSE && apr_time_now() - s->last_write >= s->heartbeat) {
        apr_brigade_puts(s->bb, NULL, NULL, ": keepalive\n\n");
        return pass(s, 0);
    }
    return APR_SUCCESS;
}

/* Ends the response and gives the slot back. */
int dp_stream_finish(dp_stream_t *s)
{
    if (!s->finished) {
        s->finished = 1;
        if (s->started && !s->aborted) {
            pass(s, 1);
        }
        apr_pool_cleanup_run(s->q->pool, s, release_slot);
    }
    return OK;
}

/* Ends with prob. */
int dp_stream_fail(dp_stream_t *s, const dp_problem_t *prob)
{
    if (!s->started) {
        s->finished = 1;
        apr_pool_cleanup_run(s->q->pool, s, release_slot);
        return dp_send_problem(s->q, prob);
    }
    DP_LOG(s->q, APLOG_INFO, 0, "stream ended early: %s", prob && prob->detail ? prob->detail : "error");
    if (!s->aborted && s->fmt != DP_STREAM_TEXT && prob) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_get(dp_problem_json(s->q->pool, prob)));
        dp_stream_write_json(s, "error", s->fmt == DP_STREAM_SSE ? dp_json_get(o, "error") : o);
        json_object_put(o);
    }
    return dp_stream_finish(s);
}
