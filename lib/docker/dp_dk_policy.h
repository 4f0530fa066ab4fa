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

/* Resource defaults and ceilings when the policy leaves them 0. */
#define DP_DK_MEMORY_DEFAULT (512LL * 1024 * 1024)        /* 512m */
#define DP_DK_MEMORY_MAX     (8LL * 1024 * 1024 * 1024)   /* 8g */
#define DP_DK_CPUS_DEFAULT   1000000000LL                 /* 1 CPU, in NanoCpus */
#define DP_DK_CPUS_MAX       4000000000LL                 /* 4 CPUs */
#define DP_DK_PIDS_DEFAULT   1024
#define DP_DK_PIDS_MAX       4096

/* One DockpayPublishAllow entry: host ports lo..hi may be published on the host address ip
 * ("0.0.0.0", "127.0.0.1", "::", "::1", ... or "*" for any address). */
typedef struct dp_dk_publish_t {
    const char *ip;
    int lo, hi;
} dp_dk_publish_t;

typedef struct dp_dk_policy_t {
    unsigned allow;                   /* DP_DK_ALLOW_* bits */
    const apr_array_header_t *caps;   /* const char*: capabilities CapAdd may name (no CAP_) */
    const apr_array_header_t *binds;  /* const char*: normalised host path prefixes, no trailing / */
    const char *socket;               /* the engine's socket path: never mountable, or NULL */
    /* resources: 0 means the DP_DK_*_DEFAULT / _MAX above */
    apr_int64_t mem_default, mem_max;     /* bytes */
    apr_int64_t cpu_default, cpu_max;     /* NanoCpus */
    apr_int64_t pids_default, pids_max;
    const apr_array_header_t *publish;    /* dp_dk_publish_t; NULL: ports 1024-65535 on 0.0.0.0,
                                             127.0.0.1, :: and ::1 */
    const apr_array_header_t *log_drivers; /* const char*: log drivers allowed beyond json-file,
                                              local and none */
} dp_dk_policy_t;

/* Builds Docker's create body from an API request body: {"docker": {...}, "name"?} (raw, any
 * Docker field) or the simple body of docs/api.md §3. *pname gets the container name or NULL.
 * 400 for malformed input (wrong type, unknown field), 422 for invalid values (naming the
 * field in the detail and in a "field" member). */
apr_status_t dp_dk_create_body(json_object **pbody, const char **pname, dp_problem_t **pprob,
                               apr_pool_t *p, json_object *req);

/* Builds in *pout (owned by p) a NEW Docker create body from body holding only the fields of
 * the create allow-list (docs/security.md), each type- and value-checked, with the resource
 * defaults written in and host bind sources replaced by their resolved paths. A field not on
 * the list (at any level, in any other spelling) or a value outside it: 403 policy_denied
 * naming the field path (detail and a "field" member); a wrong type: 400 wrong_type; a
 * malformed value: 422 invalid_value. */
apr_status_t dp_dk_policy_build(json_object **pout, dp_problem_t **pprob, apr_pool_t *p,
                                const dp_dk_policy_t *pol, json_object *body);

/* Checks a Docker create body against pol: dp_dk_policy_build, the result discarded. */
apr_status_t dp_dk_policy_check(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                json_object *body);

/* Whether a field path of a built body is on the allow-list: 0 no, 1 a field, 2 a map whose
 * member names are data (its members are written "*": "Labels.*"), 3 a field whose content
 * a relaxation passes as given. Paths join names with '.', arrays add nothing
 * ("HostConfig.Mounts.BindOptions.Propagation", "HostConfig.PortBindings.*.HostPort"). */
int dp_dk_policy_field_known(const char *path);

/* Re-checks the host bind sources of an existing container (Docker's inspect object) before it
 * starts: each must still resolve (symlinks followed) to an existing path inside
 * DockpayBindAllow; 403 policy_denied naming the mount otherwise. *pvolumes gets the names
 * of the local-driver volumes it mounts (const char*), whose options the caller re-checks
 * with dp_dk_policy_volume. */
apr_status_t dp_dk_policy_recheck(apr_array_header_t **pvolumes, dp_problem_t **pprob, apr_pool_t *p,
                                  const dp_dk_policy_t *pol, json_object *info);

/* A network a built create body names: HostConfig.NetworkMode (when a user network) or a
 * NetworkingConfig.EndpointsConfig member. */
typedef struct dp_dk_netref_t {
    const char *name;    /* the name or id as written */
    const char *field;   /* the field path naming it */
} dp_dk_netref_t;

/* Returns the networks (dp_dk_netref_t) a built create body names; the caller looks each up
 * in the engine (a name may be an id or an id prefix) and passes its driver to
 * dp_dk_policy_network_driver. */
apr_array_header_t *dp_dk_policy_networks(apr_pool_t *p, json_object *built);

/* Refuses (403 policy_denied naming field) a network whose driver is "host" (the host's
 * network reached by id) unless DockpayPolicyAllow host-namespaces. */
apr_status_t dp_dk_policy_network_driver(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                         const char *driver, const char *field);

/* Parses a DockpayPublishAllow entry "IP:PORT", "IP:LO-HI", "[IPv6]:LO-HI" or "*:LO-HI". */
apr_status_t dp_dk_publish_parse(dp_dk_publish_t *out, apr_pool_t *p, const char *s);

/* Checks a volume's driver and options (volume create; Mounts' DriverConfig): the local
 * driver's type=none/o=bind/device= make a host bind, allowed only as dp_dk_policy_bind_source
 * allows it; opts.device is then replaced by the resolved path. */
apr_status_t dp_dk_policy_volume(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                 const char *driver, json_object *opts, const char *field);

/* Checks that a host path may be bind-mounted and sets *preal (may be NULL) to it resolved:
 * absolute, no ".." component, never /, /etc, /proc, /sys, /dev, /boot, /var/lib/docker or a
 * docker socket (nor their parents or children), below a DockpayBindAllow prefix both as
 * written and resolved (realpath), and existing. 403 policy_denied naming field otherwise. */
apr_status_t dp_dk_policy_bind_source(const char **preal, dp_problem_t **pprob, apr_pool_t *p,
                                      const dp_dk_policy_t *pol, const char *path, const char *field);

/* dp_dk_policy_bind_source without the resolved path. */
apr_status_t dp_dk_policy_host_path(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                    const char *path, const char *field);

/* Stamps the managed labels (dockpay.managed=true, dockpay.key=key_name) on a create body,
 * replacing any the caller set; 400 when Labels is not an object. */
apr_status_t dp_dk_stamp_labels(dp_problem_t **pprob, apr_pool_t *p, json_object *body,
                                const char *key_name);

/* True for a label name no caller may set (com.docker.compose.*: Compose project membership). */
int dp_dk_label_reserved(const char *name);

/* Returns path made absolute-normalised ("//a/./b/../c/" → "/a/c") in p, or NULL when it is
 * not absolute; ".." never goes above "/". */
const char *dp_dk_path_normalise(apr_pool_t *p, const char *path);

/* True for a container id or name this API passes to Docker: [A-Za-z0-9][A-Za-z0-9_.-]*, ≤ 128. */
int dp_dk_valid_id(const char *s);

/* True for a volume name Docker accepts: [a-zA-Z0-9][a-zA-Z0-9_.-]+, ≤ 255. */
int dp_dk_valid_volume_name(const char *s);

#endif
