/* h_engine: Docker routes (images, networks, system, compose): the table, shared helpers,
 * networks and the system routes (info, df, prune). Images, events and compose live in
 * h_engine_images.c, h_engine_events.c and h_engine_compose.c. */
#include <string.h>
#include <httpd.h>
#include <http_protocol.h>
#include <util_filter.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "dp_dk_policy.h"
#include "dp_dk_misc.h"
#include "h_owner.h"

/* ------------------------------------------------------------------------------------------ */
/* shared helpers */

/* Calls the engine with the request's client and pool. */
apr_status_t dp_engine_call(json_object **pjson, int *pstatus, dp_problem_t **pprob, dp_req_t *q,
                            const char *method, const char *path, json_object *body)
{
    return dp_docker_call(pjson, pstatus, pprob, q->proc->docker, q->pool, method, path, body);
}

/* Sends {"items": list}. */
int dp_engine_send_items(dp_req_t *q, json_object *list)
{
    json_object *o = dp_json_object(q->pool);

    if (list && json_object_is_type(list, json_type_array)) {
        dp_json_set_ref(o, "items", list);
    }
    else {
        json_object_object_add(o, "items", json_object_new_array());
    }
    return dp_send_json(q, 200, o);
}

/* Aborts a long engine call when the client has gone away: a write failed before, or a
 * non-blocking peek at the connection sees its end. */
