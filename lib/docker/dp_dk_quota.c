/* dp_dk_quota: object ownership (the dockpay.key label) and per-key quota arithmetic. */
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_dk_quota.h"
#include "dp_dk_policy.h"
#include "dp_json.h"

/* Resolves the limits of a key. */
void dp_dk_quota_resolve(dp_dk_quota_t *out, const dp_quota_t *line, const dp_quota_t *dflt, int admin)
{
#define PICK(m) out->m = line->m != DP_QUOTA_UNSET ? line->m \
                       : (!admin && dflt && dflt->m != DP_QUOTA_UNSET) ? dflt->m : 0
    PICK(containers);
    PICK(memory);
    PICK(nanocpus);
    PICK(volumes);
#undef PICK
}

/* True when limit sets no quota. */
int dp_dk_quota_none(const dp_dk_quota_t *limit)
{
    return limit->containers <= 0 && limit->memory <= 0 && limit->nanocpus <= 0 && limit->volumes <= 0;
}

/* Builds the quota_exceeded problem (value members as CPUs for cpus). */
static apr_status_t exceeded(dp_problem_t **pprob, apr_pool_t *p, const char *quota, apr_int64_t used,
                             apr_int64_t limit, apr_int64_t requested, const char *why)
{
    int cpus = !strcmp(quota, "cpus");
    dp_problem_t *prob;
    const char *u, *l, *r;

    if (cpus) {
        u = apr_psprintf(p, "%g", (double)used / 1e9);
        l = apr_psprintf(p, "%g", (double)limit / 1e9);
        r = apr_psprintf(p, "%g", (double)requested / 1e9);
    }
    else {
        u = apr_psprintf(p, "%" APR_INT64_T_FMT, used);
        l = apr_psprintf(p, "%" APR_INT64_T_FMT, limit);
        r = apr_psprintf(p, "%" APR_INT64_T_FMT, requested);
    }
    prob = dp_problem_make(p, 403, "quota_exceeded", "the key's %s quota is %s%s; it uses %s%s",
                           quota, l, !strcmp(quota, "memory") ? " bytes" : "", u,
                           why ? why : apr_pstrcat(p, " and this asks for ", r, " more", NULL));
    dp_problem_add(prob, p, "quota", json_object_new_string(quota));
    if (cpus) {
        dp_problem_add(prob, p, "used", json_object_new_double((double)used / 1e9));
        dp_problem_add(prob, p, "limit", json_object_new_double((double)limit / 1e9));
        dp_problem_add(prob, p, "requested", json_object_new_double((double)requested / 1e9));
    }
    else {
        dp_problem_add(prob, p, "used", json_object_new_int64(used));
        dp_problem_add(prob, p, "limit", json_object_new_int64(limit));
        dp_problem_add(prob, p, "requested", json_object_new_int64(requested));
    }
    *pprob = prob;
    return DP_EPROBLEM;
}

/* Checks used + add against limit. */
apr_status_t dp_dk_quota_check(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_quota_t *limit,
                               const dp_dk_usage_t *used, const dp_dk_usage_t *add)
{
    if (limit->containers > 0 && add->containers > 0 && used->containers + add->containers > limit->containers) {
        return exceeded(pprob, p, "containers", used->containers, limit->containers, add->containers, NULL);
    }
    if (limit->memory > 0 && add->containers > 0 && add->memory <= 0) {
        return exceeded(pprob, p, "memory", used->memory, limit->memory, 0,
                        "; a container without a memory limit (HostConfig.Memory, \"memory\") would exceed it");
    }
    if (limit->memory > 0 && add->memory > 0 && used->memory + add->memory > limit->memory) {
        return exceeded(pprob, p, "memory", used->memory, limit->memory, add->memory, NULL);
    }
    if (limit->nanocpus > 0 && add->containers > 0 && add->nanocpus <= 0) {
        return exceeded(pprob, p, "cpus", used->nanocpus, limit->nanocpus, 0,
                        "; a container without a CPU limit (HostConfig.NanoCpus, \"cpus\") would exceed it");
    }
    if (limit->nanocpus > 0 && add->nanocpus > 0 && used->nanocpus + add->nanocpus > limit->nanocpus) {
        return exceeded(pprob, p, "cpus", used->nanocpus, limit->nanocpus, add->nanocpus, NULL);
    }
    if (limit->volumes > 0 && add->volumes > 0 && used->volumes + add->volumes > limit->volumes) {
        return exceeded(pprob, p, "volumes", used->volumes, limit->volumes, add->volumes, NULL);
    }
    return APR_SUCCESS;
}

