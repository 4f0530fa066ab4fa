/* dp_dk_build: image references, the registry allow-list, the Dockerfile check and the tar
 * scanner behind POST /images/build (see dp_dk_build.h). Every rule here errs on the side of
 * refusing: where Docker's reading of an input could differ from ours, both are checked. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_dk_build.h"
#include "dp_dk_misc.h"
#include "dp_json.h"

/* ------------------------------------------------------------------------------------------ */
/* references */

/* Splits s into *ref (Docker's reference grammar, reduced to what a policy needs). */
apr_status_t dp_dk_ref_parse(dp_dk_ref_t *ref, apr_pool_t *p, const char *s)
{
    char *name, *at, *slash, *colon, *first;
    const char *rest;
    apr_size_t i;

    memset(ref, 0, sizeof(*ref));
    if (!dp_dk_image_ref_ok(s)) {
        return APR_EINVAL;
    }
    name = apr_pstrdup(p, s);
    if ((at = strchr(name, '@')) != NULL) {
        *at++ = '\0';
        if (strncmp(at, "sha256:", 7) != 0 || strlen(at) != 71 || strchr(at + 7, ':')) {
            return APR_EINVAL;
        }
        ref->digest = at;
    }
    slash = strrchr(name, '/');
    colon = strrchr(slash ? slash : name, ':');
    if (colon) {
        *colon++ = '\0';
        if (*colon == '\0') {
            return APR_EINVAL;
        }
        ref->tag = colon;
    }
    if (*name == '\0') {
        return APR_EINVAL;
    }
    first = name;
    slash = strchr(name, '/');
    if (slash) {
        char *c = apr_pstrndup(p, name, (apr_size_t)(slash - name));
        int upper = 0;
        for (i = 0; c[i]; ++i) {
            upper |= apr_isupper((unsigned char)c[i]);
        }
        if (strpbrk(c, ".:") || strcmp(c, "localhost") == 0 || upper) {
            ref->registry = apr_pstrdup(p, c);
            for (i = 0; c[i]; ++i) {
                c[i] = (char)apr_tolower((unsigned char)c[i]);
            }
            if (strcmp(c, "index.docker.io") == 0 || strcmp(c, "registry-1.docker.io") == 0
                || strcmp(c, "docker.io") == 0) {
                ref->registry = "docker.io";
            }
            first = slash + 1;
        }
    }
    if (ref->registry == NULL) {
        ref->registry = "docker.io";
    }
    rest = first;
    if (*rest == '\0' || strchr(rest, ':')) {
        return APR_EINVAL;
    }
    for (i = 0; rest[i]; ++i) {
        if (apr_isupper((unsigned char)rest[i])) {
            return APR_EINVAL;   /* repository names are lower case */
        }
    }
    if (strcmp(ref->registry, "docker.io") == 0 && strchr(rest, '/') == NULL) {
        ref->path = apr_pstrcat(p, "library/", rest, NULL);
    }
    else {
        ref->path = rest;
    }
    if (ref->tag == NULL && ref->digest == NULL) {
        ref->tag = "latest";
    }
    if (strcmp(ref->registry, "docker.io") == 0) {
        const char *fam = ref->path;
        if (strncmp(fam, "library/", 8) == 0 && strchr(fam + 8, '/') == NULL) {
            fam += 8;
        }
        rest = fam;
    }
    else {
        rest = apr_pstrcat(p, ref->registry, "/", ref->path, NULL);
    }
    ref->familiar = ref->digest ? apr_pstrcat(p, rest, "@", ref->digest, NULL)
                                : apr_pstrcat(p, rest, ":", ref->tag, NULL);
    return APR_SUCCESS;
}

