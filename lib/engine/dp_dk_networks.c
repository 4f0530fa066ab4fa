/* dp_dk_networks: networks and volumes as core operations (see dp_dk_ops.h). */
#include <string.h>
#include <apr_strings.h>

#include "dp_dk_ops.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_dk_misc.h"

/* ------------------------------------------------------------------------------------------ */
/* networks */

/* Returns "/networks/ID" + suffix with ID %-encoded. */
static const char *npath(dp_dk_ctx_t *c, const char *id, const char *suffix)
{
    return apr_pstrcat(c->pool, "/networks/", dp_url_encode(c->pool, id), suffix, NULL);
}

/* Lists the caller's networks. */
apr_status_t dp_dk_network_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c)
{
    json_object *f = NULL;

    *plist = NULL;
    if (c->owner) {   /* a non-admin key lists its own */
        f = dp_json_object(c->pool);
        dp_dk_owner_filters_add(f, c->pool, c->owner);
    }
    return dp_dk_call(plist, NULL, pprob, c, "GET", dp_dk_with_filters(c->pool, "/networks", "?", f), NULL);
}

/* Inspects a visible network. */
apr_status_t dp_dk_network_inspect(json_object **pnet, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id)
{
    if (!dp_dk_name_ok(id)) {
        return dp_problem_fail(pprob, c->pool, 404, "network_not_found", "no such network: %s", id ? id : "");
    }
    c->target = id;
    return dp_dk_own_network(pnet, pprob, c, id);
}

/* Reads a POST /networks body. */
apr_status_t dp_dk_network_read(dp_dk_netspec_t *spec, dp_problem_t **pprob, apr_pool_t *p, json_object *body)
{
    static const char *const fields[] = { "name", "driver", "internal", "labels", "subnet", "gateway", NULL };
    apr_status_t rv;

    memset(spec, 0, sizeof(*spec));
    if ((rv = dp_json_only_fields(pprob, p, body, fields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&spec->name, pprob, p, body, "name", 1, 255)) != APR_SUCCESS
        || (rv = dp_json_field_str(&spec->driver, pprob, p, body, "driver", 0, 64)) != APR_SUCCESS
        || (rv = dp_json_field_bool(&spec->internal, pprob, p, body, "internal", 0)) != APR_SUCCESS
        || (rv = dp_json_field_str(&spec->subnet, pprob, p, body, "subnet", 0, 64)) != APR_SUCCESS
        || (rv = dp_json_field_str(&spec->gateway, pprob, p, body, "gateway", 0, 64)) != APR_SUCCESS
        || (rv = dp_dk_field_strmap(&spec->labels, pprob, p, body, "labels", 1)) != APR_SUCCESS) {
        return rv;
    }
    return APR_SUCCESS;
}

/* Creates a network owned by the key. */
apr_status_t dp_dk_network_create(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                  const dp_dk_netspec_t *s)
{
    static const char *const refused[] = { "host", "macvlan", "ipvlan", "null", NULL };
    json_object *d, *res = NULL, *out;
    int fam_s = 0, fam_g = 0, i;
    apr_pool_t *p = c->pool;
    apr_status_t rv;

    c->target = s->name;
    if (!dp_dk_name_ok(s->name)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field 'name' must be letters, digits, '_', '.' or '-'");
    }
    if (s->driver && !dp_dk_name_ok(s->driver)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'driver' is not a driver name");
    }
    for (i = 0; s->driver && refused[i]; ++i) {
        if (!strcmp(s->driver, refused[i])) {
            return dp_problem_fail(pprob, p, 403, "policy_denied", "the field 'driver' may not be '%s' here",
                                   s->driver);
        }
    }
    if (s->subnet && !dp_dk_cidr_ok(s->subnet, &fam_s)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field 'subnet' must be an address/prefix such as 10.20.0.0/16");
    }
    if (s->gateway && !dp_dk_ip_ok(s->gateway, &fam_g)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'gateway' must be an IP address");
    }
    if (s->gateway && (s->subnet == NULL || fam_s != fam_g)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field 'gateway' needs a 'subnet' of the same address family");
    }
    d = dp_json_object(p);
    if (s->labels) {
        dp_json_set_ref(d, "Labels", s->labels);
    }
    dp_json_set_str(d, "Name", s->name);
    dp_json_set_str(d, "Driver", s->driver);
    json_object_object_add(d, "Internal", json_object_new_boolean(s->internal));
    json_object_object_add(d, "CheckDuplicate", json_object_new_boolean(1));
    if (s->subnet) {
        json_object *ipam = json_object_new_object(), *cfgs = json_object_new_array();
        json_object *cfg = json_object_new_object();
        dp_json_set_str(cfg, "Subnet", s->subnet);
        dp_json_set_str(cfg, "Gateway", s->gateway);
        json_object_array_add(cfgs, cfg);
        json_object_object_add(ipam, "Driver", json_object_new_string("default"));
        json_object_object_add(ipam, "Config", cfgs);
        json_object_object_add(d, "IPAM", ipam);
    }
    if ((rv = dp_dk_stamp_labels(pprob, p, d, c->key)) != APR_SUCCESS
        || (rv = dp_dk_call(&res, NULL, pprob, c, "POST", "/networks/create", d)) != APR_SUCCESS) {
        return rv;
    }
    out = dp_json_object(p);
    dp_json_set_str(out, "id", dp_json_get_str(res, "Id"));
    dp_json_set_str(out, "warning", dp_json_get_str(res, "Warning"));
    if (dp_json_get_str(res, "Id")) {
        c->target = dp_json_get_str(res, "Id");
    }
    *pout = out;
    return APR_SUCCESS;
}