/* Reads o[name] as a non-negative integer into *pv (0 when absent); 400 for another type or
 * for the name also spelled in another case. */
static apr_status_t int_field(apr_int64_t *pv, dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                              const char *name, const char *path)
{
    json_object *v = NULL;

    *pv = 0;
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        return APR_SUCCESS;
    }
    {
        json_object_object_foreach(o, k, val) {
            if (!strcasecmp(k, name) && strcmp(k, name)) {
                return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be spelled '%s'", path, name);
            }
            if (!strcmp(k, name)) {
                v = val;
            }
        }
    }
    if (v == NULL || json_object_is_type(v, json_type_null)) {
        return APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be a non-negative integer", path);
    }
    *pv = json_object_get_int64(v);
    return APR_SUCCESS;
}

/* Reads what a create body adds. */
apr_status_t dp_dk_quota_body(dp_dk_usage_t *add, dp_problem_t **pprob, apr_pool_t *p, json_object *body)
{
    json_object *hc = dp_json_get(body, "HostConfig");
    apr_status_t rv;

    memset(add, 0, sizeof(*add));
    add->containers = 1;
    if ((rv = int_field(&add->memory, pprob, p, hc, "Memory", "HostConfig.Memory")) != APR_SUCCESS
        || (rv = int_field(&add->nanocpus, pprob, p, hc, "NanoCpus", "HostConfig.NanoCpus")) != APR_SUCCESS) {
        return rv;
    }
    return APR_SUCCESS;
}

/* Stamps the limit labels on a create body. */
void dp_dk_quota_stamp(json_object *body, const dp_dk_usage_t *add)
{
    json_object *labels = dp_json_get(body, "Labels");
    char buf[32];

    if (labels == NULL || !json_object_is_type(labels, json_type_object)) {
        labels = json_object_new_object();
        json_object_object_add(body, "Labels", labels);
    }
    apr_snprintf(buf, sizeof(buf), "%" APR_INT64_T_FMT, add->memory);
    json_object_object_add(labels, DP_DK_LABEL_MEMORY, json_object_new_string(buf));
    apr_snprintf(buf, sizeof(buf), "%" APR_INT64_T_FMT, add->nanocpus);
    json_object_object_add(labels, DP_DK_LABEL_NANOCPUS, json_object_new_string(buf));
}

/* Reads a label holding a non-negative decimal integer; 0 otherwise. */
static apr_int64_t label_int(json_object *labels, const char *name)
{
    const char *s = dp_json_get_str(labels, name);
    apr_int64_t v = 0;
    apr_size_t i;

    for (i = 0; s && s[i] && i < 18; ++i) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    return s && s[i] == '\0' ? v : 0;
}

/* Adds the containers of list to *used. */
void dp_dk_usage_add_containers(dp_dk_usage_t *used, json_object *list)
{
    apr_size_t i, n;

    if (list == NULL || !json_object_is_type(list, json_type_array)) {
        return;
    }
    n = json_object_array_length(list);
    for (i = 0; i < n; ++i) {
        json_object *labels = dp_json_get(json_object_array_get_idx(list, i), "Labels");
        used->containers += 1;
        used->memory += label_int(labels, DP_DK_LABEL_MEMORY);
        used->nanocpus += label_int(labels, DP_DK_LABEL_NANOCPUS);
    }
}