/* True when registry is allowed (docker.io alone when allow is empty). */
int dp_dk_registry_allowed(const apr_array_header_t *allow, const char *registry)
{
    int i;

    if (registry == NULL) {
        return 0;
    }
    if (allow == NULL || allow->nelts == 0) {
        return strcasecmp(registry, "docker.io") == 0;
    }
    for (i = 0; i < allow->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(allow, i, const char *);
        if (strcasecmp(a, registry) == 0
            || (strcasecmp(a, "docker.io") == 0 && (strcasecmp(registry, "index.docker.io") == 0
                                                     || strcasecmp(registry, "registry-1.docker.io") == 0))) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Dockerfile */

typedef struct {
    apr_pool_t *p;
    dp_dk_dfile_t *res;
    apr_array_header_t *stages;   /* lower-case stage names so far */
    int only_add;                 /* the every-line pass: ADD and ONBUILD only */
} dctx_t;

static apr_status_t refuse(dctx_t *d, int line, const char *fmt, const char *arg)
{
    if (d->res->reason == NULL) {
        d->res->line = line;
        d->res->reason = apr_psprintf(d->p, fmt, arg);
    }
    return APR_EINVAL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Length of the white-space character at s (n bytes left) as Go's unicode.IsSpace sees it
 * (ASCII, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000),
 * 0 when s starts with none. Docker trims these before an instruction. */
static apr_size_t uspace(const char *s, apr_size_t n)
{
    const unsigned char *u = (const unsigned char *)s;

    if (n == 0) return 0;
    if (is_space(s[0]) || s[0] == '\n') return 1;
    if (n >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) return 2;
    if (n >= 3 && u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) return 3;
    if (n >= 3 && u[0] == 0xE2 && u[1] == 0x80 && ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8
                                                    || u[2] == 0xA9 || u[2] == 0xAF)) return 3;
    if (n >= 3 && u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) return 3;
    if (n >= 3 && u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;
    return 0;
}

/* Skips leading white space (Unicode's, as above) of the n bytes at s; returns the count. */
static apr_size_t skip_uspace(const char *s, apr_size_t n)
{
    apr_size_t i = 0, k;

    while (i < n && (k = uspace(s + i, n - i)) > 0) {
        i += k;
    }
    return i;
}

/* Splits s at whitespace into words (const char*). */
static apr_array_header_t *words(apr_pool_t *p, const char *s)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(const char *));

    while (*s) {
        const char *b;
        while (*s && is_space(*s)) ++s;
        if (*s == '\0') break;
        b = s;
        while (*s && !is_space(*s)) ++s;
        APR_ARRAY_PUSH(a, const char *) = apr_pstrndup(p, b, (apr_size_t)(s - b));
    }
    return a;
}

/* s without quotes, escape characters and whitespace, lower-cased (for URL detection). */
static char *squash(apr_pool_t *p, const char *s)
{
    char *o = apr_palloc(p, strlen(s) + 1), *w = o;

    for (; *s; ++s) {
        if (*s == '"' || *s == '\'' || *s == '\\' || *s == '`' || is_space(*s)) continue;
        *w++ = (char)apr_tolower((unsigned char)*s);
    }
    *w = '\0';
    return o;
}

/* True when s (squashed) names something fetched over a network. */
static int remote_like(const char *sq)
{
    return strstr(sq, "://") != NULL || strstr(sq, "git@") != NULL || strncmp(sq, "github.com/", 11) == 0;
}

/* True when args has a heredoc marker (<<WORD, <<-WORD, <<"WORD"). */
static int has_heredoc(const char *args)
{
    const char *h = args;

    while ((h = strstr(h, "<<")) != NULL) {
        const char *c = h + 2;
        if (*c == '-') ++c;
        if (*c == '"' || *c == '\'') ++c;
        if (apr_isalpha((unsigned char)*c) || *c == '_') {
            return 1;
        }
        h += 2;
    }
    return 0;
}

/* Checks ADD arguments: no URL, git remote or variable in any word (JSON form decoded too). */
static apr_status_t check_add(dctx_t *d, int line, const char *args)
{
    const char *t = args;
    json_object *j = NULL;

    if (strchr(args, '$')) {
        return refuse(d, line, "ADD may not use variables (%s)", "$");
    }
    if (has_heredoc(args)) {
        return refuse(d, line, "%s: heredocs are not supported", "ADD");
    }
    if (remote_like(squash(d->p, args))) {
        return refuse(d, line, "%s may not fetch a URL or a git repository", "ADD");
    }
    while (*t && is_space(*t)) ++t;
    if (*t == '[' && dp_json_parse(&j, NULL, d->p, t, strlen(t)) == APR_SUCCESS
        && json_object_is_type(j, json_type_array)) {
        size_t i;
        for (i = 0; i < json_object_array_length(j); ++i) {
            const char *s = json_object_get_string(json_object_array_get_idx(j, i));
            if (s && (strchr(s, '$') || remote_like(squash(d->p, s)))) {
                return refuse(d, line, "%s may not fetch a URL, a git repository or use variables", "ADD");
            }
        }
    }
    return APR_SUCCESS;
}

static int is_stage(dctx_t *d, const char *lower)
{
    int i;

    for (i = 0; i < d->stages->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(d->stages, i, const char *), lower) == 0) {
            return 1;
        }
    }
    return 0;
}

