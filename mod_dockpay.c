/* mod_dockpay: Docker management and PortOne payments as a REST API inside Apache httpd.
 * This file holds the module record, the directives, the hooks and the request dispatch;
 * the areas' handlers live in handlers/, the core library (no httpd) in lib/. */
#define DP_MODULE_MAIN 1
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_dbd.h>
#include <apr_shm.h>
#include <mod_dbd.h>

#include "dp_glue.h"
#include "dp_dk_policy.h"
#include "dp_routes.h"
#include "dp_log.h"
#include "dp_http.h"
#include "dp_memo.h"
#include "h_areas.h"
#include "h_watch.h"
#include "h_billing.h"
#include "dp_billing.h"

module AP_MODULE_DECLARE_DATA dockpay_module;

#define DP_HANDLER "dockpay"

static apr_hash_t *handler_map;   /* route id -> dp_handler_fn*, built in post_config */
static server_rec *main_server;

/* ------------------------------------------------------------------------------------------ */
/* configuration */

static void *create_srv_conf(apr_pool_t *p, server_rec *s)
{
    dp_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->max_body = DP_UNSET;
    c->docker_timeout = DP_UNSET;
    c->max_streams = DP_UNSET;
    c->heartbeat = DP_UNSET;
    c->managed_only = DP_UNSET;
    c->container_cache = DP_UNSET;
    c->policy_allow = DP_UNSET;
    c->mem_default = c->mem_max = DP_UNSET;
    c->cpu_default = c->cpu_max = DP_UNSET;
    c->pids_default = c->pids_max = DP_UNSET;
    c->compose_timeout = DP_UNSET;
    c->portone_timeout = DP_UNSET;
    c->portone_connect_timeout = DP_UNSET;
    c->vbank_due_days = DP_UNSET;
    c->auto_cancel = DP_UNSET;
    c->health_cache = DP_UNSET;
    c->payments_cache = DP_UNSET;
    /* billing (branch billing) */
    c->billing_enforce = DP_UNSET;
    c->billing_grace = DP_UNSET;
    dp_quota_unset(&c->quota);
    return c;
}

#define MERGE_PTR(f) c->f = add->f ? add->f : base->f
#define MERGE_INT(f) c->f = add->f != DP_UNSET ? add->f : base->f

static void *merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    dp_conf_t *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    MERGE_PTR(base_path);
    MERGE_PTR(key_file);
    MERGE_INT(max_body);
    MERGE_PTR(openapi_file);
    MERGE_PTR(docker_endpoint);
    MERGE_INT(docker_timeout);
    MERGE_INT(max_streams);
    MERGE_INT(heartbeat);
    MERGE_INT(managed_only);
    MERGE_INT(container_cache);
    MERGE_INT(policy_allow);
    MERGE_PTR(cap_allow);
    MERGE_PTR(bind_allow);
    MERGE_INT(mem_default);
    MERGE_INT(mem_max);
    MERGE_INT(cpu_default);
    MERGE_INT(cpu_max);
    MERGE_INT(pids_default);
    MERGE_INT(pids_max);
    MERGE_PTR(publish_allow);
    MERGE_PTR(log_drivers);
    MERGE_PTR(registry_allow);
    MERGE_PTR(compose_command);
    MERGE_PTR(compose_root);
    MERGE_INT(compose_timeout);
    MERGE_PTR(portone_url);
    MERGE_PTR(portone_key);
    MERGE_PTR(portone_secret);
    MERGE_PTR(portone_ca_file);
    MERGE_PTR(portone_channel);
    MERGE_PTR(portone_pg);
    MERGE_INT(portone_timeout);
    MERGE_INT(portone_connect_timeout);
    MERGE_PTR(webhook_allow);
    MERGE_INT(vbank_due_days);
    MERGE_INT(auto_cancel);
    MERGE_INT(health_cache);
    MERGE_INT(payments_cache);
    /* billing (branch billing) */
    MERGE_INT(billing_enforce);
    MERGE_INT(billing_grace);
    MERGE_INT(quota.containers);
    MERGE_INT(quota.memory);
    MERGE_INT(quota.nanocpus);
    MERGE_INT(quota.volumes);
    MERGE_PTR(proc);
    c->proc = NULL;  /* each server gets its own process state in post_config */
    return c;
}

static dp_conf_t *conf_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &dockpay_module);
}

