/* h_watch: the event-fed container list on the httpd side — one watcher of the engine's event
 * stream per child process and Docker endpoint (DockpayContainerCache, default On), GET
 * /containers answered from its snapshot, and the marks of calls that change containers. */
#ifndef H_WATCH_H
#define H_WATCH_H

#include <json-c/json.h>

#include "dp_glue.h"

/* Starts the watcher of server s in the child (child_init); stopped by a cleanup of pchild. */
void dp_watch_child_init(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *pchild);

/* Answers GET /containers with the pass-through's all and filters (the object it would send to
 * Docker) and returns OK: from the snapshot when it may answer now, else by relaying the engine's
 * answer without decoding and re-encoding it (cache off, watcher down or not synced, a change
 * pending, filters only Docker can decide). DECLINED only when the engine's answer is not a
 * JSON array: the caller's own pass-through then asks again and reports it. */
int dp_watch_list(dp_req_t *q, int all, json_object *filters);

/* Marks the start and the end of a request that may change containers (docker:write routes). */
void dp_watch_mutation_begin(dp_req_t *q);
void dp_watch_mutation_end(dp_req_t *q);

#endif
