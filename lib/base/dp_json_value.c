/* dp_json_value: json-c values owned by APR pools, getters and setters. */
#include <string.h>
#include <apr_strings.h>

#include "dp_json_value.h"

static apr_status_t json_put_cleanup(void *data)
{
    json_object_put((json_object *)data);
    return APR_SUCCESS;
}

/* Hands the reference of obj to p and returns obj. */
json_object *dp_json_own(apr_pool_t *p, json_object *obj)
{
    if (obj) {
        apr_pool_cleanup_register(p, obj, json_put_cleanup, apr_pool_cleanup_null);
    }
    return obj;
}

/* Returns a new empty object owned by p. */
json_object *dp_json_object(apr_pool_t *p)
{
    return dp_json_own(p, json_object_new_object());
}

/* Returns a new empty array owned by p. */
json_object *dp_json_array(apr_pool_t *p)
{
    return dp_json_own(p, json_object_new_array());
}

/* Serialises obj compactly into a string allocated in p. */
const char *dp_json_str(apr_pool_t *p, json_object *obj)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN
                                                      | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    return apr_pstrmemdup(p, s, len);
}

/* ------------------------------------------------------------------------------------------ */
/* getters and setters */

/* Returns the member key of object o (borrowed), or NULL. */
json_object *dp_json_get(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        return NULL;
    }
    if (!json_object_object_get_ex(o, key, &v)) {
        return NULL;
    }
    return v;
}

/* Returns member key as a string when it is one, else NULL. */
const char *dp_json_get_str(json_object *o, const char *key)
{
    json_object *v = dp_json_get(o, key);
    return (v && json_object_is_type(v, json_type_string)) ? json_object_get_string(v) : NULL;
}

/* Returns member key as an int64 when it is an integer, else dflt. */
apr_int64_t dp_json_get_int(json_object *o, const char *key, apr_int64_t dflt)
{
    json_object *v = dp_json_get(o, key);
    return (v && json_object_is_type(v, json_type_int)) ? (apr_int64_t)json_object_get_int64(v) : dflt;
}

/* Returns member key as a boolean when it is one, else dflt. */
int dp_json_get_bool(json_object *o, const char *key, int dflt)
{
    json_object *v = dp_json_get(o, key);
    return (v && json_object_is_type(v, json_type_boolean)) ? json_object_get_boolean(v) : dflt;
}

/* Adds a string member (skipped when val is NULL). */
void dp_json_set_str(json_object *o, const char *key, const char *val)
{
    if (val) {
        json_object_object_add(o, key, json_object_new_string(val));
    }
}

/* Adds an int64 member. */
void dp_json_set_int(json_object *o, const char *key, apr_int64_t val)
{
    json_object_object_add(o, key, json_object_new_int64((int64_t)val));
}

/* Adds a borrowed value as a member, taking a new reference. */
void dp_json_set_ref(json_object *o, const char *key, json_object *val)
{
    json_object_object_add(o, key, json_object_get(val));
}
