/* dp_dk_compose: Compose projects as the engine sees them (labels), the project-name check,
 * the compose-file checker (YAML -> allow-listed, normalised JSON), and running the Compose
 * command with a time limit. */
#ifndef DP_DK_COMPOSE_H
#define DP_DK_COMPOSE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_problem.h"
#include "dp_dk_policy.h"

#define DP_DK_COMPOSE_LABEL_PROJECT "com.docker.compose.project"
#define DP_DK_COMPOSE_OUTPUT_MAX    (256 * 1024)   /* bytes of the command's output kept */

/* True when name matches ^[a-z0-9][a-z0-9_-]{0,62}$. */
int dp_dk_compose_name_ok(const char *name);

/* What a checked project would create, for a quota check in the up handler: containers (one
 * per service), volumes (project volumes and anonymous ones, not external), and the sums of
 * the services' memory limit (bytes) and CPU limit (NanoCpus); 0 where a service sets none. */
typedef struct dp_dk_compose_need_t {
    int containers, volumes;
    apr_int64_t memory, nanocpus;
} dp_dk_compose_need_t;

/* An engine object the project would use or create: the up handler checks that it does not
 * exist or belongs to the key (its dockpay.key label) before anything runs. */
typedef struct dp_dk_compose_ref_t {
    const char *kind;       /* "volume" or "network" */
    const char *name;       /* the engine's name ("<project>_<name>", or the external name) */
    int external;           /* external: true (must exist) */
    const char *field;      /* where the document names it ("volumes.data") */
} dp_dk_compose_ref_t;

typedef struct dp_dk_compose_plan_t {
    json_object *doc;                /* the normalised document (version "2.4"), owned by p */
    dp_dk_compose_need_t need;
    apr_array_header_t *refs;        /* dp_dk_compose_ref_t */
} dp_dk_compose_plan_t;

/* Parses compose YAML (dp_yaml_parse) and rebuilds it from an allow-list: top-level version,
 * services, volumes, networks (x-* dropped); per service the keys of docs/security.md, each
 * checked and normalised; every service's Docker create body checked by dp_dk_policy_check
 * under pol; volume driver_opts by dp_dk_policy_volume; dockpay.managed/dockpay.key=key_name
 * stamped on every service, volume and network. 403 policy_denied naming the path
 * ("services.web.env_file") for a refused key or value, 422 invalid_value for malformed ones,
 * 422 interpolation_not_allowed for a '$' other than "$$". */
apr_status_t dp_dk_compose_check(dp_dk_compose_plan_t *plan, dp_problem_t **pprob, apr_pool_t *p,
                                 const dp_dk_policy_t *pol, const char *yaml, apr_size_t len,
                                 const char *project, const char *key_name);

/* Returns the alphabetically ordered status summary of containers (an array of Docker list
 * objects, using "State"): "running(2), exited(1)". */
const char *dp_dk_compose_status(apr_pool_t *p, json_object *containers);

/* Groups Docker list objects by their project label (skipping oneoff=True) into a new array
 * owned by p, ordered by name: {"name","status","services":[...],"container_count":N,
 * "working_dir","config_files":[...]}. */
json_object *dp_dk_compose_group(apr_pool_t *p, json_object *containers);

/* Orders the containers (a new array owned by p, borrowed elements) by service then
 * container number, reversed when reverse is set (stop order). */
json_object *dp_dk_compose_order(apr_pool_t *p, json_object *containers, int reverse);

/* Splits the compose command ("docker compose", "docker-compose", "/abs/path") into argv
 * words and appends args (NULL-terminated); returns a NULL-terminated array in p. */
const char **dp_dk_compose_argv(apr_pool_t *p, const char *command, const char *const *args);

typedef struct dp_dk_run_t {
    int exit_code;              /* the exit status (128+signal when killed by one) */
    int timed_out;              /* the time limit ended it */
    const char *output;         /* stdout and stderr interleaved, NUL-terminated */
    apr_size_t output_len;
    int output_truncated;       /* more than max_output bytes were written */
} dp_dk_run_t;

/* Runs argv (argv[0] a program name looked up in PATH, or an absolute path) without a shell,
 * in its own process group (through setsid(1) when present), in folder dir, with only the
 * variables of env (NULL-terminated "K=V"), stdin from /dev/null, stdout+stderr captured up
 * to max_output bytes; after timeout_s seconds the group gets SIGTERM, then SIGKILL. Fails
 * (a 500/503 problem) only when the program cannot be started. */
apr_status_t dp_dk_run(dp_dk_run_t *res, dp_problem_t **pprob, apr_pool_t *p, const char *const *argv,
                       const char *const *env, const char *dir, int timeout_s, apr_size_t max_output);

/* Writes data to dir/name atomically (a temp file in dir renamed over name), creating dir
 * (and its parents) with mode 0750; the file gets mode 0640. 500 problem on failure. */
apr_status_t dp_dk_write_file(dp_problem_t **pprob, apr_pool_t *p, const char *dir, const char *name,
                              const char *data, apr_size_t len);

/* Removes every entry of dir except the file keep (a fresh project folder holds only the
 * checked compose file); a missing dir is fine. 500 problem when an entry cannot go. */
apr_status_t dp_dk_clean_dir(dp_problem_t **pprob, apr_pool_t *p, const char *dir, const char *keep);

#endif
