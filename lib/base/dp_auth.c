/* dp_auth: API keys read from a key file; hashes compared in constant time. */
#include <string.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_lib.h>

#include "dp_auth.h"
#include "dp_util.h"

struct dp_keyring_t {
    apr_array_header_t *keys;  /* of dp_key_t */
};

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    { "docker:read", DP_SCOPE_DOCKER_READ },
    { "docker:write", DP_SCOPE_DOCKER_WRITE },
    { "payments:read", DP_SCOPE_PAYMENTS_READ },
    { "payments:write", DP_SCOPE_PAYMENTS_WRITE },
    { "admin", DP_SCOPE_ADMIN },
};

/* Parses scope names separated by commas or spaces. */
apr_status_t dp_scopes_parse(unsigned *pscopes, const char *s)
{
    unsigned scopes = 0;

    while (s && *s) {
        apr_size_t n, i;
        int found = 0;
        while (*s == ',' || *s == ' ' || *s == '\t') ++s;
        n = strcspn(s, ", \t");
        if (n == 0) {
            break;
        }
        for (i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); ++i) {
            if (strlen(scope_names[i].name) == n && !strncmp(s, scope_names[i].name, n)) {
                scopes |= scope_names[i].bit;
                found = 1;
            }
        }
        if (!found) {
            return APR_EINVAL;
        }
        s += n;
    }
    *pscopes = scopes;
    return APR_SUCCESS;
}

/* True when a key with scopes may use a route needing need. */
int dp_scopes_allow(unsigned scopes, unsigned need)
{
    if (scopes & DP_SCOPE_ADMIN) {
        return 1;
    }
    return (scopes & need) == need;
}

/* Returns the scopes as a space-separated list. */
const char *dp_scopes_str(apr_pool_t *p, unsigned scopes)
{
    const char *out = "";
    apr_size_t i;

    for (i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); ++i) {
        if (scopes & scope_names[i].bit) {
            out = *out ? apr_pstrcat(p, out, " ", scope_names[i].name, NULL) : scope_names[i].name;
        }
    }
    return out;
}

