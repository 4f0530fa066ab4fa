/* dp_conf: the server configuration, generated from the directive table handlers/dp_conf.def
 * (field, type, parser, default, range and help of every Dockpay* directive, listed once). */
#ifndef DP_CONF_H
#define DP_CONF_H

#include <httpd.h>
#include <http_config.h>
#include <apr_tables.h>

#define DP_UNSET (-1)

/* A DEFAULT MAX pair (DockpayMemoryLimit, DockpayCpuLimit, DockpayPidsLimit). */
typedef struct dp_conf_limit_t {
    apr_int64_t dflt;
    apr_int64_t max;
} dp_conf_limit_t;

/* The C type of a field per TYPE of the table. */
#define DP_CONF_CTYPE_FLAG  int
#define DP_CONF_CTYPE_INT   int
#define DP_CONF_CTYPE_SECS  int
#define DP_CONF_CTYPE_ENUM  int
#define DP_CONF_CTYPE_SIZE  apr_off_t
#define DP_CONF_CTYPE_STR   const char *
#define DP_CONF_CTYPE_PATH  const char *
#define DP_CONF_CTYPE_LIST  apr_array_header_t *
#define DP_CONF_CTYPE_BITS  int
#define DP_CONF_CTYPE_LIMIT dp_conf_limit_t
#define DP_CONF_CTYPE_QUOTA apr_int64_t

/* Server configuration: one field per row of dp_conf.def (the row's comment there says what it
 * holds). Every field starts unset (DP_UNSET / NULL) and is merged field by field; post_config
 * applies the table's defaults (dp_conf_apply_defaults), after which code reads fields directly.
 * Runtime state is not here: see dp_proc_t (dp_glue.h). */
typedef struct dp_conf_t {
#define DP_CONF(name, field, type, parser, dflt, min, max, ctx, help, doc) DP_CONF_CTYPE_##type field;
#include "dp_conf.def"
#undef DP_CONF
} dp_conf_t;

struct dp_conf_row_t;

/* Checks the arguments a1 (and a2 for TAKE2 rows; NULL otherwise) of one use of row's
 * directive and stores them in c; returns NULL or the error apachectl -t prints. */
typedef const char *dp_conf_parse_fn(dp_conf_t *c, apr_pool_t *p, const struct dp_conf_row_t *row,
                                     const char *a1, const char *a2);

/* One row of the table at run time. */
typedef struct dp_conf_row_t {
    const char *name;               /* the directive */
    apr_size_t offset;              /* offsetof(dp_conf_t, field) */
    int type;                       /* DP_CONF_T_* */
    dp_conf_parse_fn *parse;
    const char *dflt;               /* the default as directive arguments, or NULL */
    apr_int64_t min, max;           /* INT and SIZE */
} dp_conf_row_t;

enum { DP_CONF_T_FLAG, DP_CONF_T_INT, DP_CONF_T_SECS, DP_CONF_T_ENUM, DP_CONF_T_SIZE, DP_CONF_T_STR, DP_CONF_T_PATH, DP_CONF_T_LIST,
       DP_CONF_T_BITS, DP_CONF_T_LIMIT, DP_CONF_T_QUOTA };

/* The rows, in table order, ending with a NULL name. */
extern const dp_conf_row_t dp_conf_rows[];

/* The directives (for the module record). */
extern const command_rec dp_conf_cmds[];

/* Generic parsers the table names (see dp_conf.def). */
dp_conf_parse_fn dp_conf_parse_flag, dp_conf_parse_int, dp_conf_parse_size, dp_conf_parse_str,
                 dp_conf_parse_path, dp_conf_parse_secs;

/* Returns a configuration with every field unset (create_server_config). */
void *dp_conf_create(apr_pool_t *p, server_rec *s);

/* Returns add over base, field by field (merge_server_config). */
void *dp_conf_merge(apr_pool_t *p, void *basev, void *addv);

/* Gives every unset field with a default its default, parsed by the row's own parser; returns
 * NULL or the error (a bad default in the table). */
const char *dp_conf_apply_defaults(dp_conf_t *c, apr_pool_t *p);

#endif
