/* dp_dk_ops: Docker operations in the core, the way payments live in dp_pay. A handler parses
 * the request, fills a dp_dk_ctx_t (client, pool, the caller's identity and the policy inputs
 * as plain values) and calls one dp_dk_* operation; the operation builds the Engine API
 * requests, enforces ownership, and returns its result or a problem. No httpd types here.
 * Ownership: a non-admin key sees and acts only on the engine objects labelled
 * dockpay.key=<its name>; others answer 404 as if missing. */
#ifndef DP_DK_OPS_H
#define DP_DK_OPS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_docker.h"
#include "dp_problem.h"
#include "dp_store.h"
#include "dp_dk_policy.h"
#include "dp_dk_quota.h"
#include "dp_dk_logs.h"

/* Longest time a pull or a build may take (ms); a client that goes away ends it earlier. */
#define DP_DK_LONG_MS (60L * 60 * 1000)

/* What one Docker operation runs with. */
typedef struct dp_dk_ctx_t {
    dp_docker_t *docker;
    apr_pool_t *pool;                 /* the request's pool: results live here */
    const char *key;                  /* the caller's key name, stamped on what it creates ("" none) */
    const char *owner;                /* NULL: admin (sees all); else the key whose objects it sees */
    int managed_only;                 /* DockpayManagedOnly: only dockpay.managed containers */
    const dp_dk_policy_t *policy;     /* the create policy (container, volume creates) */
    dp_dk_quota_t limits;             /* the key's quota limits */
    const apr_array_header_t *registry_allow; /* DockpayRegistryAllow (const char*) */
    long docker_timeout_ms;           /* DockpayDockerTimeout in ms */
    json_object *labels;              /* labels the server adds to the services an "up" creates
                                       * (a billing binding's dockpay.customer), or NULL */
    /* a database handle on demand (image owners); NULL with a 503 problem when down */
    dp_db_t *(*db)(void *baton, dp_problem_t **pprob);
    void *db_baton;
    /* long calls (pull, build): called while they run; non-success aborts them */
    apr_status_t (*tick)(void *baton);
    void *tick_baton;
    /* out: what the operation acted on, for the audit row (NULL: unchanged) */
    const char *target;
    /* out: a notice for the log (a refusal by policy or quota), NULL when none; notice_error:
     * log it as an error (the server's fault) */
    const char *notice;
    int notice_error;
    /* the key's quota lock in the database while a create is checked and made (dp_dk_quota_*) */
    dp_store_lock_t *quota_lock;
} dp_dk_ctx_t;

/* The shapes of most operations: on a named object (a route parameter), on a request body. */
typedef apr_status_t dp_dk_get_fn(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name);
typedef apr_status_t dp_dk_body_fn(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body);
typedef apr_status_t dp_dk_read_fn(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c);
typedef apr_status_t dp_dk_delete_fn(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name, apr_table_t *query);

/* ------------------------------------------------------------------------------------------ */
/* shared helpers */

/* Gives a 404 problem the code of the resource looked up (image_not_found, ...); only Docker's
 * generic "not_found" unless any is set. Returns prob. */
dp_problem_t *dp_dk_not_found(dp_problem_t *prob, const char *code, int any);

/* Calls the engine with the context's client and pool (dp_docker_call). */
apr_status_t dp_dk_call(json_object **pjson, int *pstatus, dp_problem_t **pprob, dp_dk_ctx_t *c,
                        const char *method, const char *path, json_object *body);

/* Appends "<sep>filters=<json>" to path when filters has members. */
const char *dp_dk_with_filters(apr_pool_t *p, const char *path, const char *sep, json_object *filters);

/* Reads the optional object of strings o[key] into *pout (a pool-owned object, NULL when
 * absent): 400 wrong_type for another type or a non-string value; with no_reserved, names under
 * com.docker.compose.* are 403 policy_denied (labels). */
apr_status_t dp_dk_field_strmap(json_object **pout, dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                                const char *key, int no_reserved);

/* Lists containers with label filter label ("com.docker.compose.project=web"), stopped ones
 * too; *plist is a JSON array. */
apr_status_t dp_dk_containers_by_label(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                       const char *label);

/* ------------------------------------------------------------------------------------------ */
/* ownership (was handlers/h_owner.c) */

/* True when an object with these labels is visible to the caller. */
int dp_dk_visible(const dp_dk_ctx_t *c, json_object *labels);

/* Inspects container id and answers 404 container_not_found unless the caller may see it (its
 * own; managed_only: managed only, admin included); *pid gets its full Id, *pinfo (when not
 * NULL) the inspect object. */
apr_status_t dp_dk_own_container(const char **pid, json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                 const char *id);

/* Inspects network id into *pnet (may be NULL), 404 network_not_found unless visible. */
apr_status_t dp_dk_own_network(json_object **pnet, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id);