/* True when labels say the object belongs to key_name. */
int dp_dk_owned(json_object *labels, const char *key_name)
{
    const char *k = dp_json_get_str(labels, DP_DK_LABEL_KEY);

    return key_name && *key_name && k && !strcmp(k, key_name);
}

/* Returns "dockpay.key=<key_name>". */
const char *dp_dk_owner_filter(apr_pool_t *p, const char *key_name)
{
    return apr_pstrcat(p, DP_DK_LABEL_KEY "=", key_name ? key_name : "", NULL);
}

/* Adds the owner's label filter to filters. */
void dp_dk_owner_filters_add(json_object *filters, apr_pool_t *p, const char *key_name)
{
    json_object *l = dp_json_get(filters, "label");

    if (l == NULL || !json_object_is_type(l, json_type_array)) {
        l = json_object_new_array();
        json_object_object_add(filters, "label", l);
    }
    json_object_array_add(l, json_object_new_string(dp_dk_owner_filter(p, key_name)));
}

static void push_ref(apr_array_header_t *a, const char *name, apr_size_t len, const char *field)
{
    dp_dk_objref_t *r = apr_array_push(a);
    r->name = apr_pstrmemdup(a->pool, name, len);
    r->field = field;
}

/* Returns o[name] whatever its case (Docker's matching), or NULL. */
static json_object *get_ci(json_object *o, const char *name)
{
    json_object *found = NULL;

    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        return NULL;
    }
    {
        json_object_object_foreach(o, k, v) {
            if (!strcasecmp(k, name)) {
                found = v;   /* the last one, as Docker's decoder keeps */
            }
        }
    }
    return found;
}

static const char *const default_nets[] = { "", "bridge", "none", "default", "host", NULL };

static int is_default_net(const char *name)
{
    int d;
    for (d = 0; default_nets[d] && strcmp(default_nets[d], name); ++d) {}
    return default_nets[d] != NULL;
}

/* Each "name[:x]" string of the array v names container name ("/name" too): Links, VolumesFrom. */
static void container_list_refs(apr_array_header_t *ctrs, json_object *v, const char *field)
{
    apr_size_t i;

    if (v == NULL || !json_object_is_type(v, json_type_array)) {
        return;
    }
    for (i = 0; i < json_object_array_length(v); ++i) {
        const char *l = json_object_get_string(json_object_array_get_idx(v, i));
        apr_size_t n;
        if (l == NULL) {
            continue;
        }
        if (*l == '/') {
            ++l;
        }
        n = strcspn(l, ":");
        push_ref(ctrs, l, n, field);
    }
}

/* The references of one HostConfig object. */
static void host_config_refs(apr_array_header_t *nets, apr_array_header_t *vols, apr_array_header_t *ctrs,
                             json_object *hc)
{
    if (hc == NULL || !json_object_is_type(hc, json_type_object)) {
        return;
    }
    /* every spelling Docker would read (its decoder matches names case-insensitively and
     * merges repeated objects and maps), so no spelling hides a reference */
    json_object_object_foreach(hc, k, v) {
        const char *str = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        apr_size_t i;
        if (str && (!strcasecmp(k, "NetworkMode") || !strcasecmp(k, "PidMode") || !strcasecmp(k, "IpcMode"))) {
            const char *field = !strcasecmp(k, "NetworkMode") ? "HostConfig.NetworkMode"
                              : !strcasecmp(k, "PidMode") ? "HostConfig.PidMode" : "HostConfig.IpcMode";
            if (!strncmp(str, "container:", 10)) {
                push_ref(ctrs, str + 10, strlen(str + 10), field);
            }
            else if (!strcasecmp(k, "NetworkMode") && !is_default_net(str)) {
                push_ref(nets, str, strlen(str), field);
            }
        }
        else if (!strcasecmp(k, "Links")) {
            container_list_refs(ctrs, v, "HostConfig.Links");
        }
        else if (!strcasecmp(k, "VolumesFrom")) {
            container_list_refs(ctrs, v, "HostConfig.VolumesFrom");
        }
        else if (!strcasecmp(k, "Binds") && json_object_is_type(v, json_type_array)) {
            for (i = 0; i < json_object_array_length(v); ++i) {
                const char *b = json_object_get_string(json_object_array_get_idx(v, i));
                const char *colon = b ? strchr(b, ':') : NULL;
                if (b && colon && b[0] != '/' && colon > b) {
                    push_ref(vols, b, (apr_size_t)(colon - b), "HostConfig.Binds");
                }
            }
        }
        else if (!strcasecmp(k, "Mounts") && json_object_is_type(v, json_type_array)) {
            for (i = 0; i < json_object_array_length(v); ++i) {
                json_object *m = json_object_array_get_idx(v, i);
                const char *type = json_object_get_string(get_ci(m, "Type"));
                const char *src = json_object_get_string(get_ci(m, "Source"));
                if (type && !strcasecmp(type, "volume") && src && *src) {
                    push_ref(vols, src, strlen(src), "HostConfig.Mounts");
                }
            }
        }
    }
}

