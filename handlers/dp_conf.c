/* dp_conf: create, merge, parse, the directive table and the defaults, all generated from
 * handlers/dp_conf.def; the custom parsers of directives with their own syntax live here. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_network_io.h>

#include "dp_glue.h"
#include "dp_conf.h"
#include "dp_outbox.h"
#include "dp_billing.h"
#include "dp_dk_policy.h"

extern module AP_MODULE_DECLARE_DATA dockpay_module;

/* ------------------------------------------------------------------------------------------ */
/* generic parsers */

#define FIELD(c, row, type) ((type *)(void *)((char *)(c) + (row)->offset))

/* On or Off (httpd checks the word for a directive; a default passes it as text). */
const char *dp_conf_parse_flag(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *a1,
                               const char *a2)
{
    (void)a2;
    if (strcasecmp(a1, "On") && strcasecmp(a1, "Off")) {
        return apr_psprintf(p, "%s must be On or Off", row->name);
    }
    *FIELD(c, row, int) = strcasecmp(a1, "On") == 0;
    return NULL;
}

/* A whole number in [row->min, row->max]. */
const char *dp_conf_parse_int(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *a1,
                              const char *a2)
{
    apr_int64_t n;

    (void)a2;
    if (dp_parse_int(&n, a1, row->min, row->max) != APR_SUCCESS) {
        return apr_psprintf(p, "%s takes a whole number from %" APR_INT64_T_FMT " to %" APR_INT64_T_FMT
                            ", not '%s'", row->name, row->min, row->max, a1);
    }
    *FIELD(c, row, int) = (int)n;
    return NULL;
}

/* Reads a duration "N", "Ns", "Nm", "Nh" or "Nd" into *psecs; APR_EINVAL when it is not one or
 * is outside [min, max] seconds. */
static apr_status_t parse_duration(apr_int64_t *psecs, apr_pool_t *p, const char *v, apr_int64_t min,
                                   apr_int64_t max)
{
    char *val = apr_pstrdup(p, v);
    apr_size_t n = strlen(val);
    apr_int64_t secs, mult = 1;

    if (n > 1 && strchr("smhd", val[n - 1])) {
        mult = val[n - 1] == 's' ? 1 : val[n - 1] == 'm' ? 60 : val[n - 1] == 'h' ? 3600 : 86400;
        val[n - 1] = '\0';
    }
    if (dp_parse_int(&secs, val, 0, max) != APR_SUCCESS || secs * mult < min || secs * mult > max) {
        return APR_EINVAL;
    }
    *psecs = secs * mult;
    return APR_SUCCESS;
}

/* A duration in seconds (N, Ns, Nm, Nh, Nd) in [row->min, row->max] into an int field. */
const char *dp_conf_parse_secs(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *a1,
                               const char *a2)
{
    apr_int64_t n;

    (void)a2;
    if (parse_duration(&n, p, a1, row->min, row->max) != APR_SUCCESS) {
        return apr_psprintf(p, "%s takes a duration from %" APR_INT64_T_FMT "s to %" APR_INT64_T_FMT
                            "s (N, Ns, Nm, Nh or Nd), not '%s'", row->name, row->min, row->max, a1);
    }
    *FIELD(c, row, int) = (int)n;
    return NULL;
}

/* A byte count in [row->min, row->max] (no unit suffix). */
const char *dp_conf_parse_size(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *a1,
                               const char *a2)
{
    apr_int64_t n;

    (void)a2;
    if (dp_parse_int(&n, a1, row->min, row->max) != APR_SUCCESS) {
        return apr_psprintf(p, "%s takes a byte count from %" APR_INT64_T_FMT " to %" APR_INT64_T_FMT
                            ", not '%s'", row->name, row->min, row->max, a1);
    }
    *FIELD(c, row, apr_off_t) = (apr_off_t)n;
    return NULL;
}

/* A non-empty string. */
const char *dp_conf_parse_str(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *a1,
                              const char *a2)
{
    (void)a2;
    if (*a1 == '\0') {
        return apr_psprintf(p, "%s must not be empty", row->name);
    }
    *FIELD(c, row, const char *) = a1;
    return NULL;
}