static char *lower_unquoted(apr_pool_t *p, const char *s)
{
    char *o = apr_palloc(p, strlen(s) + 1), *w = o;

    for (; *s; ++s) {
        if (*s == '"' || *s == '\'') continue;
        *w++ = *s;
    }
    *w = '\0';
    return o;
}

/* Adds image ref to the result unless it is a stage, a stage index or scratch. */
static apr_status_t use_image(dctx_t *d, int line, const char *what, const char *raw)
{
    char *v = lower_unquoted(d->p, raw), *l = apr_pstrdup(d->p, v), *c;
    int digits = *v != '\0', i;
    dp_dk_ref_t r;

    for (c = l; *c; ++c) {
        *c = (char)apr_tolower((unsigned char)*c);
        digits &= apr_isdigit((unsigned char)*c) != 0;
    }
    if (strchr(v, '$') || strchr(v, '`') || strchr(v, '\\')) {
        return refuse(d, line, "%s may not use variables", what);
    }
    if (digits || is_stage(d, l) || strcmp(l, "scratch") == 0) {
        return APR_SUCCESS;
    }
    if (dp_dk_ref_parse(&r, d->p, v) != APR_SUCCESS) {
        return refuse(d, line, "%s does not name an image", what);
    }
    for (i = 0; i < d->res->images->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(d->res->images, i, const char *), v) == 0) {
            return APR_SUCCESS;
        }
    }
    APR_ARRAY_PUSH(d->res->images, const char *) = v;
    return APR_SUCCESS;
}

