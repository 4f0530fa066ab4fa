/* dp_util: small helpers shared by the core library. */
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <apr_lib.h>

#include "dp_util.h"

/* Fills out with 2*n lowercase hex digits of n random bytes. */
apr_status_t dp_random_hex(char *out, apr_size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    apr_status_t rv;
    apr_size_t i;

    if (n > sizeof(buf)) {
        return APR_EINVAL;
    }
    if ((rv = apr_generate_random_bytes(buf, n)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < n; ++i) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return APR_SUCCESS;
}

/* True when s is 1..maxlen characters of [A-Za-z0-9._:-] and not a dot segment. */
int dp_is_safe_token(const char *s, apr_size_t maxlen)
{
    apr_size_t i;

    if (s == NULL || *s == '\0' || !strcmp(s, ".") || !strcmp(s, "..")) {
        return 0;
    }
    for (i = 0; s[i]; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (i >= maxlen) {
            return 0;
        }
        if (!(apr_isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':')) {
            return 0;
        }
    }
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX and '+' of a form/query component; NULL if malformed or has NUL. */
char *dp_url_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1);
    apr_size_t i, o = 0;

    for (i = 0; i < len; ++i) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        }
        else if (c == '%') {
            int h, l;
            if (i + 2 >= len) {
                return NULL;
            }
            h = hexval((unsigned char)s[i + 1]);
            l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                return NULL;
            }
            c = (h << 4) | l;
            i += 2;
        }
        if (c == 0) {
            return NULL;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

/* Returns s %-encoded for use in a URL path segment or query value. */
char *dp_url_encode(apr_pool_t *p, const char *s)
{
    return dp_url_encode_keep(p, s, "");
}

/* Like dp_url_encode, but also keeps the characters in keep. */
char *dp_url_encode_keep(apr_pool_t *p, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t n = strlen(s), i, o = 0;
    char *out = apr_palloc(p, 3 * n + 1);

    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (apr_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~'
            || (c != '\0' && strchr(keep, c))) {
            out[o++] = (char)c;
        }
        else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0x0f];
        }
    }
    out[o] = '\0';
    return out;
}

/* Parses the query string args into a new table; malformed pairs are skipped. */
apr_table_t *dp_parse_query(apr_pool_t *p, const char *args)
{
    apr_table_t *t = apr_table_make(p, 8);
    const char *s = args;

    while (s && *s) {
        const char *amp = strchr(s, '&');
        apr_size_t len = amp ? (apr_size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        char *k, *v;

        if (len > 0) {
            if (eq) {
                k = dp_url_decode(p, s, (apr_size_t)(eq - s));
                v = dp_url_decode(p, eq + 1, len - (apr_size_t)(eq - s) - 1);
            }
            else {
                k = dp_url_decode(p, s, len);
                v = apr_pstrdup(p, "");
            }
            if (k && v && *k) {
                apr_table_add(t, k, v);
            }
            else {
                /* remember that something could not be decoded: handlers refuse it */
                apr_table_setn(t, "\001malformed", "1");
            }
        }
        s = amp ? amp + 1 : NULL;
    }
    return t;
}

/* Parses a decimal integer in [min,max]. */
apr_status_t dp_parse_int(apr_int64_t *pval, const char *s, apr_int64_t min, apr_int64_t max)
{
    char *end = NULL;
    long long v;

    if (s == NULL || *s == '\0' || strlen(s) > 20) {
        return APR_EINVAL;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return APR_EINVAL;
    }
    *pval = (apr_int64_t)v;
    return APR_SUCCESS;
}

/* Parses "true/false/1/0/yes/no". */
apr_status_t dp_parse_bool(int *pval, const char *s)
{
    if (s == NULL) {
        return APR_EINVAL;
    }
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes")) {
        *pval = 1;
        return APR_SUCCESS;
    }
    if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no")) {
        *pval = 0;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

/* Returns the length of the valid UTF-8 sequence at u[0..len) (no overlongs, surrogates or
 * NUL), or 0. */
static apr_size_t utf8_seq(const unsigned char *u, apr_size_t len)
{
    apr_size_t n, k;
    unsigned long cp;

    if (u[0] == 0) {
        return 0;
    }
    if (u[0] < 0x80) {
        return 1;
    }
    if ((u[0] & 0xe0) == 0xc0) { n = 1; cp = u[0] & 0x1f; }
    else if ((u[0] & 0xf0) == 0xe0) { n = 2; cp = u[0] & 0x0f; }
    else if ((u[0] & 0xf8) == 0xf0) { n = 3; cp = u[0] & 0x07; }
    else {
        return 0;
    }
    if (n >= len) {
        return 0;
    }
    for (k = 1; k <= n; ++k) {
        if ((u[k] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (u[k] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
        || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n + 1;
}

/* True when the bytes are valid UTF-8 (no overlongs, no surrogates) without NUL. */
int dp_utf8_valid(const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0, n;

    while (i < len) {
        if ((n = utf8_seq(u + i, len - i)) == 0) {
            return 0;
        }
        i += n;
    }
    return 1;
}

/* Returns a copy of s fit for a text column or log line. */
char *dp_str_clean(apr_pool_t *p, const char *s, apr_size_t maxbytes)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    apr_size_t len = strlen((const char *)u), i = 0, o = 0, n;
    char *out = apr_palloc(p, (len < maxbytes ? len : maxbytes) + 1);

    while (i < len) {
        n = utf8_seq(u + i, len - i);
        if (n == 0 || (n == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
            if (o + 1 > maxbytes) break;
            out[o++] = '?';
            i += 1;
            continue;
        }
        if (o + n > maxbytes) {
            break;
        }
        memcpy(out + o, u + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    return out;
}

/* Parses a size into bytes. */
apr_status_t dp_parse_size(apr_int64_t *pbytes, const char *s)
{
    char *end;
    double v;
    double mul = 1;

    if (s == NULL || !apr_isdigit(s[0])) {
        return APR_EINVAL;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s) {
        return APR_EINVAL;
    }
    switch (apr_tolower(*end)) {
    case 'k': mul = 1024.0; ++end; break;
    case 'm': mul = 1024.0 * 1024; ++end; break;
    case 'g': mul = 1024.0 * 1024 * 1024; ++end; break;
    case 't': mul = 1024.0 * 1024 * 1024 * 1024; ++end; break;
    default: break;
    }
    if (apr_tolower(*end) == 'b') {
        ++end;
    }
    if (*end != '\0' || strchr(s, 'e') || strchr(s, 'E') || strchr(s, 'x') || strchr(s, 'X')) {
        return APR_EINVAL;
    }
    v *= mul;
    if (v < 0 || v > 4611686018427387904.0) {
        return APR_EINVAL;
    }
    *pbytes = (apr_int64_t)v;
    return APR_SUCCESS;
}

/* The ISO 8601 UTC form of a DATETIME string (see dp_util.h). */
const char *dp_iso_datetime(apr_pool_t *p, const char *dt)
{
    char *s;

    if (dt == NULL) {
        return NULL;
    }
    s = apr_pstrcat(p, dt, "Z", NULL);
    if (strlen(s) > 10 && s[10] == ' ') {
        s[10] = 'T';
    }
    return s;
}