/* An absolute path. */
const char *dp_conf_parse_path(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *a1,
                               const char *a2)
{
    if (*a1 != '\0' && a1[0] != '/') {
        return apr_psprintf(p, "%s needs an absolute path", row->name);
    }
    return dp_conf_parse_str(c, p, row, a1, a2);
}

/* Appends an element of elt_size to the row's list; returns the new element. */
static void *list_push(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, int elt_size)
{
    apr_array_header_t **list = FIELD(c, row, apr_array_header_t *);

    if (*list == NULL) {
        *list = apr_array_make(p, 4, elt_size);
    }
    return apr_array_push(*list);
}

/* ------------------------------------------------------------------------------------------ */
/* custom parsers (named in dp_conf.def) */

static const char *parse_base_path(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                   const char *a2)
{
    if (*v && (v[0] != '/' || (strlen(v) > 1 && v[strlen(v) - 1] == '/'))) {
        return "DockpayBasePath must start with '/' and not end with '/' (e.g. /api/v1)";
    }
    return dp_conf_parse_str(c, p, row, v, a2);
}

static const char *parse_docker_endpoint(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row,
                                         const char *v, const char *a2)
{
    if (*v && (!(!strncmp(v, "unix:///", 8) || !strncmp(v, "unix:/", 6)) || strlen(v) > 107)) {
        return "DockpayDockerEndpoint must be unix:///absolute/path/to/docker.sock";
    }
    return dp_conf_parse_str(c, p, row, v, a2);
}

static const char *parse_portone_url(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                     const char *a2)
{
    if (*v) {
        if (strncmp(v, "https://", 8) && strncmp(v, "http://127.", 11) && strncmp(v, "http://localhost", 16)) {
            return "DockpayPortOneURL must be an https:// URL (plain http only to a loopback test server)";
        }
        if (v[strlen(v) - 1] == '/') {
            return "DockpayPortOneURL must not end with '/'";
        }
    }
    return dp_conf_parse_str(c, p, row, v, a2);
}

/* DockpayPortOneKey/Secret: httpd leaves "${VAR}" as it is (with a warning) when VAR is not
 * defined: that is no key. */
static const char *parse_secret(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                const char *a2)
{
    if (v[0] == '$' && v[1] == '{' && v[strlen(v) - 1] == '}') {
        *FIELD(c, row, const char *) = NULL;
        return NULL;
    }
    return dp_conf_parse_str(c, p, row, v, a2);
}

/* DockpayKeyFile: loaded once here so that apachectl -t checks it (again in post_config). */
static const char *parse_key_file(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                  const char *a2)
{
    dp_keyring_t *kr;
    const char *err;
    const char *path = ap_server_root_relative(p, v);

    (void)a2;
    if (path == NULL || dp_keyring_load(&kr, &err, p, path) != APR_SUCCESS) {
        return apr_psprintf(p, "DockpayKeyFile: %s", path ? err : "bad path");
    }
    *FIELD(c, row, const char *) = path;
    return NULL;
}

static const char *parse_compose_command(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row,
                                         const char *v, const char *a2)
{
    if (strcmp(v, "docker-compose") && strcmp(v, "docker compose") && v[0] != '/') {
        return "DockpayComposeCommand must be 'docker compose', 'docker-compose' or an absolute path";
    }
    return dp_conf_parse_str(c, p, row, v, a2);
}

/* DockpayPolicyAllow: relaxation words add up; "none" adds nothing but sets the field. */
static const char *parse_policy_allow(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                      const char *a2)
{
    int *bits = FIELD(c, row, int);
    int bit;

    (void)a2;
    if (!strcasecmp(v, "privileged")) bit = DP_DK_ALLOW_PRIVILEGED;
    else if (!strcasecmp(v, "host-namespaces")) bit = DP_DK_ALLOW_HOST_NAMESPACES;
    else if (!strcasecmp(v, "devices")) bit = DP_DK_ALLOW_DEVICES;
    else if (!strcasecmp(v, "security-opt")) bit = DP_DK_ALLOW_SECURITY_OPT;
    else if (!strcasecmp(v, "sysctls")) bit = DP_DK_ALLOW_SYSCTLS;
    else if (!strcasecmp(v, "none")) bit = 0;
    else {
        return apr_psprintf(p, "DockpayPolicyAllow: unknown relaxation '%s' (privileged, "
                            "host-namespaces, devices, security-opt, sysctls or none)", v);
    }
    *bits = (*bits == DP_UNSET ? 0 : *bits) | bit;
    return NULL;
}

