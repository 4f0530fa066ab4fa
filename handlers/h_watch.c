/* h_watch: the event-fed container list on the httpd side (see h_watch.h and lib/dp_dk_watch.h
 * for the rules that keep it equal to what the engine would answer). */
#include <string.h>
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_buckets.h>

#include "dp_glue.h"
#include "h_watch.h"
#include "dp_dk_watch.h"
#include "h_owner.h"

/* One watcher per Docker endpoint in this child, shared by the servers that use it. */
static apr_hash_t *watchers;

/* Starts the watcher of server s in the child. */
void dp_watch_child_init(server_rec *s, dp_conf_t *c, apr_pool_t *pchild)
{
    dp_dk_watch_t *w;
    const char *sock;
    apr_status_t rv;

    if (c->proc == NULL || !dp_conf_int(c->container_cache, 1)) {
        return;
    }
    if (watchers == NULL) {
        watchers = apr_hash_make(pchild);
    }
    sock = dp_docker_socket(c->proc->docker);
    if ((w = apr_hash_get(watchers, sock, APR_HASH_KEY_STRING)) == NULL) {
        if ((rv = dp_dk_watch_create(&w, pchild, c->proc->docker)) != APR_SUCCESS
            || (rv = dp_dk_watch_start(w)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "dockpay: the container list watcher did not "
                         "start; lists ask Docker");
            return;
        }
        apr_hash_set(watchers, sock, APR_HASH_KEY_STRING, w);
    }
    c->proc->watch = w;
}

/* Sends {"items": <len bytes of a JSON array>} as dp_send_json(q, 200, ...) would. */
static int send_items_raw(dp_req_t *q, const char *prefix, const char *body, apr_size_t len,
                          const char *suffix, dp_dk_snap_t *snap)
{
    request_rec *r = q->r;
    apr_size_t plen = strlen(prefix), slen = strlen(suffix);
    apr_bucket_brigade *bb;
    apr_status_t rv;

    r->status = 200;
    ap_set_content_type(r, "application/json; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)(plen + len + slen));
    if (r->header_only) {
        dp_dk_snap_release(snap);
        return OK;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (plen) apr_brigade_write(bb, NULL, NULL, prefix, plen);
    if (snap) {
        apr_brigade_write(bb, NULL, NULL, body, len);   /* a copy: the snapshot may go now */
    }
    else {   /* the engine's answer lives in the request pool: no copy */
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(body, len, r->pool, r->connection->bucket_alloc));
    }
    if (slen) apr_brigade_write(bb, NULL, NULL, suffix, slen);
    dp_dk_snap_release(snap);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS && !r->connection->aborted) {
        DP_LOG(q, APLOG_INFO, rv, "sending the response failed");
    }
    return OK;
}

/* Relays the engine's list answer without decoding and re-encoding it (the pass-through's
 * answer, the same JSON); DECLINED when it is not a JSON array (the caller then reports). */
static int relay(dp_req_t *q, int all, json_object *filters)
{
    dp_problem_t *prob = NULL;
    const char *b = NULL;
    apr_size_t len = 0;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if ((rv = dp_dk_container_list_raw(&b, &len, &prob, &c, all, filters)) == APR_EINVAL) {
        return DECLINED;
    }
    if (rv != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return send_items_raw(q, "{\"items\":", b, len, "}", NULL);
}

/* Answers GET /containers from the snapshot, or relays the engine's answer. */
int dp_watch_list(dp_req_t *q, int all, json_object *filters)
{
    dp_dk_snap_t *snap;
    const char *body;
    apr_size_t len;

    if (q->proc->watch == NULL || (snap = dp_dk_watch_acquire(q->proc->watch)) == NULL) {
        return relay(q, all, filters);
    }
    if (dp_dk_snap_render(&body, &len, snap, q->pool, all, filters) != APR_SUCCESS) {
        dp_dk_snap_release(snap);
        return relay(q, all, filters);
    }
    return send_items_raw(q, "", body, len, "", snap);
}

/* Marks the start of a request that may change containers. */
void dp_watch_mutation_begin(dp_req_t *q)
{
    if (q->proc && q->proc->watch) {
        dp_dk_watch_mutation_begin(q->proc->watch);
    }
}

/* Marks its end. */
void dp_watch_mutation_end(dp_req_t *q)
{
    if (q->proc && q->proc->watch) {
        dp_dk_watch_mutation_end(q->proc->watch);
    }
}
