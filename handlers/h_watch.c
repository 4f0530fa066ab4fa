/* h_watch: the event-fed container list on the httpd side (see h_watch.h and lib/docker/dp_dk_watch.h
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
void dp_watch_child_init(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *pchild)
{
    dp_dk_watch_t *w;
    const char *sock;
    apr_status_t rv;

    if (proc == NULL || !c->container_cache) {
        return;
    }
    if (watchers == NULL) {
        watchers = apr_hash_make(pchild);
    }
    sock = dp_docker_socket(proc->docker);
    if ((w = apr_hash_get(watchers, sock, APR_HASH_KEY_STRING)) == NULL) {
        if ((rv = dp_dk_watch_create(&w, pchild, proc->docker)) != APR_SUCCESS
            || (rv = dp_dk_watch_start(w)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "dockpay: the container list watcher did not "
                         "start; lists ask Docker");
            return;
        }
        apr_hash_set(watchers, sock, APR_HASH_KEY_STRING, w);
    }
    proc->watch = w;
}

/* Relays the engine's list answer without decoding and re-encoding it (the pass-through's
 * answer, the same JSON); DP_WATCH_NOT_A_LIST when it is not a JSON array (the caller then
 * reports). */
static dp_watch_rc_t relay(int *pret, dp_req_t *q, int all, json_object *filters)
{
    dp_problem_t *prob = NULL;
    const char *b = NULL;
    apr_size_t len = 0;
    dp_dk_ctx_t c;
    apr_status_t rv;

    dp_engine_ctx(&c, q);
    if ((rv = dp_dk_container_list_raw(&b, &len, &prob, &c, all, filters)) == APR_EINVAL) {
        return DP_WATCH_NOT_A_LIST;
    }
    if (rv != APR_SUCCESS) {
        *pret = dp_send_problem(q, prob);
        return DP_WATCH_SENT;
    }
    *pret = dp_send_json_wrapped(q, 200, "{\"items\":", b, len, "}");   /* the engine's bytes, not copied */
    return DP_WATCH_SENT;
}

/* Answers GET /containers from the snapshot, or relays the engine's answer. */
dp_watch_rc_t dp_watch_list(int *pret, dp_req_t *q, int all, json_object *filters)
{
    dp_dk_snap_t *snap;
    const char *body;
    apr_size_t len;

    if (q->proc->watch == NULL || (snap = dp_dk_watch_acquire(q->proc->watch)) == NULL) {
        return relay(pret, q, all, filters);
    }
    if (dp_dk_snap_render(&body, &len, snap, q->pool, all, filters) != APR_SUCCESS) {
        dp_dk_snap_release(snap);
        return relay(pret, q, all, filters);
    }
    *pret = dp_send_json_text(q, 200, body, len);   /* copied: the snapshot may go now */
    dp_dk_snap_release(snap);
    return DP_WATCH_SENT;
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