static const char *set_str(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    const char *name = cmd->cmd->name;
    const char **field = (const char **)((char *)c + (apr_size_t)cmd->info);

    (void)dc;
    if (*v == '\0') {
        return apr_psprintf(cmd->pool, "%s must not be empty", name);
    }
    if (!strcasecmp(name, "DockpayBasePath")) {
        if (v[0] != '/' || (strlen(v) > 1 && v[strlen(v) - 1] == '/')) {
            return "DockpayBasePath must start with '/' and not end with '/' (e.g. /api/v1)";
        }
    }
    else if (!strcasecmp(name, "DockpayDockerEndpoint")) {
        if (!(!strncmp(v, "unix:///", 8) || !strncmp(v, "unix:/", 6)) || strlen(v) > 107) {
            return "DockpayDockerEndpoint must be unix:///absolute/path/to/docker.sock";
        }
    }
    else if (!strcasecmp(name, "DockpayPortOneURL")) {
        if (strncmp(v, "https://", 8) && strncmp(v, "http://127.", 11) && strncmp(v, "http://localhost", 16)) {
            return "DockpayPortOneURL must be an https:// URL (plain http only to a loopback test server)";
        }
        if (v[strlen(v) - 1] == '/') {
            return "DockpayPortOneURL must not end with '/'";
        }
    }
    else if (!strcasecmp(name, "DockpayPortOneKey") || !strcasecmp(name, "DockpayPortOneSecret")) {
        /* httpd leaves "${VAR}" as it is (with a warning) when VAR is not defined: that is no key */
        if (v[0] == '$' && v[1] == '{' && v[strlen(v) - 1] == '}') {
            *field = NULL;
            return NULL;
        }
    }
    else if (!strcasecmp(name, "DockpayComposeRoot") || !strcasecmp(name, "DockpayOpenAPIFile")
             || !strcasecmp(name, "DockpayPortOneCAFile")) {
        if (v[0] != '/') {
            return apr_psprintf(cmd->pool, "%s needs an absolute path", name);
        }
    }
    *field = v;
    return NULL;
}

static const char *set_int(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    int *field = (int *)((char *)c + (apr_size_t)cmd->info);
    apr_int64_t n;
    apr_int64_t min = 1, max = 86400;

    (void)dc;
    if (!strcasecmp(cmd->cmd->name, "DockpayHealthCache")
        || !strcasecmp(cmd->cmd->name, "DockpayPaymentsCache")) {
        min = 0;
        max = 60;
    }
    if (!strcasecmp(cmd->cmd->name, "DockpayMaxStreams")) max = 10000;
    if (!strcasecmp(cmd->cmd->name, "DockpayVbankDueDays")) max = 365;
    if (dp_parse_int(&n, v, min, max) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s takes a whole number from %" APR_INT64_T_FMT " to %"
                            APR_INT64_T_FMT ", not '%s'", cmd->cmd->name, min, max, v);
    }
    *field = (int)n;
    return NULL;
}

static const char *set_flag(cmd_parms *cmd, void *dc, int on)
{
    dp_conf_t *c = conf_of(cmd->server);
    int *field = (int *)((char *)c + (apr_size_t)cmd->info);

    (void)dc;
    *field = on ? 1 : 0;
    return NULL;
}

/* billing (branch billing): DockpayBillingEnforce off|stop|pause. */
static const char *set_billing_enforce(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);

    (void)dc;
    if (!strcasecmp(v, "off")) {
        c->billing_enforce = DP_BILLING_ENFORCE_OFF;
    }
    else if (!strcasecmp(v, "stop")) {
        c->billing_enforce = DP_BILLING_ENFORCE_STOP;
    }
    else if (!strcasecmp(v, "pause")) {
        c->billing_enforce = DP_BILLING_ENFORCE_PAUSE;
    }
    else {
        return "DockpayBillingEnforce must be off, stop or pause";
    }
    return NULL;
}

/* billing (branch billing): DockpayBillingGrace SECONDS (0 .. one year). */
static const char *set_billing_grace(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    apr_int64_t n;

    (void)dc;
    if (dp_parse_int(&n, v, 0, 366 * 86400) != APR_SUCCESS) {
        return "DockpayBillingGrace must be a number of seconds from 0 to 31622400";
    }
    c->billing_grace = (int)n;
    return NULL;
}

