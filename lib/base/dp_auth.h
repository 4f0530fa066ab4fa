/* dp_auth: API keys (name + SHA-256 hash + scopes) read from a key file. */
#ifndef DP_AUTH_H
#define DP_AUTH_H

#include <apr_pools.h>

/* Scopes a key can hold; admin implies all. */
#define DP_SCOPE_DOCKER_READ    0x01
#define DP_SCOPE_DOCKER_WRITE   0x02
#define DP_SCOPE_PAYMENTS_READ  0x04
#define DP_SCOPE_PAYMENTS_WRITE 0x08
#define DP_SCOPE_ADMIN          0x10
#define DP_SCOPE_NONE           0x00  /* route needs no key */

/* A quota value not given on the key's line (the server's default applies). */
#define DP_QUOTA_UNSET (-1)

/* Per-key quotas: each DP_QUOTA_UNSET, 0 (unlimited) or the limit; memory in bytes, nanocpus
 * in billionths of a CPU (Docker's HostConfig.NanoCpus). */
typedef struct dp_quota_t {
    apr_int64_t containers;
    apr_int64_t memory;
    apr_int64_t nanocpus;
    apr_int64_t volumes;
} dp_quota_t;

typedef struct dp_key_t {
    const char *name;          /* the key's name (logged and audited; never the key); a safe
                                * label value ([A-Za-z0-9._:-], at most 64) */
    unsigned char hash[32];    /* SHA-256 of the key */
    unsigned scopes;           /* DP_SCOPE_* bits */
    dp_quota_t quota;          /* quotas given on the key's line, the rest DP_QUOTA_UNSET */
} dp_key_t;

typedef struct dp_keyring_t dp_keyring_t;

/* Reads the key file at path into p: lines "NAME sha256:HEX SCOPE[,SCOPE] [containers=N]
 * [memory=SIZE] [cpus=N] [volumes=N]" (scopes separated by commas or spaces, quota items in
 * any order after them), '#' comments; on a bad line *perr (in p) names the line and
 * APR_EINVAL is returned. */
apr_status_t dp_keyring_load(dp_keyring_t **pkr, const char **perr, apr_pool_t *p, const char *path);

/* Returns the key whose hash matches token (every entry compared in constant time), or NULL. */
const dp_key_t *dp_keyring_lookup(const dp_keyring_t *kr, const char *token, apr_size_t len);

/* Returns the number of keys in kr. */
int dp_keyring_count(const dp_keyring_t *kr);

/* Parses "docker:read,payments:write" (commas or spaces) into *pscopes; APR_EINVAL on an unknown scope. */
apr_status_t dp_scopes_parse(unsigned *pscopes, const char *s);

/* True when a key with scopes may use a route needing need (admin implies all). */
int dp_scopes_allow(unsigned scopes, unsigned need);

/* Returns the scopes as "docker:read docker:write ...", in p. */
const char *dp_scopes_str(apr_pool_t *p, unsigned scopes);

/* Writes the 64 hex digits (plus NUL) of SHA-256(data) to out. */
void dp_sha256_hex(char out[65], const void *data, apr_size_t len);

/* Parses one quota item into q: containers=N, volumes=N (counts), memory=SIZE ("512m", "2g",
 * bytes), cpus=N (decimal, at most 9 fraction digits); the value "unlimited" or 0 means no
 * limit. APR_EINVAL for anything else. */
apr_status_t dp_quota_parse_item(dp_quota_t *q, const char *item);

/* Sets every member of q to DP_QUOTA_UNSET. */
void dp_quota_unset(dp_quota_t *q);

/* Mints a random key: *ptoken is the secret to hand out, *pline the key-file line to add;
 * quotas (NULL or "containers=2 memory=1g ...", checked with dp_quota_parse_item) end the line. */
apr_status_t dp_key_mint(const char **ptoken, const char **pline, apr_pool_t *p,
                         const char *name, const char *scopes, const char *quotas);

#endif
