/* h_engine_events: GET /system/events streams the engine's events as NDJSON or Server-Sent
 * Events through the shared stream writer (h_stream: FLUSH per event, heartbeat, stream cap). */
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "h_stream.h"
#include "dp_dk_progress.h"
#include "h_owner.h"

#define EVENTS_MAX_LINE (256 * 1024)

typedef struct {
    dp_req_t *q;
    dp_stream_t *s;
    json_tokener *tok;
    int first;                  /* no line seen yet (an engine error answer comes as one) */
    dp_problem_t *prob;         /* the engine's error answer, when it sent one */
} events_t;

/* Line callback: forwards one engine event to the client. */
static apr_status_t event_line(void *baton, const char *line, apr_size_t len)
{
    events_t *e = baton;

    if (len == 0) {
        return APR_SUCCESS;
    }
    if (e->first) {
        e->first = 0;
        if ((e->prob = dp_dk_events_error(e->q->pool, e->tok, line, len)) != NULL) {
            return APR_ECONNABORTED;
        }
    }
    return dp_stream_write(e->s, NULL, line, len);
}

static apr_status_t tokener_free(void *data)
{
    json_tokener_free(data);
    return APR_SUCCESS;
}

/* GET /system/events: ?since=, ?until=, ?type=; NDJSON, or SSE with Accept: text/event-stream.
 * Ends when the client goes away, or by itself when until is given. */
int dp_system_events(dp_req_t *q)
{
    const char *path;
    dp_dk_lines_t *lines;
    dp_http_resp_t *resp = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    events_t e;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if (dp_dk_events_begin(&path, &prob, &c, q->query) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    memset(&e, 0, sizeof(e));
    e.q = q;
    e.first = 1;
    if (dp_stream_open(&e.s, &prob, q, dp_stream_format(q, DP_STREAM_NDJSON)) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    e.tok = json_tokener_new_ex(DP_JSON_MAX_DEPTH);
    apr_pool_cleanup_register(q->pool, e.tok, tokener_free, apr_pool_cleanup_null);
    lines = dp_dk_lines_create(q->pool, EVENTS_MAX_LINE, event_line, &e);
    if (dp_stream_start(e.s) != APR_SUCCESS) {
        return dp_stream_finish(e.s);
    }

    rv = dp_stream_from_docker(&resp, &prob, e.s, path, dp_dk_lines_feed, lines);
    if (rv == APR_SUCCESS) {
        dp_dk_lines_finish(lines);
        return dp_stream_finish(e.s);
    }
    if (e.prob) {
        return dp_stream_fail(e.s, e.prob);
    }
    if (rv == APR_ECONNABORTED) {
        return dp_stream_finish(e.s);  /* the client went away */
    }
    return dp_stream_fail(e.s, prob);
}
