/* h_engine_events: GET /system/events streams the engine's events as NDJSON or Server-Sent
 * Events through the shared stream writer (h_stream: FLUSH per event, heartbeat, stream cap). */
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "h_stream.h"
#include "dp_dk_misc.h"
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

/* Returns the problem when line is the engine's error answer ({"message"} without "Type"). */
static dp_problem_t *error_answer(events_t *e, const char *line, apr_size_t len)
{
    json_object *o;
    dp_problem_t *prob = NULL;

    json_tokener_reset(e->tok);
    o = json_tokener_parse_ex(e->tok, line, (int)len);
    if (o && json_object_is_type(o, json_type_object) && dp_json_get_str(o, "message")
        && dp_json_get(o, "Type") == NULL) {
        prob = dp_problem_make(e->q->pool, 502, "docker_error", "Docker: %s", dp_json_get_str(o, "message"));
    }
    json_object_put(o);
    return prob;
}

/* Line callback: forwards one engine event to the client. */
static apr_status_t event_line(void *baton, const char *line, apr_size_t len)
{
    events_t *e = baton;

    if (len == 0) {
        return APR_SUCCESS;
    }
    if (e->first) {
        e->first = 0;
        if ((e->prob = error_answer(e, line, len)) != NULL) {
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
    const char *since = dp_query(q, "since"), *until = dp_query(q, "until"), *type = dp_query(q, "type");
    const char *version, *path = "/events?";
    dp_dk_lines_t *lines;
    dp_http_resp_t *resp = NULL;
    dp_problem_t *prob = NULL;
    events_t e;
    apr_status_t rv;

    if ((since && !dp_dk_event_time_ok(since)) || (until && !dp_dk_event_time_ok(until))) {
        return dp_fail(q, 422, "invalid_value", "'since' and 'until' must be unix times, RFC 3339 times or durations");
    }
    if (type && !dp_dk_event_type_ok(type)) {
        return dp_fail(q, 422, "invalid_value", "the query parameter 'type' is not an event type (container, image, ...)");
    }
    if (since) path = apr_pstrcat(q->pool, path, "since=", dp_url_encode(q->pool, since), "&", NULL);
    if (until) path = apr_pstrcat(q->pool, path, "until=", dp_url_encode(q->pool, until), "&", NULL);
    if (type || dp_owner(q)) {
        json_object *f = dp_json_object(q->pool);
        if (type) {
            json_object *t = json_object_new_array();
            json_object_array_add(t, json_object_new_string(type));
            json_object_object_add(f, "type", t);
        }
        if (dp_owner(q)) {
            /* a non-admin key sees the events of its labelled objects (the engine matches the
             * label filter on the event's attributes: container and image events carry labels) */
            dp_dk_owner_filters_add(f, q->pool, dp_owner(q));
        }
        path = apr_pstrcat(q->pool, path, "filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL);
    }
    /* an unreachable engine is a plain 503 before any output */
    if (dp_docker_version(&version, &prob, q->proc->docker, q->pool) != APR_SUCCESS) {
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