/* Writes the hex SHA-256 of data to out. */
void dp_sha256_hex(char out[65], const void *data, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    int i;

    SHA256((const unsigned char *)data, len, md);
    for (i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
}

static int unhex32(unsigned char out[32], const char *s)
{
    int i;

    for (i = 0; i < 64; ++i) {
        int c = s[i], v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return 0;
        if (i % 2 == 0) out[i / 2] = (unsigned char)(v << 4);
        else out[i / 2] |= (unsigned char)v;
    }
    return s[64] == '\0';
}

/* Sets every member of q to DP_QUOTA_UNSET. */
void dp_quota_unset(dp_quota_t *q)
{
    q->containers = q->memory = q->nanocpus = q->volumes = DP_QUOTA_UNSET;
}

/* Parses a count 0..1000000 (all digits). */
static apr_status_t parse_count(apr_int64_t *pv, const char *s)
{
    apr_int64_t v = 0;
    apr_size_t i;

    for (i = 0; s[i]; ++i) {
        if (!apr_isdigit(s[i]) || i >= 7) {
            return APR_EINVAL;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || v > 1000000) {
        return APR_EINVAL;
    }
    *pv = v;
    return APR_SUCCESS;
}

/* Parses a CPU count "2", "0.5", "1.25" (at most 9 fraction digits, at most 1024) in nanocpus. */
static apr_status_t parse_cpus(apr_int64_t *pv, const char *s)
{
    apr_int64_t whole = 0, frac = 0;
    apr_size_t i = 0, nd = 0, nf = 0;

    for (; apr_isdigit(s[i]) && nd < 5; ++i, ++nd) {
        whole = whole * 10 + (s[i] - '0');
    }
    if (nd == 0) {
        return APR_EINVAL;
    }
    if (s[i] == '.') {
        for (++i; apr_isdigit(s[i]) && nf < 9; ++i, ++nf) {
            frac = frac * 10 + (s[i] - '0');
        }
        if (nf == 0) {
            return APR_EINVAL;
        }
    }
    if (s[i] != '\0' || whole > 1024) {
        return APR_EINVAL;
    }
    for (; nf < 9; ++nf) {
        frac *= 10;
    }
    *pv = whole * 1000000000 + frac;
    return *pv <= APR_INT64_C(1024000000000) ? APR_SUCCESS : APR_EINVAL;
}

/* Parses one quota item into q. */
apr_status_t dp_quota_parse_item(dp_quota_t *q, const char *item)
{
    const char *eq = item ? strchr(item, '=') : NULL;
    const char *v;
    apr_size_t n;
    apr_int64_t val = 0, *dst;
    apr_status_t rv = APR_SUCCESS;

    if (eq == NULL || eq[1] == '\0') {
        return APR_EINVAL;
    }
    n = (apr_size_t)(eq - item);
    v = eq + 1;
    if (n == 10 && !strncmp(item, "containers", n)) dst = &q->containers;
    else if (n == 7 && !strncmp(item, "volumes", n)) dst = &q->volumes;
    else if (n == 6 && !strncmp(item, "memory", n)) dst = &q->memory;
    else if (n == 4 && !strncmp(item, "cpus", n)) dst = &q->nanocpus;
    else return APR_EINVAL;
    if (strcmp(v, "unlimited")) {
        rv = dst == &q->memory ? dp_parse_size(&val, v)
           : dst == &q->nanocpus ? parse_cpus(&val, v) : parse_count(&val, v);
    }
    if (rv == APR_SUCCESS) {
        *dst = val;
    }
    return rv;
}

/* Splits the rest of a key line into scopes and quota items. */
static apr_status_t parse_rest(unsigned *pscopes, dp_quota_t *q, apr_pool_t *p, char *rest)
{
    char *last = NULL, *tok;
    const char *scopes = "";

    dp_quota_unset(q);
    for (tok = apr_strtok(rest, " \t\r\n", &last); tok; tok = apr_strtok(NULL, " \t\r\n", &last)) {
        if (strchr(tok, '=')) {
            if (dp_quota_parse_item(q, tok) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        else {
            scopes = apr_pstrcat(p, scopes, " ", tok, NULL);
        }
    }
    return dp_scopes_parse(pscopes, scopes);
}

/* Reads the key file at path into p. */
apr_status_t dp_keyring_load(dp_keyring_t **pkr, const char **perr, apr_pool_t *p, const char *path)
{
    apr_file_t *f = NULL;
    apr_status_t rv;
    char line[1024];
    int lineno = 0;
    dp_keyring_t *kr = apr_pcalloc(p, sizeof(*kr));

    kr->keys = apr_array_make(p, 8, sizeof(dp_key_t));
    *perr = NULL;
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot open the key file %s", path);
        return rv;
    }
    while (apr_file_gets(line, sizeof(line), f) == APR_SUCCESS) {
        char *last = NULL, *name, *hash, *scopes;
        dp_key_t *k;

        ++lineno;
        if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line)) {
            continue;
        }
        name = apr_strtok(line, " \t\r\n", &last);
        hash = apr_strtok(NULL, " \t\r\n", &last);
        scopes = apr_strtok(NULL, "\r\n", &last);
        k = apr_array_push(kr->keys);
        if (!dp_is_safe_token(name, 64) || hash == NULL || strncmp(hash, "sha256:", 7) != 0
            || !unhex32(k->hash, hash + 7) || scopes == NULL
            || parse_rest(&k->scopes, &k->quota, p, scopes) != APR_SUCCESS || k->scopes == 0) {
            *perr = apr_psprintf(p, "%s line %d: expected 'NAME sha256:<64 hex> SCOPE[,SCOPE] "
                                 "[containers=N] [memory=SIZE] [cpus=N] [volumes=N]' "
                                 "with scopes from docker:read docker:write payments:read "
                                 "payments:write admin", path, lineno);
            rv = APR_EINVAL;
            goto leave;
        }
        k->name = apr_pstrdup(p, name);
    }
    *pkr = kr;
leave:
    apr_file_close(f);
    return rv;
}

/* Returns the key whose hash matches token, comparing every entry. */
const dp_key_t *dp_keyring_lookup(const dp_keyring_t *kr, const char *token, apr_size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    const dp_key_t *found = NULL;
    int i;

    if (kr == NULL || token == NULL) {
        return NULL;
    }
    SHA256((const unsigned char *)token, len, md);
    for (i = 0; i < kr->keys->nelts; ++i) {
        const dp_key_t *k = &APR_ARRAY_IDX(kr->keys, i, dp_key_t);
        if (CRYPTO_memcmp(md, k->hash, sizeof(md)) == 0 && found == NULL) {
            found = k;
        }
    }
    OPENSSL_cleanse(md, sizeof(md));
    return found;
}

/* Returns the number of keys in kr. */
int dp_keyring_count(const dp_keyring_t *kr)
{
    return kr ? kr->keys->nelts : 0;
}

/* Mints a random key and its key-file line. */
apr_status_t dp_key_mint(const char **ptoken, const char **pline, apr_pool_t *p,
                         const char *name, const char *scopes, const char *quotas)
{
    char rnd[65], hash[65];
    unsigned bits;
    const char *token, *qline = "";
    apr_status_t rv;

    if (!dp_is_safe_token(name, 64)) {
        return APR_EINVAL;
    }
    if (quotas) {
        char *last = NULL, *tok, *copy = apr_pstrdup(p, quotas);
        dp_quota_t q;
        dp_quota_unset(&q);
        for (tok = apr_strtok(copy, " \t,", &last); tok; tok = apr_strtok(NULL, " \t,", &last)) {
            if (dp_quota_parse_item(&q, tok) != APR_SUCCESS) {
                return APR_EINVAL;
            }
            qline = apr_pstrcat(p, qline, " ", tok, NULL);
        }
    }
    if ((rv = dp_scopes_parse(&bits, scopes)) != APR_SUCCESS || bits == 0) {
        return APR_EINVAL;
    }
    if ((rv = dp_random_hex(rnd, 32)) != APR_SUCCESS) {
        return rv;
    }
    token = apr_pstrcat(p, "dpk_", rnd, NULL);
    dp_sha256_hex(hash, token, strlen(token));
    *ptoken = token;
    *pline = apr_psprintf(p, "%s sha256:%s %s%s", name, hash, dp_scopes_str(p, bits), qline);
    return APR_SUCCESS;
}