static const char *parse_cap(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                             const char *a2)
{
    apr_size_t i;

    (void)a2;
    for (i = 0; v[i]; ++i) {
        if (!((v[i] >= 'A' && v[i] <= 'Z') || v[i] == '_')) {
            return apr_psprintf(p, "DockpayCapAllow: '%s' is not a capability name (e.g. NET_ADMIN)", v);
        }
    }
    *(const char **)list_push(c, p, row, sizeof(const char *)) = strncmp(v, "CAP_", 4) ? v : v + 4;
    return NULL;
}

static const char *parse_bind(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                              const char *a2)
{
    apr_size_t n = strlen(v);

    (void)a2;
    if (v[0] != '/' || n < 2 || strstr(v, "/..") || strstr(v, "//")) {
        return apr_psprintf(p, "DockpayBindAllow: '%s' must be an absolute, normalised path other than /", v);
    }
    *(const char **)list_push(c, p, row, sizeof(const char *)) = (v[n - 1] == '/') ? apr_pstrndup(p, v, n - 1) : v;
    return NULL;
}

/* Stores a DEFAULT MAX pair after checking that the default is not above the maximum. */
static const char *store_limit(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const apr_int64_t v[2],
                               const char *d, const char *m)
{
    dp_conf_limit_t *l = FIELD(c, row, dp_conf_limit_t);

    if (v[0] > v[1]) {
        return apr_psprintf(p, "%s: the default %s is above the maximum %s", row->name, d, m);
    }
    l->dflt = v[0];
    l->max = v[1];
    return NULL;
}

static const char *parse_memory_limit(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *d,
                                      const char *m)
{
    const char *in[2] = { d, m };
    apr_int64_t v[2];
    int i;

    for (i = 0; i < 2; ++i) {
        if (dp_parse_size(&v[i], in[i]) != APR_SUCCESS || v[i] < 6 * 1024 * 1024) {
            return apr_psprintf(p, "%s: '%s' is not a memory size of at least 6m (e.g. 512m, 8g)", row->name,
                                in[i]);
        }
    }
    return store_limit(c, p, row, v, d, m);
}

static const char *parse_cpu_limit(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *d,
                                   const char *m)
{
    const char *in[2] = { d, m };
    apr_int64_t v[2];
    int i;

    for (i = 0; i < 2; ++i) {
        char *end;
        double x = strtod(in[i], &end);
        if (end == in[i] || *end || !(x > 0) || x < 0.01 || x > 1024) {
            return apr_psprintf(p, "%s: '%s' is not a CPU count from 0.01 to 1024", row->name, in[i]);
        }
        v[i] = (apr_int64_t)(x * 1e9 + 0.5);
    }
    return store_limit(c, p, row, v, d, m);
}

static const char *parse_pids_limit(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *d,
                                    const char *m)
{
    const char *in[2] = { d, m };
    apr_int64_t v[2];
    int i;

    for (i = 0; i < 2; ++i) {
        char *end;
        double x = strtod(in[i], &end);
        if (end == in[i] || *end || !(x > 0) || x != (double)(long)x || x > 4194304) {
            return apr_psprintf(p, "%s: '%s' is not a whole number from 1 to 4194304", row->name, in[i]);
        }
        v[i] = (apr_int64_t)x;
    }
    return store_limit(c, p, row, v, d, m);
}

static const char *parse_publish(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                 const char *a2)
{
    dp_dk_publish_t e;

    (void)a2;
    if (dp_dk_publish_parse(&e, p, v) != APR_SUCCESS) {
        return apr_psprintf(p, "DockpayPublishAllow: '%s' is not IP:PORT or IP:LOW-HIGH "
                            "(e.g. 0.0.0.0:1024-65535, [::1]:8080, *:8000-8999)", v);
    }
    *(dp_dk_publish_t *)list_push(c, p, row, sizeof(dp_dk_publish_t)) = e;
    return NULL;
}

