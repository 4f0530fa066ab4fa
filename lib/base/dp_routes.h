/* dp_routes: the API's route table (the contract of docs/api.md, mirrored by openapi.json). */
#ifndef DP_ROUTES_H
#define DP_ROUTES_H

#include "dp_router.h"
#include "dp_auth.h"   /* DP_SCOPE_* */

/* The route table and its length. */
extern const dp_route_t dp_routes[];
extern const apr_size_t dp_routes_count;

#endif