/* Inspects volume name into *pvol (may be NULL), 404 volume_not_found unless visible. */
apr_status_t dp_dk_own_volume(json_object **pvol, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name);

/* Quota check before a create that adds *add: takes the key's lock (a process mutex, then a
 * named lock in the database, so that every process of every server sharing the database waits
 * for it; 503 quota_busy when it stays held), counts what the key uses and checks c->limits; on
 * success *plocked says whether the lock is held (release it with dp_dk_quota_end once the engine
 * answered the create), on failure nothing is held. */
apr_status_t dp_dk_quota_begin(int *plocked, dp_problem_t **pprob, dp_dk_ctx_t *c, const dp_dk_usage_t *add);

/* Releases what dp_dk_quota_begin took. */
void dp_dk_quota_end(dp_dk_ctx_t *c, int locked);

/* Checks the objects a container create body names for a non-admin key (networks, volumes,
 * "container:" modes not its own are 403 policy_denied naming the field); *pnew gets the named
 * volumes that do not exist yet (const char*), to create with dp_dk_make_volumes. */
apr_status_t dp_dk_check_refs(apr_array_header_t **pnew, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body);

/* Creates the named volumes in news (const char*) with the key's labels. */
apr_status_t dp_dk_make_volumes(dp_problem_t **pprob, dp_dk_ctx_t *c, const apr_array_header_t *news);

/* ------------------------------------------------------------------------------------------ */
/* containers (lib/dp_dk_containers.c) */

/* Adds every ?name= value of query (names: NULL-terminated) to filters[name]. */
void dp_dk_query_filters(json_object *filters, apr_table_t *query, const char *const *names);

/* The Docker filters of GET /containers: ?status=, ?label=, ?name=, plus the managed label
 * (managed_only) and the owner's label (non-admin). */
json_object *dp_dk_container_filters(dp_dk_ctx_t *c, apr_table_t *query);

/* Docker's container list with filters (from dp_dk_container_filters). */
apr_status_t dp_dk_container_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c, int all,
                                  json_object *filters);

/* The same list as the engine's bytes (*pbody, *plen: a JSON array, whitespace trimmed);
 * APR_EINVAL without a problem when the engine's answer is not an array. */
apr_status_t dp_dk_container_list_raw(const char **pbody, apr_size_t *plen, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                      int all, json_object *filters);

/* Finds container id (from the route): 404 container_not_found for anything that is not a
 * container id or name, or (when want_info, managed_only or non-admin) not visible; *pid its
 * full Id, *pinfo (may be NULL) its inspect object when it was inspected. */
apr_status_t dp_dk_container_find(const char **pid, json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                  const char *id, int want_info);

/* Docker's inspect object of a visible container; Config.Env values hidden from non-admin keys. */
apr_status_t dp_dk_container_inspect(json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id);

/* Deletes a container (the query's force, volumes). */
apr_status_t dp_dk_container_delete(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id, apr_table_t *query);

/* One stats sample plus the CLI's summary ("summary"). */
apr_status_t dp_dk_container_stats(json_object **pstats, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id);

/* Runs action (start, stop, restart, kill, pause, unpause; the query's t or signal) on a
 * visible container; start/restart re-check its binds and volumes first. *pchanged is 0 when
 * the engine changed nothing (304). */
apr_status_t dp_dk_container_action(int *pchanged, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id,
                                    const char *action, apr_table_t *query);

/* Creates a container from a POST /containers body (simple or raw): the allow-listed body
 * built under the create policy, ownership and quota checks, labels, (pull when pull), create,
 * (start when start). *pout {"id","name","warnings","started"?}; when the start fails, *pout
 * is still set and the problem names the created id. */
apr_status_t dp_dk_container_create(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *req,
                                    int pull, int start);

/* A container's log request (dp_dk_container_logs). */
typedef struct dp_dk_logreq_t {
    const char *path;                 /* the engine path of the logs, query included */
    int follow, timestamps;           /* as asked */
    int tty;                          /* the container has a TTY: raw bytes, no frames */
} dp_dk_logreq_t;

/* Reads the logs query (follow, timestamps, stdout, stderr, tail, since, until: 400 bad_query)
 * and finds the visible container into *lr. */
apr_status_t dp_dk_container_logs(dp_dk_logreq_t *lr, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id,
                                  apr_table_t *query);

/* Fetches the logs of lr at once (no follow) into *presp; an engine status >= 400 is a problem. */
apr_status_t dp_dk_container_logs_get(dp_http_resp_t **presp, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                      const dp_dk_logreq_t *lr);

/* A follow stream of logs: dp_dk_follow_feed is the dp_http_write_fn of the engine's stream
 * (baton: the dp_dk_follow_t); it decodes frames into dec, or keeps an error answer aside. */
