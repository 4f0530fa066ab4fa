/* dp_json: JSON for the API: pool-owned values (dp_json_value.h), a strict parser and typed field
 * readers (with problems). */
#ifndef DP_JSON_H
#define DP_JSON_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_json_value.h"
#include "dp_problem.h"

/* Deepest nesting the parser accepts. */
#define DP_JSON_MAX_DEPTH 32

/* Parses len bytes strictly (RFC 8259, UTF-8, no NUL, no duplicate keys, depth cap) into a
 * value owned by p; on failure a 400 problem naming the line and column. */
apr_status_t dp_json_parse(json_object **pobj, dp_problem_t **pprob, apr_pool_t *p,
                           const char *data, apr_size_t len);

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
