/* dp_glue: what handlers share on the httpd side — configuration, the request context, and
 * helpers that turn lib results into HTTP responses. Handlers never call curl or SQL. */
#ifndef DP_GLUE_H
#define DP_GLUE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_optional.h>
#include <json-c/json.h>

#include "dp_util.h"
#include "dp_problem.h"
#include "dp_json.h"
#include "dp_router.h"
#include "dp_auth.h"
#include "dp_store.h"
#include "dp_docker.h"

#if defined(APLOG_USE_MODULE) && !defined(DP_MODULE_MAIN)
APLOG_USE_MODULE(dockpay);
#endif

#define DP_UNSET (-1)

/* Create-policy relaxations (DockpayPolicyAllow). */
#define DP_ALLOW_PRIVILEGED      0x01
#define DP_ALLOW_HOST_NAMESPACES 0x02
#define DP_ALLOW_DEVICES         0x04
#define DP_ALLOW_SECURITY_OPT    0x08
#define DP_ALLOW_SYSCTLS         0x10

/* Server configuration: every field starts unset (-1/NULL) and is merged field by field;
 * the getters in dp_glue.c apply the documented defaults. */
typedef struct dp_conf_t {
    const char *base_path;          /* DockpayBasePath, default /api/v1 */
    const char *key_file;           /* DockpayKeyFile */
    apr_off_t max_body;             /* DockpayMaxBody, default 1 MiB */
    const char *openapi_file;       /* DockpayOpenAPIFile */
    /* Docker */
    const char *docker_endpoint;    /* DockpayDockerEndpoint, default unix:///var/run/docker.sock */
    int docker_timeout;             /* DockpayDockerTimeout seconds, default 60 */
    int max_streams;                /* DockpayMaxStreams per process, default 32 */
    int heartbeat;                  /* DockpayStreamHeartbeat seconds, default 15 */
    int managed_only;               /* DockpayManagedOnly, default off */
    int container_cache;            /* DockpayContainerCache: event-fed container list, default on */
    int policy_allow;               /* DockpayPolicyAllow bits, default none */
    apr_array_header_t *cap_allow;  /* DockpayCapAllow (const char*), default none */
    apr_array_header_t *bind_allow; /* DockpayBindAllow path prefixes, default none */
    /* create policy: resources, publish, log drivers */
    apr_int64_t mem_default;        /* DockpayMemoryLimit DEFAULT bytes, default 512m */
    apr_int64_t mem_max;            /* DockpayMemoryLimit MAX bytes, default 8g */
    apr_int64_t cpu_default;        /* DockpayCpuLimit DEFAULT in NanoCpus, default 1 CPU */
    apr_int64_t cpu_max;            /* DockpayCpuLimit MAX in NanoCpus, default 4 CPUs */
    apr_int64_t pids_default;       /* DockpayPidsLimit DEFAULT, default 1024 */
    apr_int64_t pids_max;           /* DockpayPidsLimit MAX, default 4096 */
    apr_array_header_t *publish_allow; /* DockpayPublishAllow (dp_dk_publish_t), default
                                          0.0.0.0, 127.0.0.1, ::, ::1 ports 1024-65535 */
    apr_array_header_t *log_drivers;   /* DockpayLogDriverAllow (const char*) beyond json-file,
                                          local, none; default none */
    const char *compose_command;    /* DockpayComposeCommand, default "docker-compose" */
    const char *compose_root;       /* DockpayComposeRoot, default /var/lib/dockpay/compose */
    int compose_timeout;            /* DockpayComposeTimeout seconds, default 300 */
    /* ownership and quotas */
    dp_quota_t quota;               /* DockpayQuotaContainers/Memory/Cpus/Volumes: defaults for keys
                                     * without their own (members DP_QUOTA_UNSET until set;
                                     * built-in defaults in handlers/h_owner.h) */
    /* builds and registries */
    apr_array_header_t *registry_allow; /* DockpayRegistryAllow host[:port] (const char*), default docker.io */
    /* PortOne */
    const char *portone_url;        /* DockpayPortOneURL, default https://api.iamport.kr */
    const char *portone_key;        /* DockpayPortOneKey (secret: never logged) */
    const char *portone_secret;     /* DockpayPortOneSecret (secret: never logged) */
    const char *portone_ca_file;    /* DockpayPortOneCAFile */
    const char *portone_channel;    /* DockpayPortOneChannelKey */
    const char *portone_pg;         /* DockpayPortOnePG */
    int portone_timeout;            /* DockpayPortOneTimeout seconds, default 10 */
    int portone_connect_timeout;    /* DockpayPortOneConnectTimeout seconds, default 5 */
    apr_array_header_t *webhook_allow; /* DockpayWebhookAllow (apr_ipsubnet_t*), default PortOne's */
    int vbank_due_days;             /* DockpayVbankDueDays, default 3 */
    int auto_cancel;                /* DockpayAutoCancelMismatch, default on */
    int health_cache;               /* DockpayHealthCache seconds, default 1 (0: check every call) */
    int payments_cache;             /* DockpayPaymentsCache seconds, default 1 (0: off) */
    /* billing-aware containers (branch billing, issue 15) */
    int billing_enforce;            /* DockpayBillingEnforce off|stop|pause (DP_BILLING_ENFORCE_*), default off */
    int billing_grace;              /* DockpayBillingGrace seconds, default 259200 (3 days) */
    /* process-wide state, created in post_config/child_init */
    struct dp_proc_t *proc;
} dp_conf_t;