/* DockpayQuota{Containers,Memory,Cpus,Volumes} VALUE: the key-file quota item syntax. */
static const char *set_quota(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    const char *item = apr_pstrcat(cmd->pool, (const char *)cmd->info, "=", v, NULL);

    (void)dc;
    if (dp_quota_parse_item(&c->quota, item) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s takes %s or 0 / 'unlimited', not '%s'", cmd->cmd->name,
                            !strcmp(cmd->info, "memory") ? "a size (512m, 8g)"
                            : !strcmp(cmd->info, "cpus") ? "a CPU count (2, 0.5)" : "a count", v);
    }
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    apr_int64_t n;

    (void)dc;
    if (dp_parse_int(&n, v, 1024, (apr_int64_t)1024 * 1024 * 1024) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "DockpayMaxBody takes a byte count from 1024 to 1073741824, not '%s'", v);
    }
    c->max_body = (apr_off_t)n;
    return NULL;
}

static const char *set_key_file(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    dp_keyring_t *kr;
    const char *err;
    const char *path = ap_server_root_relative(cmd->pool, v);

    (void)dc;
    if (path == NULL || dp_keyring_load(&kr, &err, cmd->pool, path) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "DockpayKeyFile: %s", path ? err : "bad path");
    }
    c->key_file = path;
    return NULL;
}

static const char *set_policy_allow(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    int bit;

    (void)dc;
    if (!strcasecmp(v, "privileged")) bit = DP_ALLOW_PRIVILEGED;
    else if (!strcasecmp(v, "host-namespaces")) bit = DP_ALLOW_HOST_NAMESPACES;
    else if (!strcasecmp(v, "devices")) bit = DP_ALLOW_DEVICES;
    else if (!strcasecmp(v, "security-opt")) bit = DP_ALLOW_SECURITY_OPT;
    else if (!strcasecmp(v, "sysctls")) bit = DP_ALLOW_SYSCTLS;
    else if (!strcasecmp(v, "none")) bit = 0;
    else {
        return apr_psprintf(cmd->pool, "DockpayPolicyAllow: unknown relaxation '%s' (privileged, "
                            "host-namespaces, devices, security-opt, sysctls or none)", v);
    }
    c->policy_allow = (c->policy_allow == DP_UNSET ? 0 : c->policy_allow) | bit;
    return NULL;
}

static const char *add_cap(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    apr_size_t i;

    (void)dc;
    for (i = 0; v[i]; ++i) {
        if (!((v[i] >= 'A' && v[i] <= 'Z') || v[i] == '_')) {
            return apr_psprintf(cmd->pool, "DockpayCapAllow: '%s' is not a capability name (e.g. NET_ADMIN)", v);
        }
    }
    if (c->cap_allow == NULL) c->cap_allow = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(c->cap_allow, const char *) = strncmp(v, "CAP_", 4) ? v : v + 4;
    return NULL;
}

static const char *add_bind(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    apr_size_t n = strlen(v);

    (void)dc;
    if (v[0] != '/' || n < 2 || strstr(v, "/..") || strstr(v, "//")) {
        return apr_psprintf(cmd->pool, "DockpayBindAllow: '%s' must be an absolute, normalised path "
                            "other than /", v);
    }
    if (c->bind_allow == NULL) c->bind_allow = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(c->bind_allow, const char *) = (v[n - 1] == '/') ? apr_pstrndup(cmd->pool, v, n - 1) : v;
    return NULL;
}

