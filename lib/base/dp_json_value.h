/* dp_json_value: json-c values owned by APR pools, getters and setters (no problems: the layer
 * below dp_problem; dp_json.h adds the parser and the field readers). */
#ifndef DP_JSON_VALUE_H
#define DP_JSON_VALUE_H

#include <apr_pools.h>
#include <json-c/json.h>

/* Ownership: a root value is owned by a pool (json_object_put runs in the pool's cleanup).
 * Values reached through getters are borrowed; adding a borrowed value into another
 * container needs json_object_get() first. */

/* Hands the reference of obj to p and returns obj (NULL stays NULL). */
json_object *dp_json_own(apr_pool_t *p, json_object *obj);

/* Returns a new empty object owned by p. */
json_object *dp_json_object(apr_pool_t *p);

/* Returns a new empty array owned by p. */
json_object *dp_json_array(apr_pool_t *p);

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

#endif