/* Deletes a network. */
apr_status_t dp_dk_network_delete(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id)
{
    int status = 0;
    apr_status_t rv;

    if (!dp_dk_name_ok(id)) {
        return dp_problem_fail(pprob, c->pool, 404, "network_not_found", "no such network: %s", id ? id : "");
    }
    c->target = id;
    if (c->owner) {
        json_object *net = NULL;
        if ((rv = dp_dk_own_network(&net, pprob, c, id)) != APR_SUCCESS) {
            return rv;
        }
        if (dp_json_get_str(net, "Id")) {
            id = dp_json_get_str(net, "Id");   /* act on what was checked, not on a name again */
        }
    }
    if ((rv = dp_dk_call(NULL, &status, pprob, c, "DELETE", npath(c, id, ""), NULL)) != APR_SUCCESS) {
        if (status == 403 && *pprob) {
            /* the engine answers 403 for attached endpoints and for its predefined networks */
            (*pprob)->code = ((*pprob)->detail && strstr((*pprob)->detail, "pre-defined")) ? "predefined_network"
                                                                                          : "network_in_use";
        }
        dp_dk_not_found(*pprob, "network_not_found", 1);
        return rv;
    }
    return APR_SUCCESS;
}

/* Reads connect's "aliases" (an array of names) into ep.Aliases. */
static apr_status_t read_aliases(dp_problem_t **pprob, apr_pool_t *p, json_object *body, json_object *ep)
{
    json_object *aliases = dp_json_get(body, "aliases");
    size_t i;

    if (aliases == NULL) {
        return APR_SUCCESS;
    }
    if (!json_object_is_type(aliases, json_type_array)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field 'aliases' must be an array of strings");
    }
    for (i = 0; i < json_object_array_length(aliases); ++i) {
        json_object *a = json_object_array_get_idx(aliases, i);
        if (!json_object_is_type(a, json_type_string)) {
            return dp_problem_fail(pprob, p, 400, "wrong_type", "the field 'aliases' must be an array of strings");
        }
        if (!dp_dk_name_ok(json_object_get_string(a))) {
            return dp_problem_fail(pprob, p, 422, "invalid_value", "the alias '%s' is not a valid name",
                                   json_object_get_string(a));
        }
    }
    json_object_object_add(ep, "Aliases", json_object_get(aliases));
    return APR_SUCCESS;
}

