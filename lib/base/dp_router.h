/* dp_router: matches (method, path) against a table of routes with {param} and {param+} segments. */
#ifndef DP_ROUTER_H
#define DP_ROUTER_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "dp_util.h"

typedef struct dp_route_t {
    const char *method;   /* "GET", "POST", "DELETE" */
    const char *pattern;  /* "/containers/{id}/logs"; a last segment "{name+}" takes the rest */
    unsigned scope;       /* DP_SCOPE_* (dp_auth.h) the key needs, or DP_SCOPE_NONE */
    const char *id;       /* handler name, e.g. "containers.logs" */
} dp_route_t;

/* Finds the route for method and path (below the mount point). On APR_SUCCESS *proute is set
 * and *pparams holds the decoded parameters; APR_NOTFOUND when no pattern matches the path;
 * DP_EMETHOD when patterns match but not the method, with *pallow listing the methods. */
apr_status_t dp_router_match(const dp_route_t **proute, apr_table_t **pparams, const char **pallow,
                             const dp_route_t *table, apr_size_t n, apr_pool_t *p,
                             const char *method, const char *path);

#endif