static const char *parse_log_driver(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                    const char *a2)
{
    apr_size_t i;

    (void)a2;
    for (i = 0; v[i]; ++i) {
        if (!(apr_isalnum(v[i]) || v[i] == '-' || v[i] == '_' || v[i] == '.' || v[i] == '/' || v[i] == ':')) {
            return apr_psprintf(p, "DockpayLogDriverAllow: '%s' is not a log driver name", v);
        }
    }
    if (i == 0) {
        return "DockpayLogDriverAllow: an empty driver name";
    }
    *(const char **)list_push(c, p, row, sizeof(const char *)) = v;
    return NULL;
}

static const char *parse_registry(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                  const char *a2)
{
    apr_size_t i;

    (void)a2;
    for (i = 0; v[i]; ++i) {
        if (!(apr_isalnum((unsigned char)v[i]) || v[i] == '.' || v[i] == '-' || v[i] == ':')) {
            break;
        }
    }
    if (i == 0 || v[i] || i > 255 || !apr_isalnum((unsigned char)v[0])) {
        return apr_psprintf(p, "DockpayRegistryAllow: '%s' is not a registry host[:port]", v);
    }
    *(const char **)list_push(c, p, row, sizeof(const char *)) = v;
    return NULL;
}

static const char *parse_webhook_allow(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                       const char *a2)
{
    apr_ipsubnet_t *sn;
    char *ip = apr_pstrdup(p, v), *mask = strchr(ip, '/');

    (void)a2;
    if (mask) {
        *mask++ = '\0';
    }
    if (apr_ipsubnet_create(&sn, ip, mask, p) != APR_SUCCESS) {
        return apr_psprintf(p, "DockpayWebhookAllow: '%s' is not an IP address or CIDR", v);
    }
    *(apr_ipsubnet_t **)list_push(c, p, row, sizeof(apr_ipsubnet_t *)) = sn;
    return NULL;
}

/* DockpayQuota{Containers,Memory,Cpus,Volumes} VALUE: the key-file quota item syntax
 * (the item is the directive name after "DockpayQuota", in lower case). */
static const char *parse_quota(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                               const char *a2)
{
    char *item = apr_pstrcat(p, row->name + strlen("DockpayQuota"), "=", v, NULL);
    dp_quota_t q;
    char *s;

    (void)a2;
    for (s = item; *s != '='; ++s) {
        *s = (char)apr_tolower(*s);
    }
    dp_quota_unset(&q);
    if (dp_quota_parse_item(&q, item) != APR_SUCCESS) {
        return apr_psprintf(p, "%s takes %s or 0 / 'unlimited', not '%s'", row->name,
                            !strncmp(item, "memory=", 7) ? "a size (512m, 8g)"
                            : !strncmp(item, "cpus=", 5) ? "a CPU count (2, 0.5)" : "a count", v);
    }
    *FIELD(c, row, apr_int64_t) = q.containers != DP_QUOTA_UNSET ? q.containers
                                  : q.memory != DP_QUOTA_UNSET ? q.memory
                                  : q.nanocpus != DP_QUOTA_UNSET ? q.nanocpus : q.volumes;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* the generated parts */

/* Row indexes. */
enum {
#define DP_CONF(name, field, type, parser, dflt, min, max, ctx, help, doc) DP_CONF_IDX_##field,
#include "dp_conf.def"
#undef DP_CONF
    DP_CONF_IDX_END
};

/* ---- the outbox: DockpayNotify* ---- */

/* DockpayNotifyURL: an http(s) URL without whitespace. */
static const char *parse_notify_url(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row,
                                    const char *v, const char *a2)
{
    apr_size_t i;

    (void)p;
    (void)a2;
    if (strncmp(v, "https://", 8) && strncmp(v, "http://", 7)) {
        return "DockpayNotifyURL must be an http:// or https:// URL";
    }
    for (i = 0; v[i]; ++i) {
        if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f) {
            return "DockpayNotifyURL must not hold spaces or control characters";
        }
    }
    *FIELD(c, row, const char *) = v;
    return NULL;
}

/* DockpayNotifySecret whsec_<base64>: checked here, never echoed. */
static const char *parse_notify_secret(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row,
                                       const char *v, const char *a2)
{
    unsigned char *key;
    apr_size_t len;

    (void)a2;
    if (v[0] == '$' && v[1] == '{' && v[strlen(v) - 1] == '}') {
        *FIELD(c, row, const char *) = NULL;   /* an undefined ${VAR}: no secret */
        return NULL;
    }
    if (dp_outbox_secret(&key, &len, p, v) != APR_SUCCESS) {
        return "DockpayNotifySecret must be whsec_ followed by the base64 of a 16..64 byte key "
               "(the value is not shown)";
    }
    *FIELD(c, row, const char *) = v;
    return NULL;
}

