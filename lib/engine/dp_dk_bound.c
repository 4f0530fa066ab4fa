/* dp_dk_bound: the containers a billing binding stands for (a container, or a compose project's
 * containers) and the actions the billing enforcer applies to them. Bindings are plain
 * (kind, object) pairs here: the billing layer decides, this file acts on the engine. */
#include <string.h>
#include <apr_strings.h>

#include "dp_dk_ops.h"
#include "dp_dk_compose.h"
#include "dp_docker.h"
#include "dp_json.h"
#include "dp_util.h"

/* The containers of binding (kind, object); see dp_dk_ops.h. */
apr_status_t dp_dk_bound_list(json_object **plist, dp_problem_t **pprob, dp_docker_t *docker, apr_pool_t *p,
                              const char *kind, const char *object)
{
    json_object *list = dp_json_array(p), *one = NULL, *f, *a;
    const char *path;
    int status = 0;
    apr_status_t rv;

    *plist = list;
    if (!strcmp(kind, "container")) {
        rv = dp_docker_call(&one, &status, pprob, docker, p, "GET",
                            apr_pstrcat(p, "/containers/", dp_url_encode(p, object), "/json", NULL), NULL);
        if (rv != APR_SUCCESS) {
            if (status == 404 && pprob) {
                *pprob = NULL;
            }
            return status == 404 ? APR_SUCCESS : rv;
        }
        if (one) {
            json_object_array_add(list, json_object_get(one));
        }
        return APR_SUCCESS;
    }
    f = dp_json_object(p);
    a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(apr_pstrcat(p, DP_DK_COMPOSE_LABEL_PROJECT, "=", object, NULL)));
    json_object_object_add(f, "label", a);
    path = apr_pstrcat(p, "/containers/json?all=1&filters=", dp_url_encode(p, dp_json_str(p, f)), NULL);
    if ((rv = dp_docker_call(&one, NULL, pprob, docker, p, "GET", path, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (one && json_object_is_type(one, json_type_array)) {
        *plist = one;
    }
    return APR_SUCCESS;
}

/* The engine state of a container object (inspect: State.Status; list: State). */
const char *dp_dk_container_state(json_object *c)
{
    json_object *st = dp_json_get(c, "State");

    if (st && json_object_is_type(st, json_type_object)) {
        return dp_json_get_str(st, "Status");
    }
    return st ? json_object_get_string(st) : NULL;
}

/* Applies verb to the containers of binding (kind, object); see dp_dk_ops.h. */
apr_status_t dp_dk_bound_act(int *pcount, dp_problem_t **pprob, dp_docker_t *docker, apr_pool_t *p,
                             const char *kind, const char *object, const char *verb)
{
    json_object *cs = NULL;
    apr_size_t j;
    apr_status_t rv;

    if (strcmp(verb, "stop") && strcmp(verb, "pause") && strcmp(verb, "start") && strcmp(verb, "unpause")) {
        return dp_problem_fail(pprob, p, 500, "internal_error", "no such enforcement action: %s", verb);
    }
    if ((rv = dp_dk_bound_list(&cs, pprob, docker, p, kind, object)) != APR_SUCCESS) {
        return rv;
    }
    for (j = 0; j < json_object_array_length(cs); ++j) {
        json_object *c = json_object_array_get_idx(cs, j);
        const char *id = dp_json_get_str(c, "Id"), *st = dp_dk_container_state(c);
        dp_problem_t *prob = NULL;
        int status = 0;

        if (id == NULL) {
            continue;
        }
        /* pause only what runs; unpause only what is paused; start what is not running */
        if ((!strcmp(verb, "pause") && st && strcmp(st, "running"))
            || (!strcmp(verb, "unpause") && st && strcmp(st, "paused"))
            || (!strcmp(verb, "start") && st && (!strcmp(st, "running") || !strcmp(st, "paused")))
            || (!strcmp(verb, "stop") && st && strcmp(st, "running") && strcmp(st, "paused")
                && strcmp(st, "restarting"))) {
            continue;
        }
        rv = dp_docker_call(NULL, &status, &prob, docker, p, "POST",
                            apr_pstrcat(p, "/containers/", dp_url_encode(p, id), "/", verb,
                                        !strcmp(verb, "stop") ? "?t=10" : "", NULL), NULL);
        if (rv != APR_SUCCESS && status != 404 && status != 409) {
            if (pprob) {
                *pprob = prob;
            }
            return rv;
        }
        if (rv == APR_SUCCESS && status != 304) {
            ++*pcount;
        }
    }
    return APR_SUCCESS;
}
