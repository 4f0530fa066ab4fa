/* h_watch: the event-fed container list on the httpd side — one watcher of the engine's event
 * stream per child process and Docker endpoint (DockpayContainerCache, default On), GET
 * /containers answered from its snapshot, and the marks of calls that change containers. */
#ifndef H_WATCH_H
#define H_WATCH_H

#include <json-c/json.h>

#include "dp_glue.h"

/* Starts the watcher of server s in the child (child_init); stopped by a cleanup of pchild. */
void dp_watch_child_init(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *pchild);

/* What dp_watch_list did. */
typedef enum dp_watch_rc_t {
    DP_WATCH_SENT,        /* a response was sent: the handler returns *pret */
    DP_WATCH_NOT_A_LIST   /* nothing was sent: the engine's answer was not a JSON array */
} dp_watch_rc_t;

/* Answers GET /containers with the pass-through's all and filters (the object it would send to
 * Docker): from the snapshot when it may answer now, else by relaying the engine's answer
 * without decoding and re-encoding it (cache off, watcher down or not synced, a change pending,
 * filters only Docker can decide). DP_WATCH_NOT_A_LIST only when the engine's answer is not a
 * JSON array: the caller's own pass-through then asks again and reports it. */
dp_watch_rc_t dp_watch_list(int *pret, dp_req_t *q, int all, json_object *filters);

/* Marks the start and the end of a request that may change containers (docker:write routes). */
void dp_watch_mutation_begin(dp_req_t *q);
void dp_watch_mutation_end(dp_req_t *q);

#endif
