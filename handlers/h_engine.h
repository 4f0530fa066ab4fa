/* h_engine: what the Docker engine area's handler files (h_engine*.c) share. */
#ifndef H_ENGINE_H
#define H_ENGINE_H

#include "dp_glue.h"

/* Longest time a pull or a build may take (ms); a client that goes away ends it earlier. */
#define DP_ENGINE_LONG_MS (60L * 60 * 1000)

/* Calls the engine (dp_docker_call on the request's client and pool). */
apr_status_t dp_engine_call(json_object **pjson, int *pstatus, dp_problem_t **pprob, dp_req_t *q,
                            const char *method, const char *path, json_object *body);

/* Sends {"items": list} (list may be NULL: an empty array). */
int dp_engine_send_items(dp_req_t *q, json_object *list);

/* tick_cb of long engine calls: aborts when the client has gone away (baton: request_rec). */
apr_status_t dp_engine_tick(void *baton);

/* Lists containers ("/containers/json?all=1&filters=...") with label filter label (e.g.
 * "com.docker.compose.project=web"); *plist is a JSON array. */
apr_status_t dp_engine_containers_by_label(json_object **plist, dp_problem_t **pprob, dp_req_t *q,
                                           const char *label);

/* Images */
/* 404 image_not_found when the engine has image name and the request's non-admin key may not
 * use it (another key's tag or image); success for admin, visible or absent images. */
apr_status_t dp_images_usable(dp_problem_t **pprob, dp_req_t *q, const char *name);
int dp_images_list(dp_req_t *q);
int dp_images_inspect(dp_req_t *q);
int dp_images_pull(dp_req_t *q);
int dp_images_build(dp_req_t *q);
int dp_images_delete(dp_req_t *q);

/* Events */
int dp_system_events(dp_req_t *q);

/* Compose */
int dp_compose_list(dp_req_t *q);
int dp_compose_inspect(dp_req_t *q);
int dp_compose_up(dp_req_t *q);
int dp_compose_down(dp_req_t *q);
int dp_compose_start(dp_req_t *q);
int dp_compose_stop(dp_req_t *q);
int dp_compose_restart(dp_req_t *q);

#endif