/* DockpayNotifyBackoff DURATION...: one wait (int seconds) per call, 1s to 1d. */
static const char *parse_backoff(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row, const char *v,
                                 const char *a2)
{
    apr_int64_t secs;

    (void)a2;
    if (parse_duration(&secs, p, v, 1, 86400) != APR_SUCCESS) {
        return apr_psprintf(p, "%s takes durations from 1s to 1d, not '%s'", row->name, v);
    }
    *(int *)list_push(c, p, row, sizeof(int)) = (int)secs;
    return NULL;
}

/* ---- billing-aware containers ---- */

/* DockpayBillingEnforce off|stop|pause. */
static const char *parse_billing_enforce(dp_conf_t *c, apr_pool_t *p, const dp_conf_row_t *row,
                                         const char *v, const char *a2)
{
    int *field = FIELD(c, row, int);

    (void)p;
    (void)a2;
    if (!strcasecmp(v, "off")) {
        *field = DP_BILLING_ENFORCE_OFF;
    }
    else if (!strcasecmp(v, "stop")) {
        *field = DP_BILLING_ENFORCE_STOP;
    }
    else if (!strcasecmp(v, "pause")) {
        *field = DP_BILLING_ENFORCE_PAUSE;
    }
    else {
        return "DockpayBillingEnforce must be off, stop or pause";
    }
    return NULL;
}

const dp_conf_row_t dp_conf_rows[] = {
#define DP_CONF(name, field, type, parser, dflt, min, max, ctx, help, doc) \
    { #name, offsetof(dp_conf_t, field), DP_CONF_T_##type, parser, dflt, min, max },
#include "dp_conf.def"
#undef DP_CONF
    { NULL, 0, 0, NULL, NULL, 0, 0 }
};

static dp_conf_t *conf_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &dockpay_module);
}

/* httpd's entry points: each passes the row (cmd->info) to its parser. */
static const char *cmd_take1(cmd_parms *cmd, void *dc, const char *v)
{
    const dp_conf_row_t *row = cmd->info;

    (void)dc;
    return row->parse(conf_of(cmd->server), cmd->pool, row, v, NULL);
}

static const char *cmd_take2(cmd_parms *cmd, void *dc, const char *a, const char *b)
{
    const dp_conf_row_t *row = cmd->info;

    (void)dc;
    return row->parse(conf_of(cmd->server), cmd->pool, row, a, b);
}

static const char *cmd_flag(cmd_parms *cmd, void *dc, int on)
{
    const dp_conf_row_t *row = cmd->info;

    (void)dc;
    return row->parse(conf_of(cmd->server), cmd->pool, row, on ? "On" : "Off", NULL);
}

/* How httpd passes the arguments of each TYPE. */
#define DP_CONF_CMD_FLAG(n, r, x, h)  AP_INIT_FLAG(n, cmd_flag, r, x, h)
#define DP_CONF_CMD_INT(n, r, x, h)   AP_INIT_TAKE1(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_SECS(n, r, x, h)  AP_INIT_TAKE1(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_ENUM(n, r, x, h)  AP_INIT_TAKE1(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_SIZE(n, r, x, h)  AP_INIT_TAKE1(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_STR(n, r, x, h)   AP_INIT_TAKE1(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_PATH(n, r, x, h)  AP_INIT_TAKE1(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_QUOTA(n, r, x, h) AP_INIT_TAKE1(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_LIST(n, r, x, h)  AP_INIT_ITERATE(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_BITS(n, r, x, h)  AP_INIT_ITERATE(n, cmd_take1, r, x, h)
#define DP_CONF_CMD_LIMIT(n, r, x, h) AP_INIT_TAKE2(n, cmd_take2, r, x, h)

const command_rec dp_conf_cmds[] = {
#define DP_CONF(name, field, type, parser, dflt, min, max, ctx, help, doc) \
    DP_CONF_CMD_##type(#name, (void *)&dp_conf_rows[DP_CONF_IDX_##field], ctx, help),
#include "dp_conf.def"
#undef DP_CONF
    { NULL }
};