typedef struct dp_dk_follow_t dp_dk_follow_t;
dp_dk_follow_t *dp_dk_follow_create(apr_pool_t *p, dp_dk_logs_t *dec);
apr_status_t dp_dk_follow_feed(void *baton, const char *data, apr_size_t len);

/* After the stream ended with the engine's status: its error answer as a problem, or NULL. */
dp_problem_t *dp_dk_follow_error(dp_dk_follow_t *f, apr_pool_t *p, int status);

/* ------------------------------------------------------------------------------------------ */
/* networks (lib/dp_dk_networks.c) */

/* The fields of POST /networks, read and checked by dp_dk_network_create. */
typedef struct dp_dk_netspec_t {
    const char *name, *driver, *subnet, *gateway;
    int internal;
    json_object *labels;              /* object of strings or NULL */
} dp_dk_netspec_t;

/* Reads a POST /networks body into *spec (400 wrong fields, types). */
apr_status_t dp_dk_network_read(dp_dk_netspec_t *spec, dp_problem_t **pprob, apr_pool_t *p, json_object *body);

/* The caller's networks (Docker's list). */
apr_status_t dp_dk_network_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c);

/* One network's inspect object; 404 network_not_found unless visible. */
apr_status_t dp_dk_network_inspect(json_object **pnet, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id);

/* Creates a network owned by the key: *pout {"id","warning"}; 422/403 for refused values. */
apr_status_t dp_dk_network_create(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                  const dp_dk_netspec_t *spec);

/* Deletes a network: 409 network_in_use / predefined_network, 404 network_not_found. */
apr_status_t dp_dk_network_delete(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id);

/* Connects (connect 1, body {"container","aliases","ipv4_address"}) or disconnects (0, body
 * {"container","force"}) a container; *pchanged is 0 when nothing changed. */
apr_status_t dp_dk_network_attach(int *pchanged, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id,
                                  int connect, json_object *body);

/* ------------------------------------------------------------------------------------------ */
/* volumes (lib/dp_dk_networks.c) */

/* The caller's volumes with filters (label, name, dangling, driver: arrays of strings) added;
 * *plist Docker's Volumes, *pwarnings its Warnings (an array). */
apr_status_t dp_dk_volume_list(json_object **plist, json_object **pwarnings, dp_problem_t **pprob,
                               dp_dk_ctx_t *c, json_object *filters);

/* One volume's inspect object; 404 volume_not_found unless visible. */
apr_status_t dp_dk_volume_inspect(json_object **pvol, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name);

/* Creates a volume from a POST /volumes body {"name","driver","labels","driver_opts"} under
 * the volume policy and the key's quota: *pvol Docker's volume object. */
apr_status_t dp_dk_volume_create(json_object **pvol, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *in);

/* Deletes a volume (the query's force): 409 volume_in_use, 404 volume_not_found. */
apr_status_t dp_dk_volume_delete(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name, apr_table_t *query);

/* ------------------------------------------------------------------------------------------ */
/* images (lib/dp_dk_images.c) */

/* The images the caller may see (non-admin: its own and unowned tags, its labelled untagged
 * ones; other keys' tags trimmed); all, dangling (-1: either), reference (NULL or a ref: 422). */
apr_status_t dp_dk_image_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c, int all, int dangling,
                              const char *reference);

/* One image's inspect object; 404 image_not_found unless the caller may see it. */
apr_status_t dp_dk_image_inspect(json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name);

/* Deletes an image (non-admin: only its own tag, by name) with the query's force and noprune:
 * *plist Docker's untagged/deleted list; the removed tags' owner records are dropped. */
apr_status_t dp_dk_image_delete(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name,
                                apr_table_t *query);

/* 404 image_not_found when the engine has image name and a non-admin caller may not use it
 * (another key's tag or image); success for admin, visible or absent images. Looks up the
 * owners of that image's tags only. */
apr_status_t dp_dk_image_usable(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name);

/* Pulls what a POST /images/pull body {"image","tag"?,"auth"?} names from an allowed registry,
 * claiming the tag for the key; *pout {"image","status","id","digest"}. */
apr_status_t dp_dk_image_pull(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body);

/* Pulls image for a container create when the engine lacks it (allowed registries only). */
apr_status_t dp_dk_image_pull_missing(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *image);

/* A build in progress (dp_dk_build_begin → dp_dk_build_feed... → dp_dk_build_run). */
typedef struct dp_dk_build_t dp_dk_build_t;

/* Checks the build's query parameters (t, dockerfile, buildargs, labels, nocache, rm, forcerm,
 * pull, networkmode; anything else 403 naming it) and starts the context scan. */
