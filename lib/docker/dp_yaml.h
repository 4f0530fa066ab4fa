/* dp_yaml: YAML text (the first document) into json-c, bounded, for the compose checks. */
#ifndef DP_YAML_H
#define DP_YAML_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_problem.h"

#define DP_YAML_MAX_INPUT   (256 * 1024)        /* bytes of YAML text */
#define DP_YAML_MAX_DEPTH   64                  /* nesting of sequences and mappings */
#define DP_YAML_MAX_NODES   20000               /* nodes of the result, aliases expanded */
#define DP_YAML_MAX_TEXT    (2 * 1024 * 1024)   /* bytes of scalars and keys, aliases expanded */

/* Converts the first YAML document of text into *pout (owned by p; NULL for an empty or null
 * document). Aliases are expanded (copied) within the node/text bounds above; merge keys "<<"
 * (a mapping or a sequence of mappings) are applied, explicit keys winning; plain scalars
 * resolve as YAML 1.1 does for null, booleans (true/yes/on...), decimal/0x/0o integers and
 * floats, everything else is a string. Refused (422): syntax errors ("invalid_yaml", naming
 * line and column), duplicate or non-scalar keys, unknown aliases, tags other than the core
 * ones (!!str !!int !!float !!bool !!null !!map !!seq and "!"), input over the bounds
 * ("yaml_too_complex"). */
apr_status_t dp_yaml_parse(json_object **pout, dp_problem_t **pprob, apr_pool_t *p, const char *text,
                           apr_size_t len);

#endif