apr_status_t dp_engine_tick(void *baton)
{
    request_rec *r = baton;
    conn_rec *c = r->connection;
    apr_bucket_brigade *bb;
    apr_status_t rv;

    if (c->aborted) {
        return APR_ECONNABORTED;
    }
    bb = apr_brigade_create(r->pool, c->bucket_alloc);
    rv = ap_get_brigade(c->input_filters, bb, AP_MODE_SPECULATIVE, APR_NONBLOCK_READ, 1);
    apr_brigade_destroy(bb);
    if (rv == APR_EOF || (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv))) {
        c->aborted = 1;
        return APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

/* Lists containers with a label filter. */
apr_status_t dp_engine_containers_by_label(json_object **plist, dp_problem_t **pprob, dp_req_t *q,
                                           const char *label)
{
    json_object *f = dp_json_object(q->pool), *a = json_object_new_array();
    const char *path;

    json_object_array_add(a, json_object_new_string(label));
    json_object_object_add(f, "label", a);
    path = apr_pstrcat(q->pool, "/containers/json?all=1&filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)),
                       NULL);
    return dp_engine_call(plist, NULL, pprob, q, "GET", path, NULL);
}

/* Renames the code of a 404 problem to what the route looks up (image_not_found, ...). */
static int send_lookup_problem(dp_req_t *q, dp_problem_t *prob, const char *code)
{
    if (prob && prob->status == 404) {
        prob->code = code;
    }
    return dp_send_problem(q, prob);
}

/* Reads the {id} route parameter as a network id or name; NULL after sending a 404. */
static const char *network_param(dp_req_t *q)
{
    const char *id = apr_table_get(q->params, "id");

    if (!dp_dk_name_ok(id)) {
        dp_fail(q, 404, "network_not_found", "no such network: %s", id ? id : "");
        return NULL;
    }
    q->target = id;
    return id;
}

/* ------------------------------------------------------------------------------------------ */
/* networks */

/* GET /networks: Docker's list. */
static int networks_list(dp_req_t *q)
{
    json_object *list = NULL;
    dp_problem_t *prob = NULL;

    const char *path = "/networks";

    if (dp_owner(q)) {   /* a non-admin key lists its own */
        json_object *f = dp_json_object(q->pool);
        dp_dk_owner_filters_add(f, q->pool, dp_owner(q));
        path = apr_pstrcat(q->pool, path, "?filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL);
    }
    if (dp_engine_call(&list, NULL, &prob, q, "GET", path, NULL) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_engine_send_items(q, list);
}

/* GET /networks/{id}: Docker's inspect object. */
static int networks_inspect(dp_req_t *q)
{
    const char *id = network_param(q);
    json_object *o = NULL;
    dp_problem_t *prob = NULL;

    if (id == NULL) {
        return OK;
    }
    if (dp_owner_network(&o, &prob, q, id) != APR_SUCCESS) {
        return send_lookup_problem(q, prob, "network_not_found");
    }
    return dp_send_json(q, 200, o);
}

/* Reads an optional object of string values (labels) into a new Docker object; 400 otherwise. */
static apr_status_t read_string_map(json_object **pout, dp_problem_t **pprob, dp_req_t *q, json_object *body,
                                    const char *key)
{
    json_object *v = dp_json_get(body, key), *out;

    *pout = NULL;
    if (v == NULL) {
        return APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_object)) {
        return dp_problem_fail(pprob, q->pool, 400, "wrong_type", "the field '%s' must be an object of strings", key);
    }
    out = json_object_new_object();
    json_object_object_foreach(v, k, val) {
        if (!strcmp(key, "labels") && dp_dk_label_reserved(k)) {
            json_object_put(out);
            return dp_problem_fail(pprob, q->pool, 403, "policy_denied",
                                   "labels.%s: com.docker.compose.* labels are set by Compose only", k);
        }
        if (!json_object_is_type(val, json_type_string)) {
            json_object_put(out);
            return dp_problem_fail(pprob, q->pool, 400, "wrong_type", "the field '%s.%s' must be a string", key, k);
        }
        json_object_object_add(out, k, json_object_get(val));
    }
    *pout = out;
    return APR_SUCCESS;
}

/* POST /networks: {"name","driver","internal","labels","subnet","gateway"} -> 201 {"id","warning"}. */
static int networks_create(dp_req_t *q)
{
    static const char *const fields[] = { "name", "driver", "internal", "labels", "subnet", "gateway", NULL };
    static const char *const refused[] = { "host", "macvlan", "ipvlan", "null", NULL };
    json_object *body, *d, *labels = NULL, *res = NULL, *out;
    const char *name = NULL, *driver = NULL, *subnet = NULL, *gateway = NULL;
    int internal = 0, fam_s = 0, fam_g = 0, i;
    dp_problem_t *prob = NULL;

    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, fields) != APR_SUCCESS
        || dp_json_field_str(&name, &prob, q->pool, body, "name", 1, 255) != APR_SUCCESS
        || dp_json_field_str(&driver, &prob, q->pool, body, "driver", 0, 64) != APR_SUCCESS
        || dp_json_field_bool(&internal, &prob, q->pool, body, "internal", 0) != APR_SUCCESS
        || dp_json_field_str(&subnet, &prob, q->pool, body, "subnet", 0, 64) != APR_SUCCESS
        || dp_json_field_str(&gateway, &prob, q->pool, body, "gateway", 0, 64) != APR_SUCCESS
        || read_string_map(&labels, &prob, q, body, "labels") != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = name;
    d = dp_json_object(q->pool);
    if (labels) {
        json_object_object_add(d, "Labels", labels);
    }
    if (!dp_dk_name_ok(name)) {
        return dp_fail(q, 422, "invalid_value", "the field 'name' must be letters, digits, '_', '.' or '-'");
    }
    if (driver && !dp_dk_name_ok(driver)) {
        return dp_fail(q, 422, "invalid_value", "the field 'driver' is not a driver name");
    }
    for (i = 0; driver && refused[i]; ++i) {
        if (!strcmp(driver, refused[i])) {
            return dp_fail(q, 403, "policy_denied", "the field 'driver' may not be '%s' here", driver);
        }
    }
    if (subnet && !dp_dk_cidr_ok(subnet, &fam_s)) {
        return dp_fail(q, 422, "invalid_value", "the field 'subnet' must be an address/prefix such as 10.20.0.0/16");
    }
    if (gateway && !dp_dk_ip_ok(gateway, &fam_g)) {
        return dp_fail(q, 422, "invalid_value", "the field 'gateway' must be an IP address");
    }
    if (gateway && (subnet == NULL || fam_s != fam_g)) {
        return dp_fail(q, 422, "invalid_value", "the field 'gateway' needs a 'subnet' of the same address family");
    }
    dp_json_set_str(d, "Name", name);
    dp_json_set_str(d, "Driver", driver);
    json_object_object_add(d, "Internal", json_object_new_boolean(internal));
    json_object_object_add(d, "CheckDuplicate", json_object_new_boolean(1));
    if (subnet) {
        json_object *ipam = json_object_new_object(), *cfgs = json_object_new_array();
        json_object *cfg = json_object_new_object();
        dp_json_set_str(cfg, "Subnet", subnet);
        dp_json_set_str(cfg, "Gateway", gateway);
        json_object_array_add(cfgs, cfg);
        json_object_object_add(ipam, "Driver", json_object_new_string("default"));
        json_object_object_add(ipam, "Config", cfgs);
        json_object_object_add(d, "IPAM", ipam);
    }
    if (dp_owner_stamp(&prob, q, d) != APR_SUCCESS
        || dp_engine_call(&res, NULL, &prob, q, "POST", "/networks/create", d) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    out = dp_json_object(q->pool);
    dp_json_set_str(out, "id", dp_json_get_str(res, "Id"));
    dp_json_set_str(out, "warning", dp_json_get_str(res, "Warning"));
    if (dp_json_get_str(res, "Id")) {
        q->target = dp_json_get_str(res, "Id");
    }
    return dp_send_json(q, 201, out);
}

/* DELETE /networks/{id}: 204; 409 network_in_use while containers are attached. */
static int networks_delete(dp_req_t *q)
{
    const char *id = network_param(q);
    dp_problem_t *prob = NULL;
    int status = 0;

    if (id == NULL) {
        return OK;
    }
    if (dp_owner(q)) {
        json_object *net = NULL;
        if (dp_owner_network(&net, &prob, q, id) != APR_SUCCESS) {
            return send_lookup_problem(q, prob, "network_not_found");
        }
        if (dp_json_get_str(net, "Id")) {
            id = dp_json_get_str(net, "Id");   /* act on what was checked, not on a name again */
        }
    }
    if (dp_engine_call(NULL, &status, &prob, q, "DELETE", apr_pstrcat(q->pool, "/networks/", dp_url_encode(q->pool, id), NULL),
                       NULL) != APR_SUCCESS) {
        if (status == 403 && prob) {
            /* the engine answers 403 for attached endpoints and for its predefined networks */
            prob->code = (prob->detail && strstr(prob->detail, "pre-defined")) ? "predefined_network"
                                                                                : "network_in_use";
        }
        return send_lookup_problem(q, prob, "network_not_found");
    }
    return dp_send_empty(q, 204);
}

/* Answers {"changed": changed}. */
static int send_changed(dp_req_t *q, int changed)
{
    json_object *o = dp_json_object(q->pool);

    json_object_object_add(o, "changed", json_object_new_boolean(changed));
    return dp_send_json(q, 200, o);
}

/* POST /networks/{id}/connect and /disconnect. */
static int networks_attach(dp_req_t *q, int connect)
{
    static const char *const cfields[] = { "container", "aliases", "ipv4_address", NULL };
    static const char *const dfields[] = { "container", "force", NULL };
    const char *id = network_param(q), *container = NULL, *ip = NULL, *path;
    json_object *body, *net = NULL, *d, *aliases;
    dp_problem_t *prob = NULL;
    int force = 0, status = 0, fam = 0;
    const char *nname, *ndriver;

    if (id == NULL) {
        return OK;
    }
    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, connect ? cfields : dfields) != APR_SUCCESS
        || dp_json_field_str(&container, &prob, q->pool, body, "container", 1, 255) != APR_SUCCESS
        || (connect && dp_json_field_str(&ip, &prob, q->pool, body, "ipv4_address", 0, 64) != APR_SUCCESS)
        || (!connect && dp_json_field_bool(&force, &prob, q->pool, body, "force", 0) != APR_SUCCESS)) {
        return dp_send_problem(q, prob);
    }
    if (!dp_dk_name_ok(container)) {
        return dp_fail(q, 422, "invalid_value", "the field 'container' is not a container id or name");
    }
    if (ip && (!dp_dk_ip_ok(ip, &fam) || fam != 4)) {
        return dp_fail(q, 422, "invalid_value", "the field 'ipv4_address' must be an IPv4 address");
    }
    if (dp_owner(q)) {
        /* a non-admin key joins and parts only its own containers and its own networks, and
         * acts on the ids it checked (not on names resolved again) */
        const char *cid;
        json_object *own = NULL;
        if (dp_owner_network(&own, &prob, q, id) != APR_SUCCESS) {
            return send_lookup_problem(q, prob, "network_not_found");
        }
        if (dp_owner_container(&cid, NULL, &prob, q, container) != APR_SUCCESS) {
            return send_lookup_problem(q, prob, "container_not_found");
        }
        if (dp_json_get_str(own, "Id")) {
            id = dp_json_get_str(own, "Id");
        }
        container = cid;
    }
    d = dp_json_object(q->pool);
    dp_json_set_str(d, "Container", container);
    if (connect) {
        json_object *ep = json_object_new_object();
        aliases = dp_json_get(body, "aliases");
        if (aliases) {
            size_t i;
            if (!json_object_is_type(aliases, json_type_array)) {
                json_object_put(ep);
                return dp_fail(q, 400, "wrong_type", "the field 'aliases' must be an array of strings");
            }
            for (i = 0; i < json_object_array_length(aliases); ++i) {
                json_object *a = json_object_array_get_idx(aliases, i);
                if (!json_object_is_type(a, json_type_string)) {
                    json_object_put(ep);
                    return dp_fail(q, 400, "wrong_type", "the field 'aliases' must be an array of strings");
                }
                if (!dp_dk_name_ok(json_object_get_string(a))) {
                    json_object_put(ep);
                    return dp_fail(q, 422, "invalid_value", "the alias '%s' is not a valid name",
                                   json_object_get_string(a));
                }
            }
            json_object_object_add(ep, "Aliases", json_object_get(aliases));
        }
        if (ip) {
            json_object *ipam = json_object_new_object();
            dp_json_set_str(ipam, "IPv4Address", ip);
            json_object_object_add(ep, "IPAMConfig", ipam);
        }
        json_object_object_add(d, "EndpointConfig", ep);
        /* the host network is never joined through the API */
        if (dp_engine_call(&net, NULL, &prob, q, "GET", apr_pstrcat(q->pool, "/networks/", dp_url_encode(q->pool, id), NULL),
                           NULL) != APR_SUCCESS) {
            return send_lookup_problem(q, prob, "network_not_found");
        }
        nname = dp_json_get_str(net, "Name");
        ndriver = dp_json_get_str(net, "Driver");
        if ((nname && !strcmp(nname, "host")) || (ndriver && !strcmp(ndriver, "host"))) {
            return dp_fail(q, 403, "policy_denied", "connecting containers to the host network is not allowed");
        }
    }
    else {
        json_object_object_add(d, "Force", json_object_new_boolean(force));
    }
    path = apr_pstrcat(q->pool, "/networks/", dp_url_encode(q->pool, id), connect ? "/connect" : "/disconnect", NULL);
    if (dp_engine_call(NULL, &status, &prob, q, "POST", path, d) != APR_SUCCESS) {
        /* connecting what is connected, or disconnecting what is not, changes nothing */
        if (prob && prob->detail && (status == 403 || status == 409 || status == 400)
            && (connect ? strstr(prob->detail, "already exists") != NULL
                        : strstr(prob->detail, "is not connected") != NULL)) {
            return send_changed(q, 0);
        }
        return dp_send_problem(q, prob);
    }
    return send_changed(q, 1);
}

