/* h_containers: Docker routes for containers (list, inspect, create under the create policy,
 * actions, delete, logs with follow streams, stats) and volumes. */
#include <string.h>
#include <strings.h>
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_glue.h"
#include "h_stream.h"
#include "dp_dk_logs.h"
#include "h_watch.h"
#include "h_owner.h"
#include "h_billing.h"
#include "h_engine.h"

/* ------------------------------------------------------------------------------------------ */
/* list, inspect, delete */

/* GET /containers */
static int containers_list(dp_req_t *q)
{
    json_object *filters, *list = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;
    int all, ret = OK;

    dp_engine_ctx(&c, q);
    if (dp_query_bool(&all, &prob, q, "all", 1) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    filters = dp_dk_container_filters(&c, q->query);
    if (dp_watch_list(&ret, q, all, filters) == DP_WATCH_SENT) {
        return ret;   /* answered from the event-fed snapshot, or Docker's answer relayed */
    }
    if (dp_dk_container_list(&list, &prob, &c, all, filters) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_items(q, 200, list, NULL);
}

/* GET /containers/{id}: Docker's inspect object; Config.Env values hidden from non-admin keys. */
static int containers_inspect(dp_req_t *q)
{
    return dp_engine_get(q, dp_dk_container_inspect, "id", 200);
}

/* DELETE /containers/{id} */
static int containers_delete(dp_req_t *q)
{
    return dp_engine_delete(q, dp_dk_container_delete, "id");
}

/* ------------------------------------------------------------------------------------------ */
/* actions */

/* POST /containers/{id}/{start,stop,restart,kill,pause,unpause}: 200 {"changed": bool}. */
static int containers_action(dp_req_t *q)
{
    const char *action = strchr(q->route->id, '.');
    dp_problem_t *prob = NULL;
    json_object *o = NULL;
    dp_dk_ctx_t c;
    int changed = 0;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if (action && (!strcmp(action, ".start") || !strcmp(action, ".restart") || !strcmp(action, ".unpause"))
        && c.owner != NULL) {   /* billing (issue 15): a past_due customer's containers stay down */
        const char *fid = NULL;
        if (dp_dk_container_find(&fid, NULL, &prob, &c, apr_table_get(q->params, "id"), 0) != APR_SUCCESS
            || dp_billing_check_start(&prob, q, "container", fid) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
    }
    rv = dp_dk_container_action(&changed, &prob, &c, apr_table_get(q->params, "id"), action ? action + 1 : "",
                                q->query);
    if (rv == APR_SUCCESS) {
        o = dp_json_object(q->pool);
        json_object_object_add(o, "changed", json_object_new_boolean(changed));
    }
    return dp_engine_reply(q, &c, rv, prob, 200, o);
}

/* ------------------------------------------------------------------------------------------ */
/* create */

/* POST /containers: simple or raw body → the allow-listed body built from it → labels → (pull)
 * → create → (start). Docker only ever sees the built body (dp_dk_container_create). */
static int containers_create(dp_req_t *q)
{
    json_object *req, *out = NULL;
    dp_problem_t *prob = NULL;
    const char *customer = NULL, *id;
    dp_dk_ctx_t c;
    apr_status_t rv;
    int pull, start;

    dp_engine_ctx(&c, q);
    if ((rv = dp_query_bool(&pull, &prob, q, "pull", 0)) == APR_SUCCESS
        && (rv = dp_query_bool(&start, &prob, q, "start", 0)) == APR_SUCCESS
        && (rv = dp_read_json(&req, &prob, q, 0)) == APR_SUCCESS
        && (rv = dp_billing_bind_from_body(&customer, &prob, q, req, 1)) == APR_SUCCESS) {   /* billing */
        rv = dp_dk_container_create(&out, &prob, &c, req, pull, start);
        if (customer && (id = dp_json_get_str(out, "id")) != NULL) {   /* created: bound to customer */
            dp_problem_t *bprob = NULL;
            if (dp_billing_bind_created(&bprob, q, customer, "container", id) != APR_SUCCESS
                && rv == APR_SUCCESS) {
                rv = DP_EPROBLEM;
                prob = bprob;
            }
        }
    }
    return dp_engine_reply(q, &c, rv, prob, 201, out);
}

/* ------------------------------------------------------------------------------------------ */
/* logs */

typedef struct {
    dp_req_t *q;
    int timestamps;
    dp_stream_fmt_t fmt;      /* the format the client asked for (NDJSON: JSON lines) */
    dp_stream_t *st;          /* follow: the stream */
    json_object *lines;       /* JSON answer: the lines */
    char *text;               /* text answer: the bytes so far */
    apr_size_t text_len, text_cap;
    char *fix;                /* room for one UTF-8-repaired line */
    dp_dk_logs_t *dec;
} logs_ctx_t;

/* Builds {"stream","time"?,"text"} for a line (a new reference). */
static json_object *line_json(logs_ctx_t *c, int stream, const char *line, apr_size_t len)
{
    json_object *o = json_object_new_object();
    const char *t, *text;
    apr_size_t tl, xl;

    json_object_object_add(o, "stream", json_object_new_string(stream == DP_DK_STDERR ? "stderr" : "stdout"));
    if (c->timestamps && dp_dk_logs_split_time(&t, &tl, &text, &xl, line, len)) {
        json_object_object_add(o, "time", json_object_new_string_len(t, (int)tl));
    }
    else {
        text = line;
        xl = len;
    }
    text = dp_dk_logs_utf8(c->fix, text, xl);
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)xl));
    return o;
}

