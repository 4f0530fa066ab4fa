/* dp_router: matches (method, path) against a table of routes. */
#include <string.h>
#include <apr_strings.h>

#include "dp_router.h"

/* Copies a parameter; with AllowEncodedSlashes NoDecode httpd leaves only %2F encoded in
 * r->uri, so that is the one escape decoded here (a segment may then hold a '/'). */
static char *param_value(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1);
    apr_size_t i, o = 0;

    for (i = 0; i < len; ++i) {
        if (s[i] == '%' && i + 2 < len && s[i + 1] == '2' && (s[i + 2] == 'F' || s[i + 2] == 'f')) {
            out[o++] = '/';
            i += 2;
        }
        else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Matches one pattern against path; fills params (may be NULL) on success. */
static int pattern_match(apr_pool_t *p, const char *pattern, const char *path, apr_table_t *params)
{
    const char *pp = pattern, *sp = path;

    while (*pp && *sp) {
        const char *pend, *send;
        apr_size_t plen, slen;

        if (*pp != '/' || *sp != '/') {
            return 0;
        }
        ++pp;
        ++sp;
        pend = strchr(pp, '/');
        plen = pend ? (apr_size_t)(pend - pp) : strlen(pp);
        send = strchr(sp, '/');
        slen = send ? (apr_size_t)(send - sp) : strlen(sp);

        if (plen >= 2 && pp[0] == '{' && pp[plen - 1] == '}') {
            int greedy = (plen >= 3 && pp[plen - 2] == '+');
            apr_size_t nlen = plen - 2 - (greedy ? 1 : 0);
            if (greedy) {
                slen = strlen(sp);
                if (slen == 0 || sp[slen - 1] == '/') {
                    return 0;
                }
            }
            if (slen == 0) {
                return 0;
            }
            if (params) {
                apr_table_setn(params, apr_pstrmemdup(p, pp + 1, nlen), param_value(p, sp, slen));
            }
        }
        else if (plen != slen || strncmp(pp, sp, plen) != 0) {
            return 0;
        }
        pp += plen;
        sp += slen;
    }
    return *pp == '\0' && *sp == '\0';
}

/* Finds the route for method and path. */
apr_status_t dp_router_match(const dp_route_t **proute, apr_table_t **pparams, const char **pallow,
                             const dp_route_t *table, apr_size_t n, apr_pool_t *p,
                             const char *method, const char *path)
{
    apr_size_t i;
    const char *allow = NULL;
    int head = !strcmp(method, "HEAD");

    *proute = NULL;
    *pparams = NULL;
    if (pallow) {
        *pallow = NULL;
    }
    if (path == NULL || path[0] != '/') {
        return APR_NOTFOUND;
    }
    for (i = 0; i < n; ++i) {
        const dp_route_t *rt = &table[i];
        int same = !strcmp(rt->method, method) || (head && !strcmp(rt->method, "GET"));

        if (!pattern_match(p, rt->pattern, path, NULL)) {
            continue;
        }
        if (same) {
            *pparams = apr_table_make(p, 4);
            pattern_match(p, rt->pattern, path, *pparams);
            *proute = rt;
            return APR_SUCCESS;
        }
        if (allow == NULL) {
            allow = rt->method;
        }
        else if (!strstr(allow, rt->method)) {
            allow = apr_pstrcat(p, allow, ", ", rt->method, NULL);
        }
    }
    if (allow) {
        if (strstr(allow, "GET") && !strstr(allow, "HEAD")) {
            allow = apr_pstrcat(p, allow, ", HEAD", NULL);
        }
        if (pallow) {
            *pallow = allow;
        }
        return DP_EMETHOD;
    }
    return APR_NOTFOUND;
}
