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
    b = apr_psprintf(q->pool, "{\"items\":%.*s}", (int)len, b);
    return dp_send_json_text(q, 200, b, strlen(b));
}

/* Answers GET /containers from the snapshot, or relays the engine's answer. */
int dp_watch_list(dp_req_t *q, int all, json_object *filters)
{
    dp_dk_snap_t *snap;
    const char *body;
    apr_size_t len;
    int rv;

    if (q->proc->watch == NULL || (snap = dp_dk_watch_acquire(q->proc->watch)) == NULL) {
        return relay(q, all, filters);
    }
    if (dp_dk_snap_render(&body, &len, snap, q->pool, all, filters) != APR_SUCCESS) {
        dp_dk_snap_release(snap);
        return relay(q, all, filters);
    }
    rv = dp_send_json_text(q, 200, body, len);   /* copied: the snapshot may go now */
    dp_dk_snap_release(snap);
    return rv;
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