/* Unset markers and "is it set" per TYPE (pointers start NULL from apr_pcalloc). */
#define DP_CONF_UNSET_FLAG(f)  (f) = DP_UNSET
#define DP_CONF_UNSET_INT(f)   (f) = DP_UNSET
#define DP_CONF_UNSET_SECS(f)  (f) = DP_UNSET
#define DP_CONF_UNSET_ENUM(f)  (f) = DP_UNSET
#define DP_CONF_UNSET_SIZE(f)  (f) = DP_UNSET
#define DP_CONF_UNSET_STR(f)   (f) = NULL
#define DP_CONF_UNSET_PATH(f)  (f) = NULL
#define DP_CONF_UNSET_LIST(f)  (f) = NULL
#define DP_CONF_UNSET_BITS(f)  (f) = DP_UNSET
#define DP_CONF_UNSET_LIMIT(f) (f).dflt = (f).max = DP_UNSET
#define DP_CONF_UNSET_QUOTA(f) (f) = DP_UNSET
#define DP_CONF_ISSET_FLAG(f)  ((f) != DP_UNSET)
#define DP_CONF_ISSET_INT(f)   ((f) != DP_UNSET)
#define DP_CONF_ISSET_SECS(f)  ((f) != DP_UNSET)
#define DP_CONF_ISSET_ENUM(f)  ((f) != DP_UNSET)
#define DP_CONF_ISSET_SIZE(f)  ((f) != DP_UNSET)
#define DP_CONF_ISSET_STR(f)   ((f) != NULL)
#define DP_CONF_ISSET_PATH(f)  ((f) != NULL)
#define DP_CONF_ISSET_LIST(f)  ((f) != NULL)
#define DP_CONF_ISSET_BITS(f)  ((f) != DP_UNSET)
#define DP_CONF_ISSET_LIMIT(f) ((f).max != DP_UNSET)
#define DP_CONF_ISSET_QUOTA(f) ((f) != DP_UNSET)

void *dp_conf_create(apr_pool_t *p, server_rec *s)
{
    dp_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
#define DP_CONF(name, field, type, parser, dflt, min, max, ctx, help, doc) DP_CONF_UNSET_##type(c->field);
#include "dp_conf.def"
#undef DP_CONF
    return c;
}

void *dp_conf_merge(apr_pool_t *p, void *basev, void *addv)
{
    const dp_conf_t *base = basev, *add = addv;
    dp_conf_t *c = apr_pcalloc(p, sizeof(*c));

#define DP_CONF(name, field, type, parser, dflt, min, max, ctx, help, doc) \
    c->field = DP_CONF_ISSET_##type(add->field) ? add->field : base->field;
#include "dp_conf.def"
#undef DP_CONF
    return c;
}

/* True when the field of row idx holds a value. */
static int is_set(const dp_conf_t *c, int idx)
{
    switch (idx) {
#define DP_CONF(name, field, type, parser, dflt, min, max, ctx, help, doc) \
    case DP_CONF_IDX_##field: return DP_CONF_ISSET_##type(c->field);
#include "dp_conf.def"
#undef DP_CONF
    default: return 0;
    }
}

const char *dp_conf_apply_defaults(dp_conf_t *c, apr_pool_t *p)
{
    const dp_conf_row_t *row;

    for (row = dp_conf_rows; row->name; ++row) {
        const char *line, *a1, *a2 = NULL, *err = NULL;

        if (row->dflt == NULL || is_set(c, (int)(row - dp_conf_rows))) {
            continue;
        }
        line = row->dflt;
        a1 = ap_getword_conf(p, &line);
        if (row->type == DP_CONF_T_LIMIT) {
            a2 = ap_getword_conf(p, &line);
        }
        err = row->parse(c, p, row, a1, a2);
        while (!err && (row->type == DP_CONF_T_LIST || row->type == DP_CONF_T_BITS)
               && *(a1 = ap_getword_conf(p, &line))) {
            err = row->parse(c, p, row, a1, NULL);
        }
        if (err) {
            return apr_psprintf(p, "the default of %s (%s): %s", row->name, row->dflt, err);
        }
    }
    return NULL;
}