static int networks_connect(dp_req_t *q)
{
    return networks_attach(q, 1);
}

static int networks_disconnect(dp_req_t *q)
{
    return networks_attach(q, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* system */

/* Passes a read-only engine object through (/info, /system/df). */
static int pass_through(dp_req_t *q, const char *path)
{
    json_object *o = NULL;
    dp_problem_t *prob = NULL;

    if (dp_engine_call(&o, NULL, &prob, q, "GET", path, NULL) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, o);
}

static int system_info(dp_req_t *q)
{
    return pass_through(q, "/info");
}

/* Keeps the members of the array o[key] whose labels (at lkey) the key owns. */
static void keep_owned(dp_req_t *q, json_object *o, const char *key, const char *lkey)
{
    json_object *in = dp_json_get(o, key), *out;
    apr_size_t i;

    if (in == NULL || !json_object_is_type(in, json_type_array)) {
        return;
    }
    out = json_object_new_array();
    for (i = 0; i < json_object_array_length(in); ++i) {
        json_object *e = json_object_array_get_idx(in, i);
        if (dp_dk_owned(dp_json_get(e, lkey), dp_owner(q))) {
            json_object_array_add(out, json_object_get(e));
        }
    }
    json_object_object_add(o, key, out);
}

/* GET /system/df: Docker's answer for admin; for other keys only their own containers,
 * volumes and (labelled) images, no build cache and no host-wide layer total. */
static int system_df(dp_req_t *q)
{
    json_object *o = NULL;
    dp_problem_t *prob = NULL;

    if (dp_owner(q) == NULL) {
        return pass_through(q, "/system/df");
    }
    if (dp_engine_call(&o, NULL, &prob, q, "GET", "/system/df", NULL) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        return dp_fail(q, 502, "docker_bad_response", "the Docker engine's df answer is not an object");
    }
    keep_owned(q, o, "Containers", "Labels");
    keep_owned(q, o, "Volumes", "Labels");
    keep_owned(q, o, "Images", "Labels");
    json_object_object_add(o, "BuildCache", json_object_new_array());
    json_object_object_del(o, "LayersSize");
    return dp_send_json(q, 200, o);
}

/* POST /system/prune: the kinds asked for (docker system prune's defaults: images dangling
 * only), in the CLI's order; per-kind engine results and the total space_reclaimed. */
static int system_prune(dp_req_t *q)
{
    static const struct {
        const char *key, *path;
        int dflt;
    } kinds[] = {
        { "containers", "/containers/prune", 1 },
        { "networks", "/networks/prune", 1 },
        { "volumes", "/volumes/prune", 0 },
        { "images", "/images/prune?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D", 1 },
        { "build_cache", "/build/prune", 0 },
    };
    static const char *const fields[] = { "containers", "images", "volumes", "networks", "build_cache", NULL };
    json_object *body, *out;
    dp_problem_t *prob = NULL;
    apr_int64_t total = 0;
    const char *owner = dp_owner(q), *path;
    size_t i;

    q->target = "system";
    if (dp_read_json(&body, &prob, q, 1) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, fields) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
        int on = kinds[i].dflt;
        if (dp_json_field_bool(&on, &prob, q->pool, body, kinds[i].key, 0) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        if (on && owner && !strcmp(kinds[i].key, "build_cache")) {
            /* the build cache has no owner: only admin prunes it */
            prob = dp_problem_make(q->pool, 403, "policy_denied", "build_cache: only an admin key prunes the build cache");
            return dp_send_problem(q, dp_problem_add(prob, q->pool, "field", json_object_new_string("build_cache")));
        }
    }
    out = dp_json_object(q->pool);
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
        json_object *res = NULL;
        int on = kinds[i].dflt;

        dp_json_field_bool(&on, NULL, q->pool, body, kinds[i].key, 0);
        if (!on) {
            continue;
        }
        path = kinds[i].path;
        if (owner) {
            /* a non-admin key prunes only its own (label filter; images: its dangling ones) */
            json_object *f = dp_json_object(q->pool);
            dp_dk_owner_filters_add(f, q->pool, owner);
            if (!strcmp(kinds[i].key, "images")) {
                json_object *d = json_object_new_array();
                json_object_array_add(d, json_object_new_string("true"));
                json_object_object_add(f, "dangling", d);
                path = "/images/prune";
            }
            path = apr_pstrcat(q->pool, path, "?filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL);
        }
        if (dp_engine_call(&res, NULL, &prob, q, "POST", path, NULL) != APR_SUCCESS) {
            if (prob) {
                dp_problem_add(prob, q->pool, "done", json_object_get(out));
            }
            return dp_send_problem(q, prob);
        }
        total += dp_json_get_int(res, "SpaceReclaimed", 0);
        if (res) {
            dp_json_set_ref(out, kinds[i].key, res);
        }
        else {
            json_object_object_add(out, kinds[i].key, json_object_new_object());
        }
    }
    dp_json_set_int(out, "space_reclaimed", total);
    return dp_send_json(q, 200, out);
}

/* ------------------------------------------------------------------------------------------ */

const dp_handler_entry_t dp_engine_handlers[] = {
    { "images.list", dp_images_list },
    { "images.inspect", dp_images_inspect },
    { "images.pull", dp_images_pull },
    { "images.build", dp_images_build },
    { "images.delete", dp_images_delete },
    { "networks.list", networks_list },
    { "networks.inspect", networks_inspect },
    { "networks.create", networks_create },
    { "networks.delete", networks_delete },
    { "networks.connect", networks_connect },
    { "networks.disconnect", networks_disconnect },
    { "system.info", system_info },
    { "system.df", system_df },
    { "system.prune", system_prune },
    { "system.events", dp_system_events },
    { "compose.list", dp_compose_list },
    { "compose.inspect", dp_compose_inspect },
    { "compose.up", dp_compose_up },
    { "compose.down", dp_compose_down },
    { "compose.start", dp_compose_start },
    { "compose.stop", dp_compose_stop },
    { "compose.restart", dp_compose_restart },
    { NULL, NULL }
};
