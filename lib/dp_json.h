/* dp_json: json-c values owned by APR pools, a strict parser, and typed field readers. */
#ifndef DP_JSON_H
#define DP_JSON_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_problem.h"

/* Deepest nesting the parser accepts. */
#define DP_JSON_MAX_DEPTH 32

/* Ownership: a root value is owned by a pool (json_object_put runs in the pool's cleanup).
 * Values reached through getters are borrowed; adding a borrowed value into another
 * container needs json_object_get() first. */

/* Hands the reference of obj to p and returns obj (NULL stays NULL). */
json_object *dp_json_own(apr_pool_t *p, json_object *obj);

/* Returns a new empty object owned by p. */
json_object *dp_json_object(apr_pool_t *p);

/* Returns a new empty array owned by p. */
json_object *dp_json_array(apr_pool_t *p);

/* Parses len bytes strictly (RFC 8259, UTF-8, no NUL, no duplicate keys, depth cap) into a
 * value owned by p; on failure a 400 problem naming the line and column. */
apr_status_t dp_json_parse(json_object **pobj, dp_problem_t **pprob, apr_pool_t *p,
                           const char *data, apr_size_t len);

/* Serialises obj compactly into a string allocated in p. */
const char *dp_json_str(apr_pool_t *p, json_object *obj);

/* Returns the member key of object o (borrowed), or NULL when absent, null or o is no object. */
json_object *dp_json_get(json_object *o, const char *key);

/* Returns member key as a string when it is one, else NULL. */
const char *dp_json_get_str(json_object *o, const char *key);

/* Returns member key as an int64 when it is an integer, else dflt. */
apr_int64_t dp_json_get_int(json_object *o, const char *key, apr_int64_t dflt);

/* Returns member key as a boolean when it is one, else dflt. */
int dp_json_get_bool(json_object *o, const char *key, int dflt);

/* Adds a string member (skipped when val is NULL). */
void dp_json_set_str(json_object *o, const char *key, const char *val);

/* Adds an int64 member. */
void dp_json_set_int(json_object *o, const char *key, apr_int64_t val);

/* Adds a borrowed value as a member, taking a new reference. */
void dp_json_set_ref(json_object *o, const char *key, json_object *val);

/* Field readers for request bodies. A wrong type or a missing required field is a 400 naming
 * the field; an out-of-range value is a 422. *pval is left untouched when the field is absent. */

/* Reads string field key (1..maxlen bytes, no control characters). */
apr_status_t dp_json_field_str(const char **pval, dp_problem_t **pprob, apr_pool_t *p,
                               json_object *o, const char *key, int required, apr_size_t maxlen);

/* Reads integer field key in [min,max]; a fractional number is a 422. */
apr_status_t dp_json_field_int(apr_int64_t *pval, dp_problem_t **pprob, apr_pool_t *p,
                               json_object *o, const char *key, int required,
                               apr_int64_t min, apr_int64_t max);

/* Reads boolean field key. */
apr_status_t dp_json_field_bool(int *pval, dp_problem_t **pprob, apr_pool_t *p,
                                json_object *o, const char *key, int required);

/* Reads boolean query parameter name of query (absent: dflt; "?name" alone: true); another
 * value than true/false/1/0... is a 400 bad_query naming it. */
apr_status_t dp_query_field_bool(int *pval, dp_problem_t **pprob, apr_pool_t *p, apr_table_t *query,
                                 const char *name, int dflt);

/* Reads integer query parameter name of query in [min,max] (absent: dflt); 400 bad_query. */
apr_status_t dp_query_field_int(apr_int64_t *pval, dp_problem_t **pprob, apr_pool_t *p, apr_table_t *query,
                                const char *name, apr_int64_t dflt, apr_int64_t min, apr_int64_t max);

/* Refuses any member of o whose name is not in the NULL-terminated list allowed (400). */
apr_status_t dp_json_only_fields(dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                                 const char *const *allowed);

#endif
