/* h_stream: long-lived streamed responses (logs follow, events): chunked text, NDJSON or
 * Server-Sent Events, one brigade per request, a FLUSH per event, heartbeats on idle SSE
 * streams, client-gone detection, and the per-process cap DockpayMaxStreams.
 *
 * Use: dp_stream_open (503 when full) → optionally dp_stream_start → dp_stream_write /
 * dp_stream_write_json per event, dp_stream_tick as the dp_http tick_cb (timeout_ms = -1)
 * → dp_stream_finish (or dp_stream_fail). Never hold a database handle while streaming. */
#ifndef H_STREAM_H
#define H_STREAM_H

#include "dp_glue.h"

typedef enum {
    DP_STREAM_TEXT,     /* text/plain: each event's data and a newline */
    DP_STREAM_NDJSON,   /* application/x-ndjson: one JSON value per line */
    DP_STREAM_SSE       /* text/event-stream: "event: NAME" + "data: ..." lines + blank line */
} dp_stream_fmt_t;

typedef struct dp_stream_t dp_stream_t;

/* Picks the format from the Accept header (text/event-stream, application/x-ndjson,
 * text/plain), else dflt. */
dp_stream_fmt_t dp_stream_format(dp_req_t *q, dp_stream_fmt_t dflt);

/* Takes one of the process's DockpayMaxStreams slots (given back when the request ends, or at
 * dp_stream_finish); when all are taken: 503 too_many_streams with Retry-After. */
apr_status_t dp_stream_open(dp_stream_t **ps, dp_problem_t **pprob, dp_req_t *q, dp_stream_fmt_t fmt);

/* Sends the 200 headers now (the first write or tick does it otherwise). */
apr_status_t dp_stream_start(dp_stream_t *s);

/* True once the headers went out (after that only OK may be returned, never an error page). */
int dp_stream_started(const dp_stream_t *s);

/* Writes one event and flushes it: SSE "event: NAME" (when event is not NULL) and one
 * "data:" line per line of data; NDJSON and text: data and a newline. APR_ECONNABORTED once
 * the client has gone away. */
apr_status_t dp_stream_write(dp_stream_t *s, const char *event, const char *data, apr_size_t len);

/* Writes a JSON value as one event (compact, one line). */
apr_status_t dp_stream_write_json(dp_stream_t *s, const char *event, json_object *obj);

/* A dp_http tick_cb (baton: the stream): starts the response if needed, returns
 * APR_ECONNABORTED once the client is gone, sends ": keepalive" on SSE streams idle for
 * DockpayStreamHeartbeat seconds. */
apr_status_t dp_stream_tick(void *baton);

/* GETs path from the engine with no overall timeout, feeding the answer to write_cb (baton)
 * and ticking the stream (heartbeats; stops when the client is gone); as dp_docker_send. */
apr_status_t dp_stream_from_docker(dp_http_resp_t **presp, dp_problem_t **pprob, dp_stream_t *s,
                                   const char *path, dp_http_write_fn *write_cb, void *baton);

/* True once the client has gone away. */
int dp_stream_aborted(const dp_stream_t *s);

/* Ends the response and gives the slot back; returns OK for the handler. */
int dp_stream_finish(dp_stream_t *s);

/* Ends with prob: a problem response when nothing was sent yet, else a last "error" event
 * (SSE/NDJSON; text streams just end); returns OK. */
int dp_stream_fail(dp_stream_t *s, const dp_problem_t *prob);

#endif