apr_status_t dp_dk_build_begin(dp_dk_build_t **pb, dp_problem_t **pprob, dp_dk_ctx_t *c, apr_table_t *query);

/* Shows len bytes of the tar context to the scanner; non-success: refused (stop storing). */
apr_status_t dp_dk_build_feed(dp_dk_build_t *b, const char *buf, apr_size_t len);

/* Checks the scanned context's Dockerfile and base images, claims the tags, and builds with
 * the context read again from read_cb; *pout {"id","tags","log"}; in-band build errors are 422
 * build_failed with the log. */
apr_status_t dp_dk_build_run(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, dp_dk_build_t *b,
                             dp_http_read_fn *read_cb, void *read_baton);

/* ------------------------------------------------------------------------------------------ */
/* compose projects (lib/dp_dk_projects.c) */

/* Where and how "up" runs Compose (DockpayComposeRoot, DockpayComposeCommand, ...Timeout). */
typedef struct dp_dk_compose_conf_t {
    const char *root;
    const char *command;
    int timeout;                      /* seconds */
} dp_dk_compose_conf_t;

/* The projects found from container labels; a non-admin key sees only the projects whose
 * every container carries its key. */
apr_status_t dp_dk_project_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c);

/* The project with its containers, networks and volumes; 404 project_not_found. */
apr_status_t dp_dk_project_inspect(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name);

/* Applies action ("start", "stop", "restart"; the query's t) to every container of the project:
 * start and restart in service/number order, stop in reverse; *pout {"project","results"}. On
 * a failure: the engine's problem with the results so far. */
apr_status_t dp_dk_project_action(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name,
                                  const char *action, apr_table_t *query);

/* "down" (the query's volumes, t): stops and removes its containers (reverse order), then its
 * networks, and its volumes when asked; *pout a summary of what went. */
apr_status_t dp_dk_project_down(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name,
                                apr_table_t *query);

/* "up" for a POST /compose body {"project","compose"}: checks the name and the file
 * (dp_dk_compose_check: 403 policy_denied / 422), the project's ownership (409 project_owned),
 * the volumes, networks and images it names and the key's quota, writes the normalised JSON as
 * <root>/<project>/docker-compose.yml, runs "<command> -p <project> -f <file> up -d" with a time
 * limit and a minimal environment; 422 compose_failed / 504 compose_timeout with the output,
 * else *pout the project as dp_dk_project_inspect shows it plus "output". */
apr_status_t dp_dk_project_up(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body,
                              const dp_dk_compose_conf_t *conf);

/* ------------------------------------------------------------------------------------------ */
/* system (lib/dp_dk_system.c) */

/* Docker's /info. */
apr_status_t dp_dk_system_info(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c);

/* Docker's /system/df; for non-admin keys only their own containers, volumes and images. */
apr_status_t dp_dk_system_df(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c);

/* Docker's /version. */
apr_status_t dp_dk_system_version(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c);

/* Checks the GET /system/events query (since, until, type: 422) and builds the engine's
 * events path into *ppath (non-admin: its labelled objects only); 503 when the engine cannot
 * be reached (before any output). */
apr_status_t dp_dk_events_begin(const char **ppath, dp_problem_t **pprob, dp_dk_ctx_t *c, apr_table_t *query);

/* Returns the problem (502 docker_error) when line is the engine's error answer ({"message"}
 * without "Type") rather than an event, else NULL; tok is reset and reused. */
dp_problem_t *dp_dk_events_error(apr_pool_t *p, json_tokener *tok, const char *line, apr_size_t len);

/* Prunes the kinds a POST /system/prune body asks for; *pout per-kind results and the total. */
apr_status_t dp_dk_system_prune(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body);

/* ------------------------------------------------------------------------------------------ */
/* billing bindings (lib/dp_dk_bound.c): what the billing enforcer acts on */

/* The containers binding (kind "container" or "project", object its full Id or project name)
 * stands for, as engine objects in *plist (inspect objects or list entries; a container that is
 * gone: an empty list). */
apr_status_t dp_dk_bound_list(json_object **plist, dp_problem_t **pprob, dp_docker_t *docker, apr_pool_t *p,
                              const char *kind, const char *object);

/* The engine state of a container object ("running", "exited", "paused", ...; inspect or list
 * entry), or NULL. */
const char *dp_dk_container_state(json_object *c);

/* Applies verb (stop, pause, start, unpause) to the containers of binding (kind, object); one
 * already in that state is skipped, a gone one is fine; *pcount (not reset) counts the
 * containers changed. Fails on an engine error (the rest waits for the next pass). */
apr_status_t dp_dk_bound_act(int *pcount, dp_problem_t **pprob, dp_docker_t *docker, apr_pool_t *p,
                             const char *kind, const char *object, const char *verb);

#endif