/* Decoder callback: one line into the answer or the stream. */
static apr_status_t on_line(void *baton, int stream, const char *line, apr_size_t len)
{
    logs_ctx_t *c = baton;
    const char *name = stream == DP_DK_STDERR ? "stderr" : "stdout";
    json_object *o;
    apr_status_t rv;

    if (c->st == NULL && c->lines) {
        json_object_array_add(c->lines, line_json(c, stream, line, len));
        return APR_SUCCESS;
    }
    if (c->st == NULL) {
        if (c->text_len + len + 1 > c->text_cap) {
            apr_size_t cap = c->text_cap ? c->text_cap * 2 : 16384;
            char *n;
            while (cap < c->text_len + len + 1) cap *= 2;
            n = apr_palloc(c->q->pool, cap);
            if (c->text_len) memcpy(n, c->text, c->text_len);
            c->text = n;
            c->text_cap = cap;
        }
        memcpy(c->text + c->text_len, line, len);
        c->text_len += len;
        c->text[c->text_len++] = '\n';
        return APR_SUCCESS;
    }
    if (c->fmt != DP_STREAM_NDJSON) {
        return dp_stream_write(c->st, name, dp_dk_logs_utf8(c->fix, line, len), len);
    }
    o = line_json(c, stream, line, len);
    rv = dp_stream_write_json(c->st, NULL, o);
    json_object_put(o);
    return rv;
}