/* DockpayMemoryLimit / DockpayCpuLimit / DockpayPidsLimit DEFAULT MAX */
static const char *set_limits(cmd_parms *cmd, void *dc, const char *d, const char *m)
{
    dp_conf_t *c = conf_of(cmd->server);
    const char *name = cmd->cmd->name;
    apr_int64_t v[2];
    const char *in[2];
    int i;

    (void)dc;
    in[0] = d;
    in[1] = m;
    for (i = 0; i < 2; ++i) {
        char *end;
        double x;
        if (!strcmp(name, "DockpayMemoryLimit")) {
            if (dp_dk_parse_memory(&v[i], in[i]) != APR_SUCCESS || v[i] < 6 * 1024 * 1024) {
                return apr_psprintf(cmd->pool, "%s: '%s' is not a memory size of at least 6m (e.g. 512m, 8g)",
                                    name, in[i]);
            }
            continue;
        }
        x = strtod(in[i], &end);
        if (end == in[i] || *end || !(x > 0)
            || (!strcmp(name, "DockpayCpuLimit") ? (x < 0.01 || x > 1024) : (x != (double)(long)x || x > 4194304))) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not %s", name, in[i],
                                !strcmp(name, "DockpayCpuLimit") ? "a CPU count from 0.01 to 1024"
                                                                 : "a whole number from 1 to 4194304");
        }
        v[i] = !strcmp(name, "DockpayCpuLimit") ? (apr_int64_t)(x * 1e9 + 0.5) : (apr_int64_t)x;
    }
    if (v[0] > v[1]) {
        return apr_psprintf(cmd->pool, "%s: the default %s is above the maximum %s", name, d, m);
    }
    if (!strcmp(name, "DockpayMemoryLimit")) {
        c->mem_default = v[0];
        c->mem_max = v[1];
    }
    else if (!strcmp(name, "DockpayCpuLimit")) {
        c->cpu_default = v[0];
        c->cpu_max = v[1];
    }
    else {
        c->pids_default = v[0];
        c->pids_max = v[1];
    }
    return NULL;
}

static const char *add_publish(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    dp_dk_publish_t e;

    (void)dc;
    if (dp_dk_publish_parse(&e, cmd->pool, v) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "DockpayPublishAllow: '%s' is not IP:PORT or IP:LOW-HIGH "
                            "(e.g. 0.0.0.0:1024-65535, [::1]:8080, *:8000-8999)", v);
    }
    if (c->publish_allow == NULL) c->publish_allow = apr_array_make(cmd->pool, 4, sizeof(dp_dk_publish_t));
    APR_ARRAY_PUSH(c->publish_allow, dp_dk_publish_t) = e;
    return NULL;
}

static const char *add_log_driver(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    apr_size_t i;

    (void)dc;
    for (i = 0; v[i]; ++i) {
        if (!(apr_isalnum(v[i]) || v[i] == '-' || v[i] == '_' || v[i] == '.' || v[i] == '/' || v[i] == ':')) {
            return apr_psprintf(cmd->pool, "DockpayLogDriverAllow: '%s' is not a log driver name", v);
        }
    }
    if (i == 0) {
        return "DockpayLogDriverAllow: an empty driver name";
    }
    if (c->log_drivers == NULL) c->log_drivers = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(c->log_drivers, const char *) = v;
    return NULL;
}

static const char *add_registry(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    apr_size_t i;

    (void)dc;
    for (i = 0; v[i]; ++i) {
        if (!(apr_isalnum((unsigned char)v[i]) || v[i] == '.' || v[i] == '-' || v[i] == ':')) {
            break;
        }
    }
    if (i == 0 || v[i] || i > 255 || !apr_isalnum((unsigned char)v[0])) {
        return apr_psprintf(cmd->pool, "DockpayRegistryAllow: '%s' is not a registry host[:port]", v);
    }
    if (c->registry_allow == NULL) c->registry_allow = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(c->registry_allow, const char *) = v;
    return NULL;
}

static const char *add_webhook_allow(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);
    apr_ipsubnet_t *sn;
    char *ip = apr_pstrdup(cmd->pool, v), *mask = strchr(ip, '/');
    apr_status_t rv;

    (void)dc;
    if (mask) {
        *mask++ = '\0';
    }
    if ((rv = apr_ipsubnet_create(&sn, ip, mask, cmd->pool)) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "DockpayWebhookAllow: '%s' is not an IP address or CIDR", v);
    }
    if (c->webhook_allow == NULL) c->webhook_allow = apr_array_make(cmd->pool, 4, sizeof(apr_ipsubnet_t *));
    APR_ARRAY_PUSH(c->webhook_allow, apr_ipsubnet_t *) = sn;
    return NULL;
}

static const char *set_compose_command(cmd_parms *cmd, void *dc, const char *v)
{
    dp_conf_t *c = conf_of(cmd->server);

    (void)dc;
    if (strcmp(v, "docker-compose") && strcmp(v, "docker compose") && v[0] != '/') {
        return "DockpayComposeCommand must be 'docker compose', 'docker-compose' or an absolute path";
    }
    c->compose_command = v;
    return NULL;
}

#define OFF(f) (void *)offsetof(dp_conf_t, f)