/* The networks of one NetworkingConfig object (every EndpointsConfig spelling), and the
 * containers its endpoints link to. */
static void networking_refs(apr_array_header_t *nets, apr_array_header_t *ctrs, json_object *nc)
{
    if (nc == NULL || !json_object_is_type(nc, json_type_object)) {
        return;
    }
    json_object_object_foreach(nc, k, v) {
        if (strcasecmp(k, "EndpointsConfig") || !json_object_is_type(v, json_type_object)) {
            continue;
        }
        {
            json_object_object_foreach(v, name, ep) {
                if (!is_default_net(name) || !strcmp(name, "host")) {
                    push_ref(nets, name, strlen(name), "NetworkingConfig.EndpointsConfig");
                }
                if (ep && json_object_is_type(ep, json_type_object)) {
                    json_object_object_foreach(ep, ek, ev) {
                        if (!strcasecmp(ek, "Links")) {
                            container_list_refs(ctrs, ev, "NetworkingConfig.EndpointsConfig.Links");
                        }
                    }
                }
            }
        }
    }
}

/* Collects the networks, named volumes and containers a create body names. */
void dp_dk_create_refs(apr_array_header_t **pnets, apr_array_header_t **pvols, apr_array_header_t **pctrs,
                       apr_pool_t *p, json_object *body)
{
    *pnets = apr_array_make(p, 2, sizeof(dp_dk_objref_t));
    *pvols = apr_array_make(p, 2, sizeof(dp_dk_objref_t));
    *pctrs = apr_array_make(p, 1, sizeof(dp_dk_objref_t));
    if (body == NULL || !json_object_is_type(body, json_type_object)) {
        return;
    }
    json_object_object_foreach(body, k, v) {
        if (!strcasecmp(k, "HostConfig")) {
            host_config_refs(*pnets, *pvols, *pctrs, v);
        }
        else if (!strcasecmp(k, "NetworkingConfig")) {
            networking_refs(*pnets, *pctrs, v);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* per-key serialisation: a fixed table of process-wide mutexes, a key picks one by its hash */

#define M4 PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, \
           PTHREAD_MUTEX_INITIALIZER
static pthread_mutex_t stripes[16] = { M4, M4, M4, M4 };
#undef M4

static pthread_mutex_t *stripe(const char *key_name)
{
    unsigned h = 5381;
    const char *s;

    for (s = key_name ? key_name : ""; *s; ++s) {
        h = h * 33 + (unsigned char)*s;
    }
    return &stripes[h % (sizeof(stripes) / sizeof(stripes[0]))];
}

/* Locks the key's stripe. */
void dp_dk_quota_lock(const char *key_name)
{
    pthread_mutex_lock(stripe(key_name));
}

/* Unlocks the key's stripe. */
void dp_dk_quota_unlock(const char *key_name)
{
    pthread_mutex_unlock(stripe(key_name));
}