/* Process-wide state for one server: clients and the keyring (read-only after start-up,
 * except where a client documents its own locking). */
typedef struct dp_proc_t {
    dp_keyring_t *keys;
    dp_docker_t *docker;
    void *portone;                  /* dp_portone_t* (payments) */
    volatile apr_uint32_t streams;  /* follow streams open now */
    struct dp_dk_watch_t *watch;    /* the container list watcher (child_init; h_watch.c), or NULL */
    volatile apr_uint32_t *pay_changes; /* payments-table change count, shared by the children */
    struct dp_memo_t *health;       /* the last dependency check (child_init) */
    struct dp_memo_t *pages;        /* memoised GET /payments pages (child_init) */
} dp_proc_t;

/* One API request as the handlers see it. */
typedef struct dp_req_t {
    request_rec *r;
    apr_pool_t *pool;               /* r->pool */
    dp_conf_t *conf;
    dp_proc_t *proc;
    const dp_route_t *route;
    apr_table_t *params;            /* {param} values of the route */
    apr_table_t *query;             /* decoded query string */
    const dp_key_t *key;            /* the caller's key, NULL on open routes */
    const char *rid;                /* request id */
    const char *target;             /* what the request acted on, for the audit row */
    int audit_done;                 /* the handler wrote its own audit row */
} dp_req_t;

typedef int dp_handler_fn(dp_req_t *q);

typedef struct dp_handler_entry_t {
    const char *id;                 /* route id in lib/dp_routes.c */
    dp_handler_fn *fn;
} dp_handler_entry_t;

/* Handler tables of the areas, each ending with { NULL, NULL }. */
extern const dp_handler_entry_t dp_system_handlers[];      /* handlers/h_system.c */
extern const dp_handler_entry_t dp_containers_handlers[];  /* containers, volumes (h_containers.c) */
extern const dp_handler_entry_t dp_engine_handlers[];      /* images, networks, system, compose (h_engine.c) */
extern const dp_handler_entry_t dp_payment_handlers[];     /* payments, webhooks (h_payments.c) */
extern const dp_handler_entry_t dp_subscription_handlers[];/* subscriptions (h_subscriptions.c) */
extern const dp_handler_entry_t dp_billing_handlers[];     /* billing (h_billing.c, branch billing) */

/* Getters with defaults applied. */
const char *dp_conf_base_path(const dp_conf_t *c);
apr_off_t dp_conf_max_body(const dp_conf_t *c);
int dp_conf_int(int v, int dflt);

/* Logs for the request with the module tag and request id; never pass secrets. */
#define DP_LOG(q, level, rv, fmt, ...) \
    ap_log_rerror(APLOG_MARK, level, rv, (q)->r, "dockpay [%s]: " fmt, (q)->rid, ##__VA_ARGS__)

/* Sends body (a JSON value) with status; returns OK for the handler to return. */
int dp_send_json(dp_req_t *q, int status, json_object *body);

/* Sends len bytes of already serialised JSON with status; returns OK. */
int dp_send_json_text(dp_req_t *q, int status, const char *json, apr_size_t len);

/* Sends an empty response with status (204). */
int dp_send_empty(dp_req_t *q, int status);

/* Sends prob as application/problem+json (logs 5xx problems); returns OK. */
int dp_send_problem(dp_req_t *q, const dp_problem_t *prob);

/* Sends a new problem with a printf-style detail; returns OK. */
int dp_fail(dp_req_t *q, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads the request body (through brigades, capped at DockpayMaxBody: 413 beyond) into p. */
apr_status_t dp_read_body(char **pbuf, apr_size_t *plen, dp_problem_t **pprob, dp_req_t *q);

/* Reads a JSON object body: 415 for another content type, 400 for bad JSON or no object;
 * when optional and the body is empty, *pobj is an empty object. */
apr_status_t dp_read_json(json_object **pobj, dp_problem_t **pprob, dp_req_t *q, int optional);

/* Returns query parameter name (decoded) or NULL. */
const char *dp_query(dp_req_t *q, const char *name);

/* Reads a boolean query parameter (dflt when absent); a bad value is a 400 problem. */
apr_status_t dp_query_bool(int *pval, dp_problem_t **pprob, dp_req_t *q, const char *name, int dflt);

/* Reads an integer query parameter in [min,max] (dflt when absent); a bad value is a 400. */
apr_status_t dp_query_int(apr_int64_t *pval, dp_problem_t **pprob, dp_req_t *q, const char *name,
                          apr_int64_t dflt, apr_int64_t min, apr_int64_t max);

/* Borrows a database connection for this request; NULL with a 503 problem when down. */
dp_db_t *dp_db_acquire(dp_problem_t **pprob, dp_req_t *q);

/* Opens a connection outside the request's cache (for streams); release with dp_db_release. */
dp_db_t *dp_db_open(dp_problem_t **pprob, dp_req_t *q);
void dp_db_release(dp_req_t *q, dp_db_t *db);

#endif