static const command_rec dockpay_cmds[] = {
    AP_INIT_TAKE1("DockpayBasePath", set_str, OFF(base_path), RSRC_CONF,
                  "URL path the API is mounted at (default /api/v1)"),
    AP_INIT_TAKE1("DockpayKeyFile", set_key_file, NULL, RSRC_CONF,
                  "file of API keys: NAME sha256:HEX SCOPES per line"),
    AP_INIT_TAKE1("DockpayMaxBody", set_max_body, NULL, RSRC_CONF,
                  "largest JSON request body in bytes (default 1048576)"),
    AP_INIT_TAKE1("DockpayOpenAPIFile", set_str, OFF(openapi_file), RSRC_CONF,
                  "the OpenAPI document served at /openapi.json"),
    AP_INIT_TAKE1("DockpayDockerEndpoint", set_str, OFF(docker_endpoint), RSRC_CONF,
                  "Docker Engine socket (default unix:///var/run/docker.sock)"),
    AP_INIT_TAKE1("DockpayDockerTimeout", set_int, OFF(docker_timeout), RSRC_CONF,
                  "seconds a Docker call may take (default 60)"),
    AP_INIT_TAKE1("DockpayMaxStreams", set_int, OFF(max_streams), RSRC_CONF,
                  "concurrent log/event streams per process (default 32)"),
    AP_INIT_TAKE1("DockpayStreamHeartbeat", set_int, OFF(heartbeat), RSRC_CONF,
                  "seconds between SSE heartbeat comments on idle streams (default 15)"),
    AP_INIT_FLAG("DockpayManagedOnly", set_flag, OFF(managed_only), RSRC_CONF,
                 "restrict container routes to containers created through the API (default Off)"),
    AP_INIT_FLAG("DockpayContainerCache", set_flag, OFF(container_cache), RSRC_CONF,
                 "answer container lists from an event-fed snapshot (default On)"),
    AP_INIT_ITERATE("DockpayPolicyAllow", set_policy_allow, NULL, RSRC_CONF,
                    "create-policy relaxations: privileged host-namespaces devices security-opt sysctls"),
    AP_INIT_ITERATE("DockpayCapAllow", add_cap, NULL, RSRC_CONF,
                    "capabilities cap_add may name (default none)"),
    AP_INIT_ITERATE("DockpayBindAllow", add_bind, NULL, RSRC_CONF,
                    "host path prefixes bind mounts may use (default none)"),
    AP_INIT_TAKE2("DockpayMemoryLimit", set_limits, NULL, RSRC_CONF,
                  "container memory: DEFAULT MAX (default 512m 8g)"),
    AP_INIT_TAKE2("DockpayCpuLimit", set_limits, NULL, RSRC_CONF,
                  "container CPUs: DEFAULT MAX (default 1 4)"),
    AP_INIT_TAKE2("DockpayPidsLimit", set_limits, NULL, RSRC_CONF,
                  "container PIDs: DEFAULT MAX (default 1024 4096)"),
    AP_INIT_ITERATE("DockpayPublishAllow", add_publish, NULL, RSRC_CONF,
                    "host IP:LOW-HIGH containers may publish (default 1024-65535 on 0.0.0.0 127.0.0.1 :: ::1)"),
    AP_INIT_ITERATE("DockpayLogDriverAllow", add_log_driver, NULL, RSRC_CONF,
                    "log drivers allowed beyond json-file, local and none (default none)"),
    AP_INIT_ITERATE("DockpayRegistryAllow", add_registry, NULL, RSRC_CONF,
                    "registries (host[:port]) pulls and builds may reach (default docker.io)"),
    AP_INIT_TAKE1("DockpayComposeCommand", set_compose_command, NULL, RSRC_CONF,
                  "'docker compose' or 'docker-compose' (default docker-compose)"),
    AP_INIT_TAKE1("DockpayComposeRoot", set_str, OFF(compose_root), RSRC_CONF,
                  "folder for per-project compose files (default /var/lib/dockpay/compose)"),
    AP_INIT_TAKE1("DockpayComposeTimeout", set_int, OFF(compose_timeout), RSRC_CONF,
                  "seconds compose up may take (default 300)"),
    AP_INIT_TAKE1("DockpayQuotaContainers", set_quota, "containers", RSRC_CONF,
                  "containers (running or not) a non-admin key may own (default 32; 0: unlimited)"),
    AP_INIT_TAKE1("DockpayQuotaMemory", set_quota, "memory", RSRC_CONF,
                  "memory limit sum over a non-admin key's containers (default unlimited)"),
    AP_INIT_TAKE1("DockpayQuotaCpus", set_quota, "cpus", RSRC_CONF,
                  "CPU limit sum over a non-admin key's containers (default unlimited)"),
    AP_INIT_TAKE1("DockpayQuotaVolumes", set_quota, "volumes", RSRC_CONF,
                  "volumes a non-admin key may own (default 32; 0: unlimited)"),
    AP_INIT_TAKE1("DockpayPortOneURL", set_str, OFF(portone_url), RSRC_CONF,
                  "PortOne V1 base URL (default https://api.iamport.kr)"),
    AP_INIT_TAKE1("DockpayPortOneKey", set_str, OFF(portone_key), RSRC_CONF,
                  "PortOne REST API key (use ${ENV})"),
    AP_INIT_TAKE1("DockpayPortOneSecret", set_str, OFF(portone_secret), RSRC_CONF,
                  "PortOne REST API secret (use ${ENV})"),
    AP_INIT_TAKE1("DockpayPortOneCAFile", set_str, OFF(portone_ca_file), RSRC_CONF,
                  "CA bundle to verify PortOne's certificate (default: the system's)"),
    AP_INIT_TAKE1("DockpayPortOneChannelKey", set_str, OFF(portone_channel), RSRC_CONF,
                  "PortOne channel_key for virtual accounts and billing keys"),
    AP_INIT_TAKE1("DockpayPortOnePG", set_str, OFF(portone_pg), RSRC_CONF,
                  "PortOne pg value ({pg} or {pg}.{MID}) when no channel key is used"),
    AP_INIT_TAKE1("DockpayPortOneTimeout", set_int, OFF(portone_timeout), RSRC_CONF,
                  "seconds a PortOne call may take (default 10)"),
    AP_INIT_TAKE1("DockpayPortOneConnectTimeout", set_int, OFF(portone_connect_timeout), RSRC_CONF,
                  "seconds to connect to PortOne (default 5)"),
    AP_INIT_ITERATE("DockpayWebhookAllow", add_webhook_allow, NULL, RSRC_CONF,
                    "addresses/CIDRs the webhook accepts (default PortOne's three)"),
    AP_INIT_TAKE1("DockpayVbankDueDays", set_int, OFF(vbank_due_days), RSRC_CONF,
                  "days until a virtual account expires when no vbank_due is given (default 3)"),
    AP_INIT_FLAG("DockpayAutoCancelMismatch", set_flag, OFF(auto_cancel), RSRC_CONF,
                 "cancel a paid payment whose amount does not match (default On)"),
    AP_INIT_TAKE1("DockpayHealthCache", set_int, OFF(health_cache), RSRC_CONF,
                  "seconds /health reuses its last dependency check (default 1; 0: every call)"),
    AP_INIT_TAKE1("DockpayPaymentsCache", set_int, OFF(payments_cache), RSRC_CONF,
                  "seconds a GET /payments page is reused unless payments changed (default 1; 0: off)"),
    /* billing (branch billing) */
    AP_INIT_TAKE1("DockpayBillingEnforce", set_billing_enforce, NULL, RSRC_CONF,
                  "stop or pause a past_due customer's bound containers after the grace (default off)"),
    AP_INIT_TAKE1("DockpayBillingGrace", set_billing_grace, NULL, RSRC_CONF,
                  "seconds a past_due customer keeps its containers running (default 259200)"),
    { NULL }
};

