/* dp_dk_policy: container create bodies — the simple body of the API translated to Docker's
 * create body, and the fail-closed create policy checked on every body before Docker sees it. */
#ifndef DP_DK_POLICY_H
#define DP_DK_POLICY_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_problem.h"

/* Relaxations (the same bits as DockpayPolicyAllow in handlers/dp_glue.h). */
#define DP_DK_ALLOW_PRIVILEGED      0x01  /* Privileged, CgroupParent, Runtime, VolumesFrom */
#define DP_DK_ALLOW_HOST_NAMESPACES 0x02  /* host (or container:) pid/ipc/net/uts/userns/cgroupns */
#define DP_DK_ALLOW_DEVICES         0x04  /* Devices, DeviceRequests, DeviceCgroupRules, device volumes */
#define DP_DK_ALLOW_SECURITY_OPT    0x08  /* SecurityOpt entries, MaskedPaths, ReadonlyPaths */
#define DP_DK_ALLOW_SYSCTLS         0x10  /* Sysctls */

/* Label every container created through the API carries, and the one naming the key. */
#define DP_DK_LABEL_MANAGED "dockpay.managed"
#define DP_DK_LABEL_KEY     "dockpay.key"

typedef struct dp_dk_policy_t {
    unsigned allow;                   /* DP_DK_ALLOW_* bits */
    const apr_array_header_t *caps;   /* const char*: capabilities CapAdd may name (no CAP_) */
    const apr_array_header_t *binds;  /* const char*: normalised host path prefixes, no trailing / */
    const char *socket;               /* the engine's socket path: never mountable, or NULL */
} dp_dk_policy_t;

/* Builds Docker's create body from an API request body: {"docker": {...}, "name"?} (raw, any
 * Docker field) or the simple body of API.md. *pname gets the container name or NULL.
 * 400 for malformed input (wrong type, unknown field), 422 for invalid values (naming the
 * field in the detail and in a "field" member). */
apr_status_t dp_dk_create_body(json_object **pbody, const char **pname, dp_problem_t **pprob,
                               apr_pool_t *p, json_object *req);

/* Checks a Docker create body against pol: 403 policy_denied naming the field (detail and a
 * "field" member) for anything not allowed; 400 for a security field of the wrong type or
 * spelled in another case (Docker matches field names case-insensitively). */
apr_status_t dp_dk_policy_check(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                json_object *body);

/* Checks a volume's driver and options (volume create; Mounts' DriverConfig): the local
 * driver's type=none/o=bind/device= make a host bind, allowed only below a bind prefix. */
apr_status_t dp_dk_policy_volume(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                 const char *driver, json_object *opts, const char *field);

/* Checks that a host path may be bind-mounted: never /, /etc, /proc, /sys, /var/lib/docker or
 * a docker socket (nor their parents or children); otherwise below an allowed prefix, both as
 * written (normalised) and with symlinks resolved. */
apr_status_t dp_dk_policy_host_path(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                    const char *path, const char *field);

/* Stamps the managed labels (dockpay.managed=true, dockpay.key=key_name) on a create body,
 * replacing any the caller set; 400 when Labels is not an object. */
apr_status_t dp_dk_stamp_labels(dp_problem_t **pprob, apr_pool_t *p, json_object *body,
                                const char *key_name);

/* Returns path made absolute-normalised ("//a/./b/../c/" → "/a/c") in p, or NULL when it is
 * not absolute; ".." never goes above "/". */
const char *dp_dk_path_normalise(apr_pool_t *p, const char *path);

/* True for a container id or name this API passes to Docker: [A-Za-z0-9][A-Za-z0-9_.-]*, ≤ 128. */
int dp_dk_valid_id(const char *s);

/* True for a volume name Docker accepts: [a-zA-Z0-9][a-zA-Z0-9_.-]+, ≤ 255. */
int dp_dk_valid_volume_name(const char *s);

/* Parses a memory size ("256m", "1g", "1.5G", "512kb", "1048576") into bytes. */
apr_status_t dp_dk_parse_memory(apr_int64_t *pbytes, const char *s);

#endif