/* Follows the logs into a stream until the container stops or the client goes away. */
static int logs_follow(logs_ctx_t *c, const char *path)
{
    dp_req_t *q = c->q;
    dp_problem_t *prob = NULL;
    dp_http_resp_t *resp = NULL;
    dp_dk_follow_t *f = dp_dk_follow_create(q->pool, c->dec);
    dp_problem_t *upstream;
    apr_status_t rv;

    if (dp_stream_open(&c->st, &prob, q, c->fmt) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    rv = dp_stream_from_docker(&resp, &prob, c->st, path, dp_dk_follow_feed, f);
    if (rv == APR_SUCCESS && (upstream = dp_dk_follow_error(f, q->pool, resp->status)) != NULL) {
        return dp_stream_fail(c->st, upstream);
    }
    if (rv == APR_SUCCESS || dp_stream_aborted(c->st)) {
        if (!dp_stream_aborted(c->st)) {
            dp_dk_logs_finish(c->dec);
        }
        DP_LOG(q, APLOG_DEBUG, 0, "log stream ended (%s)", dp_stream_aborted(c->st) ? "client gone" : "container stopped");
        return dp_stream_finish(c->st);
    }
    if (prob == NULL) {
        prob = dp_problem_make(q->pool, 502, "docker_stream_failed", "the log stream failed");
    }
    return dp_stream_fail(c->st, prob);
}

/* GET /containers/{id}/logs: the core finds the container and builds the engine request; the
 * handler decodes the frames (dp_dk_logs) into the answer or, with follow, a stream. */
static int containers_logs(dp_req_t *q)
{
    logs_ctx_t *c = apr_pcalloc(q->pool, sizeof(*c));
    json_object *o;
    dp_problem_t *prob = NULL;
    dp_http_resp_t *resp;
    dp_dk_logreq_t lr;
    dp_dk_ctx_t ctx;
    apr_status_t rv;

    dp_engine_ctx(&ctx, q);
    c->q = q;
    c->fmt = dp_stream_format(q, DP_STREAM_NDJSON);
    if (dp_dk_container_logs(&lr, &prob, &ctx, apr_table_get(q->params, "id"), q->query) != APR_SUCCESS) {
        return dp_engine_reply(q, &ctx, DP_EPROBLEM, prob, 0, NULL);
    }
    q->target = ctx.target;
    c->timestamps = lr.timestamps;
    c->fix = apr_palloc(q->pool, DP_DK_LOG_LINE_MAX);
    c->dec = dp_dk_logs_create(q->pool, lr.tty, on_line, c);
    if (lr.follow) {
        return logs_follow(c, lr.path);
    }
    if (dp_dk_container_logs_get(&resp, &prob, &ctx, &lr) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (c->fmt != DP_STREAM_TEXT) {
        c->lines = dp_json_array(q->pool);
    }
    rv = dp_dk_logs_feed(c->dec, resp->body, resp->len);
    if (rv == APR_SUCCESS || rv == APR_EINCOMPLETE) {
        rv = dp_dk_logs_finish(c->dec);
    }
    if (rv != APR_SUCCESS && rv != APR_EINCOMPLETE) {
        return dp_fail(q, 502, "docker_bad_logs", "the Docker engine's log stream is not in the expected framing");
    }
    if (c->lines == NULL) {
        return dp_send_text(q, 200, "text/plain; charset=utf-8", c->text, c->text_len);
    }
    o = dp_json_object(q->pool);
    dp_json_set_ref(o, "lines", c->lines);
    return dp_send_json(q, 200, o);
}

/* ------------------------------------------------------------------------------------------ */
/* stats */

/* GET /containers/{id}/stats: one sample plus the CLI's summary. */
static int containers_stats(dp_req_t *q)
{
    return dp_engine_get(q, dp_dk_container_stats, "id", 200);
}

/* ------------------------------------------------------------------------------------------ */
/* volumes */

/* GET /volumes: {"items": Docker's Volumes, "warnings"}; ?label=, ?name=, ?dangling=, ?driver=. */
static int volumes_list(dp_req_t *q)
{
    static const char *const names[] = { "label", "name", "dangling", "driver", NULL };
    json_object *filters = dp_json_object(q->pool), *list = NULL, *warn = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;

    dp_engine_ctx(&c, q);
    dp_dk_query_filters(filters, q->query, names);
    if (dp_dk_volume_list(&list, &warn, &prob, &c, filters) != APR_SUCCESS) {
        return dp_engine_reply(q, &c, DP_EPROBLEM, prob, 0, NULL);
    }
    return dp_send_items(q, 200, list, warn);
}

/* GET /volumes/{name} */
static int volumes_inspect(dp_req_t *q)
{
    return dp_engine_get(q, dp_dk_volume_inspect, "name", 200);
}

/* POST /volumes {"name","driver","labels","driver_opts"} → 201 Docker's volume object. */
static int volumes_create(dp_req_t *q)
{
    return dp_engine_post(q, dp_dk_volume_create, 0, 201);
}

/* DELETE /volumes/{name}: 204; 409 while a container uses it. */
static int volumes_delete(dp_req_t *q)
{
    return dp_engine_delete(q, dp_dk_volume_delete, "name");
}

const dp_handler_entry_t dp_containers_handlers[] = {
    { "containers.list", containers_list },
    { "containers.create", containers_create },
    { "containers.inspect", containers_inspect },
    { "containers.delete", containers_delete },
    { "containers.start", containers_action },
    { "containers.stop", containers_action },
    { "containers.restart", containers_action },
    { "containers.kill", containers_action },
    { "containers.pause", containers_action },
    { "containers.unpause", containers_action },
    { "containers.logs", containers_logs },
    { "containers.stats", containers_stats },
    { "volumes.list", volumes_list },
    { "volumes.inspect", volumes_inspect },
    { "volumes.create", volumes_create },
    { "volumes.delete", volumes_delete },
    { NULL, NULL }
};