/* Checks one instruction (cmd lower-cased, args the rest); onbuild when under ONBUILD. */
static apr_status_t instruction(dctx_t *d, int line, const char *text, int onbuild)
{
    const char *s = text, *b;
    char *cmd;
    apr_array_header_t *w;
    int i;

    s += skip_uspace(s, strlen(s));
    b = s;
    while (*s && !is_space(*s)) ++s;
    cmd = apr_pstrndup(d->p, b, (apr_size_t)(s - b));
    for (i = 0; cmd[i]; ++i) {
        cmd[i] = (char)apr_tolower((unsigned char)cmd[i]);
    }
    if (strcmp(cmd, "add") == 0) {
        return check_add(d, line, s);
    }
    if (strcmp(cmd, "onbuild") == 0) {
        if (onbuild) {
            return refuse(d, line, "%s may not nest", "ONBUILD");
        }
        return instruction(d, line, s, 1);
    }
    if (d->only_add && !onbuild) {
        return APR_SUCCESS;
    }
    if (strcmp(cmd, "from") == 0) {
        const char *image = NULL;
        if (onbuild) {
            return refuse(d, line, "%s FROM is not allowed", "ONBUILD");
        }
        w = words(d->p, s);
        for (i = 0; i < w->nelts; ++i) {
            const char *a = APR_ARRAY_IDX(w, i, const char *);
            if (image == NULL && strncmp(a, "--", 2) == 0) {
                return refuse(d, line, "FROM may not take the flag %s", a);
            }
            if (image == NULL) {
                image = a;
            }
        }
        if (image == NULL) {
            return refuse(d, line, "%s names no image", "FROM");
        }
        if (use_image(d, line, "FROM", image) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        if (w->nelts == 3 && strcasecmp(APR_ARRAY_IDX(w, 1, const char *), "as") == 0) {
            char *n = lower_unquoted(d->p, APR_ARRAY_IDX(w, 2, const char *)), *c;
            for (c = n; *c; ++c) *c = (char)apr_tolower((unsigned char)*c);
            APR_ARRAY_PUSH(d->stages, const char *) = n;
        }
        else if (w->nelts != 1) {
            return refuse(d, line, "%s: use FROM image [AS name]", "FROM");
        }
        return APR_SUCCESS;
    }
    if (strcmp(cmd, "copy") == 0) {
        if (has_heredoc(s)) {
            return refuse(d, line, "%s: heredocs are not supported", "COPY");
        }
        w = words(d->p, s);
        for (i = 0; i < w->nelts; ++i) {
            const char *a = APR_ARRAY_IDX(w, i, const char *);
            if (strncmp(a, "--", 2) != 0) {
                break;
            }
            if (strncasecmp(a, "--from", 6) == 0) {
                if (onbuild) {
                    return refuse(d, line, "%s COPY --from is not allowed", "ONBUILD");
                }
                if (a[6] != '=') {
                    return refuse(d, line, "%s: use --from=stage", "COPY");
                }
                if (use_image(d, line, "COPY --from", a + 7) != APR_SUCCESS) {
                    return APR_EINVAL;
                }
            }
        }
    }
    return APR_SUCCESS;
}

/* Reads text with escape character esc: logical lines (continuations joined, comment and
 * empty lines inside them skipped, as Docker's parser does), each checked. With d->only_add,
 * every physical line is also taken as the start of an instruction (ADD/ONBUILD only), so a
 * disagreement about where a continuation ends cannot hide an ADD. */
static apr_status_t parse(dctx_t *d, const char *text, apr_size_t len, char esc)
{
    apr_size_t pos = 0;
    int lineno = 0;
    apr_status_t rv = APR_SUCCESS;

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        pos = 3;
    }
    while (pos < len) {
        const char *ln, *e;
        apr_size_t n, k, next;
        char *buf;
        int start, more;

        /* one physical line */
        ln = text + pos;
        e = memchr(ln, '\n', len - pos);
        n = e ? (apr_size_t)(e - ln) : len - pos;
        pos += n + (e ? 1 : 0);
        ++lineno;
        next = pos;
        k = skip_uspace(ln, n);
        ln += k;
        n -= k;
        if (n == 0 || *ln == '#') {
            continue;
        }
        start = lineno;
        buf = apr_pstrndup(d->p, ln, n);
        for (;;) {
            /* Docker: trailing CR/LF off, then escape followed by spaces/tabs only */
            k = strlen(buf);
            while (k && (buf[k - 1] == '\r' || buf[k - 1] == '\n')) --k;
            while (k && (buf[k - 1] == ' ' || buf[k - 1] == '\t')) --k;
            more = k && buf[k - 1] == esc;
            if (!more) {
                break;
            }
            buf[k - 1] = '\0';
            /* the next physical line that is neither a comment nor empty */
            for (;;) {
                const char *l2, *e2;
                apr_size_t n2, skip;
                if (pos >= len) {
                    goto done;
                }
                l2 = text + pos;
                e2 = memchr(l2, '\n', len - pos);
                n2 = e2 ? (apr_size_t)(e2 - l2) : len - pos;
                pos += n2 + (e2 ? 1 : 0);
                ++lineno;
                skip = skip_uspace(l2, n2);
                if (skip == n2 || l2[skip] == '#') {
                    continue;
                }
                buf = apr_pstrcat(d->p, buf, apr_pstrndup(d->p, l2, n2), NULL);
                break;
            }
        }
done:
        if (instruction(d, start, buf, 0) != APR_SUCCESS) {
            rv = APR_EINVAL;
            break;
        }
        if (d->only_add) {
            pos = next;
            lineno = start;
        }
    }
    return rv;
}