/* Connects or disconnects a container. */
apr_status_t dp_dk_network_attach(int *pchanged, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id,
                                  int connect, json_object *body)
{
    static const char *const cfields[] = { "container", "aliases", "ipv4_address", NULL };
    static const char *const dfields[] = { "container", "force", NULL };
    const char *container = NULL, *ip = NULL, *nname, *ndriver;
    json_object *net = NULL, *d;
    apr_pool_t *p = c->pool;
    int force = 0, status = 0, fam = 0;
    apr_status_t rv;

    *pchanged = 0;
    if (!dp_dk_name_ok(id)) {
        return dp_problem_fail(pprob, p, 404, "network_not_found", "no such network: %s", id ? id : "");
    }
    c->target = id;
    if ((rv = dp_json_only_fields(pprob, p, body, connect ? cfields : dfields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&container, pprob, p, body, "container", 1, 255)) != APR_SUCCESS
        || (connect && (rv = dp_json_field_str(&ip, pprob, p, body, "ipv4_address", 0, 64)) != APR_SUCCESS)
        || (!connect && (rv = dp_json_field_bool(&force, pprob, p, body, "force", 0)) != APR_SUCCESS)) {
        return rv;
    }
    if (!dp_dk_name_ok(container)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'container' is not a container id or name");
    }
    if (ip && (!dp_dk_ip_ok(ip, &fam) || fam != 4)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'ipv4_address' must be an IPv4 address");
    }
    if (c->owner) {
        /* a non-admin key joins and parts only its own containers and its own networks, and
         * acts on the ids it checked (not on names resolved again) */
        const char *cid;
        json_object *own = NULL;
        if ((rv = dp_dk_own_network(&own, pprob, c, id)) != APR_SUCCESS
            || (rv = dp_dk_own_container(&cid, NULL, pprob, c, container)) != APR_SUCCESS) {
            return rv;
        }
        if (dp_json_get_str(own, "Id")) {
            id = dp_json_get_str(own, "Id");
        }
        container = cid;
    }
    d = dp_json_object(p);
    dp_json_set_str(d, "Container", container);
    if (connect) {
        json_object *ep = json_object_new_object();
        json_object_object_add(d, "EndpointConfig", ep);
        if ((rv = read_aliases(pprob, p, body, ep)) != APR_SUCCESS) {
            return rv;
        }
        if (ip) {
            json_object *ipam = json_object_new_object();
            dp_json_set_str(ipam, "IPv4Address", ip);
            json_object_object_add(ep, "IPAMConfig", ipam);
        }
        /* the host network is never joined through the API */
        if ((rv = dp_dk_call(&net, NULL, pprob, c, "GET", npath(c, id, ""), NULL)) != APR_SUCCESS) {
            dp_dk_not_found(*pprob, "network_not_found", 1);
            return rv;
        }
        nname = dp_json_get_str(net, "Name");
        ndriver = dp_json_get_str(net, "Driver");
        if ((nname && !strcmp(nname, "host")) || (ndriver && !strcmp(ndriver, "host"))) {
            return dp_problem_fail(pprob, p, 403, "policy_denied",
                                   "connecting containers to the host network is not allowed");
        }
    }
    else {
        json_object_object_add(d, "Force", json_object_new_boolean(force));
    }
    if ((rv = dp_dk_call(NULL, &status, pprob, c, "POST", npath(c, id, connect ? "/connect" : "/disconnect"), d))
        != APR_SUCCESS) {
        /* connecting what is connected, or disconnecting what is not, changes nothing */
        if (*pprob && (*pprob)->detail && (status == 403 || status == 409 || status == 400)
            && (connect ? strstr((*pprob)->detail, "already exists") != NULL
                        : strstr((*pprob)->detail, "is not connected") != NULL)) {
            *pprob = NULL;
            return APR_SUCCESS;
        }
        return rv;
    }
    *pchanged = 1;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* volumes */

/* Checks a volume name from the route: 404 for anything that is not one. */
static apr_status_t volume_name_ok(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name)
{
    if (!dp_dk_valid_volume_name(name)) {
        return dp_problem_fail(pprob, c->pool, 404, "volume_not_found", "no such volume");
    }
    c->target = name;
    return APR_SUCCESS;
}

/* Lists the caller's volumes. */
apr_status_t dp_dk_volume_list(json_object **plist, json_object **pwarnings, dp_problem_t **pprob,
                               dp_dk_ctx_t *c, json_object *filters)
{
    json_object *res = NULL, *warn;
    apr_status_t rv;

    if (c->owner) {
        dp_dk_owner_filters_add(filters, c->pool, c->owner);
    }
    if ((rv = dp_dk_call(&res, NULL, pprob, c, "GET", dp_dk_with_filters(c->pool, "/volumes", "?", filters), NULL))
        != APR_SUCCESS) {
        return rv;
    }
    warn = dp_json_get(res, "Warnings");
    *plist = dp_json_get(res, "Volumes");
    *pwarnings = warn ? warn : dp_json_array(c->pool);
    return APR_SUCCESS;
}

/* Inspects a visible volume. */
apr_status_t dp_dk_volume_inspect(json_object **pvol, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name)
{
    apr_status_t rv;

    if ((rv = volume_name_ok(pprob, c, name)) != APR_SUCCESS) {
        return rv;
    }
    return dp_dk_own_volume(pvol, pprob, c, name);
}

/* Creates a volume under the policy and the quota. */
apr_status_t dp_dk_volume_create(json_object **pvol, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *in)
{
    static const char *const fields[] = { "name", "driver", "labels", "driver_opts", NULL };
    json_object *body = dp_json_object(c->pool), *labels = NULL, *opts = NULL;
    const char *name = NULL, *driver = "local";
    dp_dk_usage_t add = { 0, 0, 0, 1 };
    apr_pool_t *p = c->pool;
    apr_status_t rv;
    int locked = 0;

    if ((rv = dp_json_only_fields(pprob, p, in, fields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&name, pprob, p, in, "name", 0, 255)) != APR_SUCCESS
        || (rv = dp_json_field_str(&driver, pprob, p, in, "driver", 0, 255)) != APR_SUCCESS
        || (rv = dp_dk_field_strmap(&labels, pprob, p, in, "labels", 1)) != APR_SUCCESS
        || (rv = dp_dk_field_strmap(&opts, pprob, p, in, "driver_opts", 0)) != APR_SUCCESS) {
        return rv;
    }
    if (labels) {
        dp_json_set_ref(body, "Labels", labels);
    }
    if (opts) {
        dp_json_set_ref(body, "DriverOpts", opts);
    }
    if (name && !dp_dk_valid_volume_name(name)) {
        dp_problem_t *prob = dp_problem_make(p, 422, "invalid_value",
                                             "name: '%s' is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)", name);
        *pprob = dp_problem_add(prob, p, "field", json_object_new_string("name"));
        return DP_EPROBLEM;
    }
    c->target = name;
    if ((rv = dp_dk_policy_volume(pprob, p, c->policy, driver, opts, "driver_opts")) != APR_SUCCESS) {
        c->notice = apr_pstrcat(p, "volume create refused by policy: ", (*pprob)->detail, NULL);
        return rv;
    }
    dp_json_set_str(body, "Name", name ? name : "");
    dp_json_set_str(body, "Driver", driver);
    if ((rv = dp_dk_stamp_labels(pprob, p, body, c->key)) != APR_SUCCESS
        || (rv = dp_dk_quota_begin(&locked, pprob, c, &add)) != APR_SUCCESS) {
        return rv;
    }
    if (name && c->owner) {
        /* the engine answers an existing volume of that name as created: never another's */
        json_object *old = NULL;
        int status = 0;
        if (dp_dk_call(&old, &status, pprob, c, "GET", apr_pstrcat(p, "/volumes/", dp_url_encode(p, name), NULL), NULL)
            == APR_SUCCESS && !dp_dk_owned(dp_json_get(old, "Labels"), c->owner)) {
            dp_dk_quota_end(c, locked);
            return dp_problem_fail(pprob, p, 409, "volume_exists", "a volume named '%s' exists and is not this key's",
                                   name);
        }
    }
    rv = dp_dk_call(pvol, NULL, pprob, c, "POST", "/volumes/create", body);
    dp_dk_quota_end(c, locked);
    if (rv == APR_SUCCESS && dp_json_get_str(*pvol, "Name")) {
        c->target = dp_json_get_str(*pvol, "Name");
    }
    return rv;
}

/* Deletes a volume. */
apr_status_t dp_dk_volume_delete(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name, apr_table_t *query)
{
    int force = 0;
    apr_status_t rv;

    if ((rv = volume_name_ok(pprob, c, name)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&force, pprob, c->pool, query, "force", 0)) != APR_SUCCESS
        || (c->owner && (rv = dp_dk_own_volume(NULL, pprob, c, name)) != APR_SUCCESS)
        || (rv = dp_dk_call(NULL, NULL, pprob, c, "DELETE",
                            apr_pstrcat(c->pool, "/volumes/", dp_url_encode(c->pool, name), "?force=",
                                        force ? "1" : "0", NULL), NULL)) != APR_SUCCESS) {
        if (*pprob && (*pprob)->status == 409) {
            (*pprob)->code = "volume_in_use";
        }
        dp_dk_not_found(*pprob, "volume_not_found", 0);
        return rv;
    }
    return APR_SUCCESS;
}
