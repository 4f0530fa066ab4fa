/* dp_util: small helpers shared by the core library (no httpd headers here). */
#ifndef DP_UTIL_H
#define DP_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>

/* A lib call failed with an HTTP-mappable problem (see dp_problem.h). */
#define DP_EPROBLEM (APR_OS_START_USERERR + 1)
/* A route matched the path but not the method. */
#define DP_EMETHOD  (APR_OS_START_USERERR + 2)

/* Fills out with 2*n lowercase hex digits of n random bytes; out must hold 2n+1 chars. */
apr_status_t dp_random_hex(char *out, apr_size_t n);

/* True when s is 1..maxlen characters of [A-Za-z0-9._:-] and not "." or ".." (tokens end up as
 * URL path segments, where dot segments would be collapsed). */
int dp_is_safe_token(const char *s, apr_size_t maxlen);

/* Parses the query string args (raw, %-encoded) into a new table in p; NULL args gives an empty table. */
apr_table_t *dp_parse_query(apr_pool_t *p, const char *args);

/* Decodes %XX and '+' of a form/query component into a new string in p; NULL if malformed or has NUL. */
char *dp_url_decode(apr_pool_t *p, const char *s, apr_size_t len);

/* Returns s %-encoded for use in a URL path segment or query value, in p. */
char *dp_url_encode(apr_pool_t *p, const char *s);

/* Like dp_url_encode, but also keeps the characters in keep unencoded (e.g. "/:@"). */
char *dp_url_encode_keep(apr_pool_t *p, const char *s, const char *keep);

/* Parses a decimal integer in [min,max]; APR_EINVAL if s is not entirely such a number. */
apr_status_t dp_parse_int(apr_int64_t *pval, const char *s, apr_int64_t min, apr_int64_t max);

/* Parses "true/false/1/0/yes/no" (case-insensitive); APR_EINVAL otherwise. */
apr_status_t dp_parse_bool(int *pval, const char *s);

/* True when the len bytes at s are valid UTF-8 without NUL bytes. */
int dp_utf8_valid(const char *s, apr_size_t len);

/* Returns a copy of s (NULL: "") fit for a text column or log line: invalid UTF-8 bytes and
 * control characters become '?', cut to at most maxbytes on a character boundary. */
char *dp_str_clean(apr_pool_t *p, const char *s, apr_size_t maxbytes);

/* Parses a size ("256m", "1g", "1.5G", "512kb", "1048576"; k/m/g/t are powers of 1024, an
 * optional trailing b) into bytes, at most 2^62; APR_EINVAL otherwise. */
apr_status_t dp_parse_size(apr_int64_t *pbytes, const char *s);

/* Returns "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (in p) of a UTC DATETIME string "YYYY-MM-DD HH:MM:SS
 * [.ffffff]" as MariaDB gives it; NULL stays NULL. */
const char *dp_iso_datetime(apr_pool_t *p, const char *dt);

#endif