/* Checks a Dockerfile under both escape characters. */
apr_status_t dp_dk_dockerfile_check(dp_dk_dfile_t *res, apr_pool_t *p, const char *text, apr_size_t len)
{
    dctx_t d;
    static const char escs[] = { '\\', '`' };
    int i;

    memset(res, 0, sizeof(*res));
    res->images = apr_array_make(p, 4, sizeof(const char *));
    if (memchr(text, '\0', len)) {
        res->line = 0;
        res->reason = "the Dockerfile holds a NUL byte";
        return APR_EINVAL;
    }
    d.p = p;
    d.res = res;
    for (i = 0; i < 4; ++i) {
        d.stages = apr_array_make(p, 4, sizeof(const char *));
        d.only_add = i >= 2;
        if (parse(&d, text, len, escs[i % 2]) != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* tar */

#define TAR_BLOCK 512
#define TAR_META_MAX (64 * 1024)   /* pax and GNU long-name records */

enum { T_HEADER, T_DATA, T_PAD, T_END, T_ERROR };
enum { C_NONE, C_PAX, C_LONGNAME, C_DOCKERFILE };

struct dp_dk_tar_t {
    apr_pool_t *p;
    const char *want;           /* cleaned Dockerfile path */
    int want_default;           /* "dockerfile" counts too */
    int state;
    unsigned char hdr[TAR_BLOCK];
    apr_size_t hlen;
    apr_uint64_t left;          /* data bytes of the entry still to come */
    apr_size_t pad;             /* padding bytes still to skip */
    int capture;                /* C_* of the data being read */
    char *cap;                  /* captured data */
    apr_size_t caplen, capmax;
    int zero_blocks;
    apr_uint64_t offset;
    /* meta headers for the next entry */
    const char *pax_path;
    const char *gnu_name;
    apr_int64_t pax_size;       /* -1: none */
    int pax_sparse;
    /* results */
    int found;                  /* Dockerfile entries seen */
    char *text;
    apr_size_t textlen;
    apr_array_header_t *links;  /* cleaned paths of symlinks and hard links */
    apr_array_header_t *paths;  /* cleaned paths of the entries through which things were written */
    const char *error;
    int error_status;
};

static const char *clean_path(apr_pool_t *p, const char *s, apr_size_t n);

/* Makes the scanner. */
dp_dk_tar_t *dp_dk_tar_create(apr_pool_t *p, const char *dockerfile)
{
    dp_dk_tar_t *t = apr_pcalloc(p, sizeof(*t));

    t->p = p;
    t->want = clean_path(p, dockerfile ? dockerfile : "Dockerfile", strlen(dockerfile ? dockerfile : "Dockerfile"));
    t->want_default = dockerfile == NULL || strcmp(t->want, "Dockerfile") == 0;
    t->state = T_HEADER;
    t->pax_size = -1;
    t->links = apr_array_make(p, 4, sizeof(const char *));
    return t;
}

/* Cleans a tar path the way extracting into a chroot resolves it: no leading '/', no empty,
 * "." or ".." components (".." above the top stays at the top). */
static const char *clean_path(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *out = apr_palloc(p, n + 1);
    apr_size_t o = 0, i = 0;

    while (i < n) {
        apr_size_t b;
        while (i < n && s[i] == '/') ++i;
        b = i;
        while (i < n && s[i] != '/') ++i;
        if (i - b == 0 || (i - b == 1 && s[b] == '.')) {
            continue;
        }
        if (i - b == 2 && s[b] == '.' && s[b + 1] == '.') {
            while (o > 0 && out[o - 1] != '/') --o;
            if (o > 0) --o;
            continue;
        }
        if (o > 0) out[o++] = '/';
        memcpy(out + o, s + b, i - b);
        o += i - b;
    }
    out[o] = '\0';
    return out;
}

static apr_status_t tar_fail(dp_dk_tar_t *t, int status, const char *msg)
{
    if (t->error == NULL) {
        t->error = msg;
        t->error_status = status;
    }
    t->state = T_ERROR;
    return APR_EINVAL;
}

/* Reads an octal or base-256 numeric field. */
static int tar_num(apr_uint64_t *pv, const unsigned char *f, apr_size_t n)
{
    apr_uint64_t v = 0;
    apr_size_t i = 0;

    if (f[0] & 0x80) {
        if (f[0] != 0x80) {
            return 0;   /* negative or too large */
        }
        for (i = 1; i < n; ++i) {
            if (v >> 55) return 0;
            v = (v << 8) | f[i];
        }
        *pv = v;
        return 1;
    }
    while (i < n && (f[i] == ' ' || f[i] == '\0')) ++i;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; ++i) {
        if (v >> 60) return 0;
        v = v * 8 + (apr_uint64_t)(f[i] - '0');
    }
    for (; i < n; ++i) {
        if (f[i] != ' ' && f[i] != '\0') return 0;
    }
    *pv = v;
    return 1;
}

/* True when path p is target or a descendant/ancestor relation holds as asked. */
static int is_ancestor(const char *anc, const char *path)
{
    apr_size_t n = strlen(anc);

    return n == 0 || (strncmp(anc, path, n) == 0 && path[n] == '/');
}

static int matches(dp_dk_tar_t *t, const char *clean)
{
    return strcmp(clean, t->want) == 0 || (t->want_default && strcmp(clean, "dockerfile") == 0);
}

/* Parses pax records "LEN key=value\n" of the captured data. */
static apr_status_t tar_pax(dp_dk_tar_t *t)
{
    apr_size_t pos = 0;

    while (pos < t->caplen) {
        apr_size_t len = 0, i = pos;
        const char *kv, *eq;
        while (i < t->caplen && apr_isdigit((unsigned char)t->cap[i])) {
            len = len * 10 + (apr_size_t)(t->cap[i] - '0');
            if (len > TAR_META_MAX) return tar_fail(t, 422, "a pax header is malformed");
            ++i;
        }
        if (i == pos || i >= t->caplen || t->cap[i] != ' ' || len < 5 || pos + len > t->caplen
            || t->cap[pos + len - 1] != '\n') {
            return tar_fail(t, 422, "a pax header is malformed");
        }
        kv = t->cap + i + 1;
        eq = memchr(kv, '=', (apr_size_t)(t->cap + pos + len - 1 - kv));
        if (eq == NULL) {
            return tar_fail(t, 422, "a pax header is malformed");
        }
        if ((apr_size_t)(eq - kv) == 4 && memcmp(kv, "path", 4) == 0) {
            t->pax_path = apr_pstrndup(t->p, eq + 1, (apr_size_t)(t->cap + pos + len - 1 - (eq + 1)));
        }
        else if ((apr_size_t)(eq - kv) == 4 && memcmp(kv, "size", 4) == 0) {
            apr_int64_t v = 0;
            const char *c = eq + 1, *end = t->cap + pos + len - 1;
            if (c == end) return tar_fail(t, 422, "a pax header is malformed");
            for (; c < end; ++c) {
                if (!apr_isdigit((unsigned char)*c) || v > APR_INT64_C(1) << 40) {
                    return tar_fail(t, 422, "a pax header is malformed");
                }
                v = v * 10 + (*c - '0');
            }
            t->pax_size = v;
        }
        else if ((apr_size_t)(eq - kv) >= 10 && memcmp(kv, "GNU.sparse", 10) == 0) {
            t->pax_sparse = 1;
        }
        pos += len;
    }
    return APR_SUCCESS;
}

/* True when the n first bytes of a stream start like a compressed one Docker would unpack
 * (gzip, bzip2, xz, zstd or a zstd skippable frame); the scan could not look inside. */
static int compressed(const unsigned char *h, apr_size_t n)
{
    static const struct { const char *m; apr_size_t n; } magic[] = {
        { "\x1f\x8b", 2 }, { "BZh", 3 }, { "\xfd" "7zXZ", 5 }, { "\x28\xb5\x2f\xfd", 4 }, { NULL, 0 }
    };
    int i;

    for (i = 0; magic[i].m; ++i) {
        apr_size_t k = n < magic[i].n ? n : magic[i].n;
        if (k > 0 && memcmp(h, magic[i].m, k) == 0) {
            return 1;
        }
    }
    return n >= 1 && (h[0] & 0xf0) == 0x50 && memcmp(h + 1, "\x2a\x4d\x18", n - 1 < 3 ? n - 1 : 3) == 0;
}

/* Handles a complete header block. */
static apr_status_t tar_header(dp_dk_tar_t *t)
{
    const unsigned char *h = t->hdr;
    apr_uint64_t size, sum, usum = 0;
    long ssum = 0;
    apr_size_t i;
    char type = (char)h[156];
    const char *names[4], *name;
    int nnames = 0, hit = 0, j;

    for (i = 0; i < TAR_BLOCK && h[i] == 0; ++i);
    if (i == TAR_BLOCK) {
        if (++t->zero_blocks == 2) {
            t->state = T_END;
        }
        return APR_SUCCESS;
    }
    if (t->zero_blocks) {
        return tar_fail(t, 422, "the tar stream has data after an end block");
    }
    for (i = 0; i < TAR_BLOCK; ++i) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c;
    }
    if (!tar_num(&sum, h + 148, 8) || (sum != usum && (long)sum != ssum)) {
        return tar_fail(t, 422, "the build context is not a tar stream (bad header checksum)");
    }
    if (!tar_num(&size, h + 124, 12)) {
        return tar_fail(t, 422, "a tar header has a bad size");
    }
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        if (size > TAR_META_MAX) {
            return tar_fail(t, 422, "a tar meta header is too large");
        }
        t->capture = type == 'x' ? C_PAX : type == 'L' ? C_LONGNAME : C_NONE;
        t->left = size;
        t->caplen = 0;
        t->capmax = (apr_size_t)size;
        t->cap = t->capture ? apr_palloc(t->p, (apr_size_t)size + 1) : NULL;
        t->pad = (apr_size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
        t->state = T_DATA;
        if (size == 0) {
            t->capture = C_NONE;
            t->state = T_HEADER;
        }
        return APR_SUCCESS;
    }
    if (type == 'S' || t->pax_sparse) {
        return tar_fail(t, 403, "sparse files are not accepted in a build context");
    }
    if (t->pax_size >= 0) {
        size = (apr_uint64_t)t->pax_size;
    }
    /* every name Docker's reader could give this entry */
    names[nnames++] = clean_path(t->p, (const char *)h, strnlen((const char *)h, 100));
    if (h[345]) {
        names[nnames++] = clean_path(t->p, apr_pstrcat(t->p, apr_pstrndup(t->p, (const char *)h + 345, 155), "/",
                                                       apr_pstrndup(t->p, (const char *)h, 100), NULL),
                                     strnlen((const char *)h + 345, 155) + 1 + strnlen((const char *)h, 100));
    }
    if (t->gnu_name) names[nnames++] = clean_path(t->p, t->gnu_name, strlen(t->gnu_name));
    if (t->pax_path) names[nnames++] = clean_path(t->p, t->pax_path, strlen(t->pax_path));
    for (j = 0; j < nnames; ++j) {
        int k;
        name = names[j];
        hit |= matches(t, name);
        /* a Dockerfile that is a link, or reached through one, is refused */
        if (matches(t, name) && type != '0' && type != '\0' && type != '7') {
            return tar_fail(t, 403, "the Dockerfile must be a regular file in the build context");
        }
        for (k = 0; k < t->links->nelts; ++k) {
            const char *l = APR_ARRAY_IDX(t->links, k, const char *);
            if (is_ancestor(l, name)) {
                return tar_fail(t, 403, "the build context writes a file through a link");
            }
        }
        if (type == '1' || type == '2') {
            if (strcmp(name, t->want) == 0 || is_ancestor(name, t->want)
                || (t->want_default && strcmp(name, "dockerfile") == 0)) {
                return tar_fail(t, 403, "the Dockerfile must be a regular file in the build context");
            }
            APR_ARRAY_PUSH(t->links, const char *) = name;
        }
    }
    t->pax_path = NULL;
    t->gnu_name = NULL;
    t->pax_size = -1;
    if (hit) {
        if (++t->found > 1) {
            return tar_fail(t, 422, "the build context holds more than one Dockerfile entry");
        }
        if (size > DP_DK_DOCKERFILE_MAX) {
            return tar_fail(t, 422, "the Dockerfile is larger than 1 MiB");
        }
        t->capture = C_DOCKERFILE;
        t->cap = apr_palloc(t->p, (apr_size_t)size + 1);
        t->capmax = (apr_size_t)size;
        t->caplen = 0;
    }
    else {
        t->capture = C_NONE;
    }
    /* links, dirs, devices carry no data in the stream */
    if (type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6') {
        size = 0;
    }
    t->left = size;
    t->pad = (apr_size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
    if (hit && size == 0) {
        t->text = t->cap;
        t->text[0] = '\0';
        t->textlen = 0;
    }
    t->state = size ? T_DATA : T_HEADER;
    return APR_SUCCESS;
}

/* The data of the current entry is complete. */
static apr_status_t tar_data_done(dp_dk_tar_t *t)
{
    apr_status_t rv = APR_SUCCESS;

    if (t->capture) {
        t->cap[t->caplen] = '\0';
    }
    if (t->capture == C_PAX) {
        rv = tar_pax(t);
    }
    else if (t->capture == C_LONGNAME) {
        t->gnu_name = apr_pstrndup(t->p, t->cap, strnlen(t->cap, t->caplen));
    }
    else if (t->capture == C_DOCKERFILE) {
        t->text = t->cap;
        t->textlen = t->caplen;
    }
    t->capture = C_NONE;
    t->state = t->pad ? T_PAD : T_HEADER;
    return rv;
}

/* Feeds bytes of the stream. */
apr_status_t dp_dk_tar_feed(dp_dk_tar_t *t, const char *buf, apr_size_t len)
{
    while (len > 0) {
        apr_size_t n;

        switch (t->state) {
        case T_ERROR:
            return APR_EINVAL;
        case T_END:
            return APR_SUCCESS;
        case T_HEADER:
            n = TAR_BLOCK - t->hlen;
            if (n > len) n = len;
            memcpy(t->hdr + t->hlen, buf, n);
            t->hlen += n;
            buf += n;
            len -= n;
            if (t->offset == 0 && t->hlen >= 6 && compressed(t->hdr, 6)) {
                return tar_fail(t, 403, "compressed build contexts are not accepted; send a plain tar");
            }
            if (t->hlen == TAR_BLOCK) {
                t->hlen = 0;
                if (tar_header(t) != APR_SUCCESS) {
                    return APR_EINVAL;
                }
                t->offset += TAR_BLOCK;
            }
            break;
        case T_DATA:
            n = t->left < len ? (apr_size_t)t->left : len;
            if (t->capture) {
                memcpy(t->cap + t->caplen, buf, n);
                t->caplen += n;
            }
            t->left -= n;
            t->offset += n;
            buf += n;
            len -= n;
            if (t->left == 0 && tar_data_done(t) != APR_SUCCESS) {
                return APR_EINVAL;
            }
            break;
        case T_PAD:
            n = t->pad < len ? t->pad : len;
            t->pad -= n;
            t->offset += n;
            buf += n;
            len -= n;
            if (t->pad == 0) {
                t->state = T_HEADER;
            }
            break;
        }
    }
    return APR_SUCCESS;
}

/* Ends the stream. */
apr_status_t dp_dk_tar_finish(const char **ptext, apr_size_t *plen, dp_dk_tar_t *t)
{
    *ptext = NULL;
    *plen = 0;
    if (t->state == T_ERROR) {
        return APR_EINVAL;
    }
    if (t->offset == 0 && t->hlen > 0 && t->hlen < 6 && compressed(t->hdr, t->hlen)) {
        return tar_fail(t, 403, "compressed build contexts are not accepted; send a plain tar");
    }
    if (t->state == T_DATA || t->state == T_PAD || t->hlen != 0) {
        return tar_fail(t, 422, "the build context ends inside a tar entry");
    }
    if (t->found == 0 || t->text == NULL) {
        return APR_NOTFOUND;
    }
    *ptext = t->text;
    *plen = t->textlen;
    return APR_SUCCESS;
}

/* Why the stream was refused. */
const char *dp_dk_tar_error(const dp_dk_tar_t *t, int *pstatus)
{
    if (pstatus) {
        *pstatus = t->error ? t->error_status : 0;
    }
    return t->error;
}
