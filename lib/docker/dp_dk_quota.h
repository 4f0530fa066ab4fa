/* dp_dk_quota: who owns an engine object (the dockpay.key label) and the per-key quotas
 * (containers, memory, CPUs, volumes) checked before a create. The arithmetic and the reading
 * of create bodies and engine lists live here so every create route (containers, volumes,
 * compose up) applies the same rules; the handlers fetch the key's objects from the engine. */
#ifndef DP_DK_QUOTA_H
#define DP_DK_QUOTA_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_auth.h"
#include "dp_problem.h"

/* Labels a container created under a key carries besides dockpay.managed and dockpay.key:
 * the memory (bytes) and NanoCpus limits it was created with ("0": none), counted by quotas. */
#define DP_DK_LABEL_MEMORY   "dockpay.memory"
#define DP_DK_LABEL_NANOCPUS "dockpay.nanocpus"

/* Limits in effect for a key: each 0 (unlimited) or the limit (memory in bytes, nanocpus). */
typedef dp_quota_t dp_dk_quota_t;

/* What a key uses, or what a create adds (containers and volumes counted, memory in bytes and
 * nanocpus summed over the key's containers). */
typedef struct dp_dk_usage_t {
    apr_int64_t containers;
    apr_int64_t memory;
    apr_int64_t nanocpus;
    apr_int64_t volumes;
} dp_dk_usage_t;

/* Resolves the limits of a key: a member given on its line wins, else dflt's for non-admin
 * keys (admin keys: no limit unless their line sets one); DP_QUOTA_UNSET ends up 0. */
void dp_dk_quota_resolve(dp_dk_quota_t *out, const dp_quota_t *line, const dp_quota_t *dflt, int admin);

/* True when limit sets no quota at all. */
int dp_dk_quota_none(const dp_dk_quota_t *limit);

/* Checks used + add against limit (containers, memory, cpus, volumes, in that order): the first
 * one exceeded is a 403 quota_exceeded problem with members "quota" (its name), "used",
 * "limit" and "requested" (bytes for memory, CPUs for cpus) and a detail naming them. A
 * container create (add->containers > 0) without a memory (or CPU) limit exceeds a memory
 * (or cpus) quota: it could use the whole host. */
apr_status_t dp_dk_quota_check(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_quota_t *limit,
                               const dp_dk_usage_t *used, const dp_dk_usage_t *add);

/* Reads what a Docker create body adds: one container, HostConfig.Memory and
 * HostConfig.NanoCpus (0 when absent). 400 when either is not a non-negative integer or is
 * also spelled in another case (Docker matches field names case-insensitively). */
apr_status_t dp_dk_quota_body(dp_dk_usage_t *add, dp_problem_t **pprob, apr_pool_t *p, json_object *body);

/* Stamps add's memory and nanocpus as the DP_DK_LABEL_MEMORY / _NANOCPUS labels of a create
 * body (Labels must be an object or absent), replacing any the caller set. */
void dp_dk_quota_stamp(json_object *body, const dp_dk_usage_t *add);

/* Adds the containers of list (the engine's container list answer) to *used: one each, and the
 * memory and nanocpus of their labels (a missing or bad label counts 0). */
void dp_dk_usage_add_containers(dp_dk_usage_t *used, json_object *list);

/* True when labels (an object, or NULL) say the object belongs to key_name. */
int dp_dk_owned(json_object *labels, const char *key_name);

/* Returns the label filter "dockpay.key=<key_name>" in p. */
const char *dp_dk_owner_filter(apr_pool_t *p, const char *key_name);

/* Adds the filter "label": ["dockpay.key=<key_name>", ...] to a Docker filters object. */
void dp_dk_owner_filters_add(json_object *filters, apr_pool_t *p, const char *key_name);

/* The engine objects a create body refers to by name: networks (HostConfig.NetworkMode other
 * than the defaults bridge/none/default/host and container:..., NetworkingConfig.EndpointsConfig
 * keys; field "HostConfig.NetworkMode" or "NetworkingConfig"), named volumes (HostConfig.Binds
 * "name:/path", HostConfig.Mounts of Type volume with a Source) and containers
 * (NetworkMode/PidMode/IpcMode "container:X", HostConfig.Links and VolumesFrom, endpoint Links).
 * Every spelling of these field names counts (the
 * engine matches names case-insensitively and merges repeated objects). Arrays of dp_dk_objref_t. */
typedef struct dp_dk_objref_t {
    const char *name;
    const char *field;    /* the body field that names it */
} dp_dk_objref_t;

/* Collects the references of a create body into three arrays in p. */
void dp_dk_create_refs(apr_array_header_t **pnets, apr_array_header_t **pvols, apr_array_header_t **pctrs,
                       apr_pool_t *p, json_object *body);

/* Serialises the check-and-create of one key within this process: lock before counting the
 * key's usage, unlock after the engine answered the create (striped process-wide mutexes;
 * another process can still interleave, see docs/security.md). */
void dp_dk_quota_lock(const char *key_name);
void dp_dk_quota_unlock(const char *key_name);

#endif
