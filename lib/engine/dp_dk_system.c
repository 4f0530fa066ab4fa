/* dp_dk_system: the system routes as core operations: info, df, prune (see dp_dk_ops.h). */
#include <string.h>
#include <apr_strings.h>

#include "dp_dk_ops.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_dk_misc.h"

/* Docker's /info. */
apr_status_t dp_dk_system_info(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c)
{
    return dp_dk_call(pout, NULL, pprob, c, "GET", "/info", NULL);
}

/* Keeps the members of the array o[key] whose labels (at lkey) the caller owns. */
static void keep_owned(dp_dk_ctx_t *c, json_object *o, const char *key, const char *lkey)
{
    json_object *in = dp_json_get(o, key), *out;
    apr_size_t i;

    if (in == NULL || !json_object_is_type(in, json_type_array)) {
        return;
    }
    out = json_object_new_array();
    for (i = 0; i < json_object_array_length(in); ++i) {
        json_object *e = json_object_array_get_idx(in, i);
        if (dp_dk_owned(dp_json_get(e, lkey), c->owner)) {
            json_object_array_add(out, json_object_get(e));
        }
    }
    json_object_object_add(o, key, out);
}

/* Docker's df; non-admin keys: only their own, no build cache, no host-wide layer total. */
apr_status_t dp_dk_system_df(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c)
{
    json_object *o = NULL;
    apr_status_t rv;

    if ((rv = dp_dk_call(&o, NULL, pprob, c, "GET", "/system/df", NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (c->owner == NULL) {
        *pout = o;
        return APR_SUCCESS;
    }
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        return dp_problem_fail(pprob, c->pool, 502, "docker_bad_response",
                               "the Docker engine's df answer is not an object");
    }
    keep_owned(c, o, "Containers", "Labels");
    keep_owned(c, o, "Volumes", "Labels");
    keep_owned(c, o, "Images", "Labels");
    json_object_object_add(o, "BuildCache", json_object_new_array());
    json_object_object_del(o, "LayersSize");
    *pout = o;
    return APR_SUCCESS;
}

/* Prunes the kinds asked for (docker system prune's defaults: images dangling only), in the
 * CLI's order; per-kind engine results and the total space_reclaimed. */
apr_status_t dp_dk_system_prune(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body)
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
    json_object *out;
    apr_int64_t total = 0;
    apr_pool_t *p = c->pool;
    const char *path;
    apr_status_t rv;
    size_t i;

    c->target = "system";
    if ((rv = dp_json_only_fields(pprob, p, body, fields)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
        int on = kinds[i].dflt;
        if ((rv = dp_json_field_bool(&on, pprob, p, body, kinds[i].key, 0)) != APR_SUCCESS) {
            return rv;
        }
        if (on && c->owner && !strcmp(kinds[i].key, "build_cache")) {
            /* the build cache has no owner: only admin prunes it */
            dp_problem_t *prob = dp_problem_make(p, 403, "policy_denied",
                                                 "build_cache: only an admin key prunes the build cache");
            *pprob = dp_problem_add(prob, p, "field", json_object_new_string("build_cache"));
            return DP_EPROBLEM;
        }
    }
    out = dp_json_object(p);
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
        json_object *res = NULL;
        int on = kinds[i].dflt;

        dp_json_field_bool(&on, NULL, p, body, kinds[i].key, 0);
        if (!on) {
            continue;
        }
        path = kinds[i].path;
        if (c->owner) {
            /* a non-admin key prunes only its own (label filter; images: its dangling ones) */
            json_object *f = dp_json_object(p);
            dp_dk_owner_filters_add(f, p, c->owner);
            if (!strcmp(kinds[i].key, "images")) {
                json_object *d = json_object_new_array();
                json_object_array_add(d, json_object_new_string("true"));
                json_object_object_add(f, "dangling", d);
                path = "/images/prune";
            }
            path = dp_dk_with_filters(p, path, "?", f);
        }
        if ((rv = dp_dk_call(&res, NULL, pprob, c, "POST", path, NULL)) != APR_SUCCESS) {
            if (*pprob) {
                dp_problem_add(*pprob, p, "done", json_object_get(out));
            }
            return rv;
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
    *pout = out;
    return APR_SUCCESS;
}

/* Docker's /version. */
apr_status_t dp_dk_system_version(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c)
{
    return dp_dk_call(pout, NULL, pprob, c, "GET", "/version", NULL);
}

/* Checks the events query and builds the engine request. */
apr_status_t dp_dk_events_begin(const char **ppath, dp_problem_t **pprob, dp_dk_ctx_t *c, apr_table_t *query)
{
    const char *since = apr_table_get(query, "since"), *until = apr_table_get(query, "until");
    const char *type = apr_table_get(query, "type"), *path = "/events?", *version;
    apr_pool_t *p = c->pool;

    if ((since && !dp_dk_event_time_ok(since)) || (until && !dp_dk_event_time_ok(until))) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "'since' and 'until' must be unix times, RFC 3339 times or durations");
    }
    if (type && !dp_dk_event_type_ok(type)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the query parameter 'type' is not an event type (container, image, ...)");
    }
    if (since) path = apr_pstrcat(p, path, "since=", dp_url_encode(p, since), "&", NULL);
    if (until) path = apr_pstrcat(p, path, "until=", dp_url_encode(p, until), "&", NULL);
    if (type || c->owner) {
        json_object *f = dp_json_object(p);
        if (type) {
            json_object *t = json_object_new_array();
            json_object_array_add(t, json_object_new_string(type));
            json_object_object_add(f, "type", t);
        }
        if (c->owner) {
            /* a non-admin key sees the events of its labelled objects (the engine matches the
             * label filter on the event's attributes: container and image events carry labels) */
            dp_dk_owner_filters_add(f, p, c->owner);
        }
        path = dp_dk_with_filters(p, path, "", f);
    }
    *ppath = path;
    /* an unreachable engine is a plain 503 before any output */
    return dp_docker_version(&version, pprob, c->docker, p);
}

/* The problem of an engine error answer line, or NULL for an event. */
dp_problem_t *dp_dk_events_error(apr_pool_t *p, json_tokener *tok, const char *line, apr_size_t len)
{
    json_object *o;
    dp_problem_t *prob = NULL;

    json_tokener_reset(tok);
    o = json_tokener_parse_ex(tok, line, (int)len);
    if (o && json_object_is_type(o, json_type_object) && dp_json_get_str(o, "message")
        && dp_json_get(o, "Type") == NULL) {
        prob = dp_problem_make(p, 502, "docker_error", "Docker: %s", dp_json_get_str(o, "message"));
    }
    json_object_put(o);
    return prob;
}