/* ------------------------------------------------------------------------------------------ */
/* hooks */

static void log_bridge(void *baton, int level, apr_status_t rv, const char *msg)
{
    (void)baton;
    ap_log_error(APLOG_MARK, level, rv, main_server, "dockpay: %s", msg);
}

static int pre_dbd_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    server_rec *sv;

    (void)pconf; (void)plog; (void)ptemp;
    if (prepare == NULL) {
        return OK;  /* no mod_dbd: database routes answer 503 */
    }
    for (sv = s; sv; sv = sv->next) {
        const dp_stmt_def_t *const *t;
        for (t = dp_store_tables; *t; ++t) {
            const dp_stmt_def_t *d;
            for (d = *t; d->label; ++d) {
                prepare(sv, d->sql, d->label);
            }
        }
    }
    return OK;
}

static void add_handlers(apr_pool_t *p, const dp_handler_entry_t *t)
{
    for (; t->id; ++t) {
        apr_hash_set(handler_map, t->id, APR_HASH_KEY_STRING, (void *)t->fn);
    }
    (void)p;
}

/* The payments-table change count shared by every child (anonymous shared memory made before
 * the children fork); see dp_db_t.pay_changes. NULL, logged, when it cannot be made. */
static volatile apr_uint32_t *shared_counter(server_rec *s, apr_pool_t *pconf)
{
    apr_shm_t *shm = NULL;
    apr_status_t rv = apr_shm_create(&shm, sizeof(apr_uint32_t), NULL, pconf);
    volatile apr_uint32_t *n;

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "dockpay: cannot create anonymous shared memory "
                     "for the payments change count");
        return NULL;
    }
    n = apr_shm_baseaddr_get(shm);
    *n = 0;
    return n;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sv;
    volatile apr_uint32_t *pay_changes;

    (void)plog; (void)ptemp;
    main_server = s;
    dp_log_set(log_bridge, NULL);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;  /* the dry run: nothing to set up yet */
    }
    if (dp_http_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "dockpay: libcurl failed to initialise");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    handler_map = apr_hash_make(pconf);
    add_handlers(pconf, dp_system_handlers);
    add_handlers(pconf, dp_containers_handlers);
    add_handlers(pconf, dp_engine_handlers);
    add_handlers(pconf, dp_payment_handlers);
    add_handlers(pconf, dp_subscription_handlers);
    add_handlers(pconf, dp_billing_handlers);   /* billing (branch billing) */
    if ((pay_changes = shared_counter(s, pconf)) == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    for (sv = s; sv; sv = sv->next) {
        dp_conf_t *c = conf_of(sv);
        dp_proc_t *proc = apr_pcalloc(pconf, sizeof(*proc));
        const char *err;
        apr_status_t rv;

        if (c->key_file && (rv = dp_keyring_load(&proc->keys, &err, pconf, c->key_file)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, sv, "dockpay: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = dp_docker_create(&proc->docker, &err, pconf,
                              c->docker_endpoint ? c->docker_endpoint : "unix:///var/run/docker.sock",
                              3000, (long)dp_conf_int(c->docker_timeout, 60) * 1000);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, sv, "dockpay: DockpayDockerEndpoint: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        proc->pay_changes = pay_changes;
        c->proc = proc;
        if (dp_payments_post_config(sv, c, pconf) != OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (dp_billing_post_config(sv, c, pconf) != OK) {   /* billing (branch billing) */
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    server_rec *sv;

    for (sv = s; sv; sv = sv->next) {
        dp_conf_t *c = conf_of(sv);
        if (c->proc) {
            /* one health state; pages: 256 of at most 256 KiB (a page of 100 is ~60 KiB) */
            if (dp_memo_create(&c->proc->health, p, 1, 256,
                               apr_time_from_sec(dp_conf_int(c->health_cache, 1))) != APR_SUCCESS
                || dp_memo_create(&c->proc->pages, p, 256, 256 * 1024,
                                  apr_time_from_sec(dp_conf_int(c->payments_cache, 1))) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv, "dockpay: no memo for /health and "
                             "payment pages in this process; every call asks the database");
                c->proc->health = c->proc->pages = NULL;
            }
            dp_docker_child_init(c->proc->docker);
            dp_payments_child_init(sv, c, p);
            dp_watch_child_init(sv, c, p);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* dispatch */

static const char *request_id(request_rec *r)
{
    const char *in = apr_table_get(r->headers_in, "X-Request-Id");
    char *hex;

    if (in && dp_is_safe_token(in, 64)) {
        return in;
    }
    hex = apr_palloc(r->pool, 33);
    if (dp_random_hex(hex, 16) != APR_SUCCESS) {
        return apr_psprintf(r->pool, "%" APR_TIME_T_FMT "-%lx", r->request_time, (unsigned long)r->connection->id);
    }
    return hex;
}

static const dp_key_t *authenticate(dp_req_t *q, int *pstatus)
{
    const char *h = apr_table_get(q->r->headers_in, "Authorization");
    const dp_key_t *k;

    *pstatus = 401;
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        return NULL;
    }
    h += 7;
    while (*h == ' ') ++h;
    if (*h == '\0' || strlen(h) > 256) {
        return NULL;
    }
    k = dp_keyring_lookup(q->proc->keys, h, strlen(h));
    if (k == NULL) {
        return NULL;
    }
    *pstatus = dp_scopes_allow(k->scopes, q->route->scope) ? 200 : 403;
    return k;
}

static void audit(dp_req_t *q, const char *path)
{
    dp_problem_t *prob = NULL;
    dp_db_t *db;

    if (q->audit_done) {
        return;
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL
        || dp_store_audit(&prob, db, q->key ? q->key->name : NULL, q->r->method, path, q->target,
                          q->r->status, q->rid) != APR_SUCCESS) {
        DP_LOG(q, APLOG_WARNING, 0, "audit row not written (%s): key=%s %s %s -> %d",
               prob && prob->detail ? prob->detail : "no database", q->key ? q->key->name : "-",
               q->r->method, path, q->r->status);
    }
}

static int dockpay_handler(request_rec *r)
{
    dp_conf_t *c;
    dp_req_t *q;
    const char *base, *path, *allow = NULL;
    apr_status_t rv;
    dp_handler_fn *fn;
    int ret, st;

    if (r->handler == NULL || strcmp(r->handler, DP_HANDLER) != 0) {
        return DECLINED;
    }
    c = conf_of(r->server);
    q = apr_pcalloc(r->pool, sizeof(*q));
    q->r = r;
    q->pool = r->pool;
    q->conf = c;
    q->proc = c->proc;
    q->rid = request_id(r);
    apr_table_setn(r->err_headers_out, "X-Request-Id", q->rid);  /* sent with every status */
    apr_table_setn(r->subprocess_env, "DOCKPAY_REQUEST_ID", q->rid);
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    if (q->proc == NULL) {
        return dp_fail(q, 503, "not_ready", "the module is not initialised");
    }

    base = dp_conf_base_path(c);
    path = r->uri;
    if (strncmp(path, base, strlen(base)) != 0 || (path[strlen(base)] != '/' && path[strlen(base)] != '\0')) {
        return dp_fail(q, 404, "not_found", "no such route");
    }
    path += strlen(base);
    if (*path == '\0') {
        path = "/";
    }
    rv = dp_router_match(&q->route, &q->params, &allow, dp_routes, dp_routes_count, r->pool,
                         r->method, path);
    if (rv == DP_EMETHOD) {
        apr_table_setn(r->headers_out, "Allow", allow);
        return dp_fail(q, 405, "method_not_allowed", "%s is not allowed here; use %s", r->method, allow);
    }
    if (rv != APR_SUCCESS) {
        return dp_fail(q, 404, "not_found", "no such route: %s", path);
    }
    q->query = dp_parse_query(r->pool, r->args);
    if (apr_table_get(q->query, "\001malformed")) {
        return dp_fail(q, 400, "bad_query", "the query string is not correctly %%-encoded");
    }
    if (q->route->scope != DP_SCOPE_NONE) {
        q->key = authenticate(q, &st);
        if (st == 401) {
            return dp_fail(q, 401, "unauthorized", "send a valid API key as 'Authorization: Bearer <key>'");
        }
        if (st == 403) {
            return dp_fail(q, 403, "insufficient_scope", "the key '%s' lacks the scope this route needs (%s)",
                           q->key->name, dp_scopes_str(r->pool, q->route->scope));
        }
    }
    fn = handler_map ? apr_hash_get(handler_map, q->route->id, APR_HASH_KEY_STRING) : NULL;
    if (fn == NULL) {
        return dp_fail(q, 501, "not_implemented", "the route %s %s is not implemented yet",
                       q->route->method, q->route->pattern);
    }
    if (q->route->scope & DP_SCOPE_DOCKER_WRITE) {
        dp_watch_mutation_begin(q);   /* container lists ask Docker until a reload after it */
        ret = fn(q);
        dp_watch_mutation_end(q);
    }
    else {
        ret = fn(q);
    }
    if (r->method_number != M_GET) {
        audit(q, path);
    }
    return ret;
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const succ_dbd[] = { "mod_dbd.c", NULL };

    (void)p;
    ap_hook_post_config(pre_dbd_post_config, NULL, succ_dbd, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(dockpay_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(dockpay) = {
    STANDARD20_MODULE_STUFF,
    NULL,               /* per-directory config */
    NULL,
    create_srv_conf,
    merge_srv_conf,
    dockpay_cmds,
    register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    , AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
