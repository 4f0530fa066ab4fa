/* h_engine: what the Docker engine area's handler files (h_engine*.c) share. */
#ifndef H_ENGINE_H
#define H_ENGINE_H

#include "dp_glue.h"
#include "dp_dk_ops.h"

/* Sends the outcome of core operation c (lib/dp_dk_ops.h): logs c->notice, sets q->target from
 * c->target, then prob when rv failed, else body with status (body NULL: empty). Returns OK. */
int dp_engine_reply(dp_req_t *q, const dp_dk_ctx_t *c, apr_status_t rv, const dp_problem_t *prob, int status,
                    json_object *body);

/* Answers the core operation fn on the route parameter param with status (GET /x/{param}). */
int dp_engine_get(dp_req_t *q, dp_dk_get_fn *fn, const char *param, int status);

/* Answers the core operation fn on the JSON body (optional: an empty body is {}) with status. */
int dp_engine_post(dp_req_t *q, dp_dk_body_fn *fn, int optional, int status);

/* Answers the read-only core operation fn (GET /system/...). */
int dp_engine_read(dp_req_t *q, dp_dk_read_fn *fn);

/* Answers 204 after the core delete fn on the route parameter param and the query. */
int dp_engine_delete(dp_req_t *q, dp_dk_delete_fn *fn, const char *param);

/* tick_cb of long engine calls: aborts when the client has gone away (baton: request_rec). */
apr_status_t dp_engine_tick(void *baton);

/* Images */
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
