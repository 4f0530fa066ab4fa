/* dp_dk_logs: Docker log stream decoder (frames → lines). */
#include <string.h>

#include "dp_dk_logs.h"

typedef struct {
    char *buf;                 /* partial line, DP_DK_LOG_LINE_MAX bytes (allocated lazily) */
    apr_size_t len;
} line_buf_t;

struct dp_dk_logs_t {
    apr_pool_t *pool;
    int tty;
    dp_dk_logline_fn *fn;
    void *baton;
    unsigned char hdr[8];      /* frame header being collected */
    apr_size_t hdr_have;
    apr_uint32_t left;         /* payload bytes still to come in the current frame */
    int stream;                /* stream of the current frame */
    line_buf_t lines[2];       /* stdout, stderr */
};

/* Creates a decoder in p. */
dp_dk_logs_t *dp_dk_logs_create(apr_pool_t *p, int tty, dp_dk_logline_fn *fn, void *baton)
{
    dp_dk_logs_t *d = apr_pcalloc(p, sizeof(*d));

    d->pool = p;
    d->tty = tty;
    d->fn = fn;
    d->baton = baton;
    return d;
}

/* Hands out one line, without a CR before the newline. */
static apr_status_t emit(dp_dk_logs_t *d, int stream, const char *s, apr_size_t n)
{
    if (n > 0 && s[n - 1] == '\r') {
        --n;
    }
    return d->fn(d->baton, stream, s, n);
}

/* Appends payload bytes of stream to its line buffer, handing out each completed line. */
static apr_status_t push(dp_dk_logs_t *d, int stream, const char *data, apr_size_t len)
{
    line_buf_t *lb = &d->lines[stream == DP_DK_STDERR ? 1 : 0];
    apr_status_t rv;

    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        apr_size_t take = nl ? (apr_size_t)(nl - data) : len;

        if (lb->len == 0 && nl && take <= DP_DK_LOG_LINE_MAX) {
            /* the common case: a whole line in the input, no copy */
            if ((rv = emit(d, stream, data, take)) != APR_SUCCESS) {
                return rv;
            }
        }
        else {
            apr_size_t room, part;
            if (lb->buf == NULL) {
                lb->buf = apr_palloc(d->pool, DP_DK_LOG_LINE_MAX);
            }
            room = DP_DK_LOG_LINE_MAX - lb->len;
            part = take < room ? take : room;
            memcpy(lb->buf + lb->len, data, part);
            lb->len += part;
            if (part < take || (nl == NULL && lb->len == DP_DK_LOG_LINE_MAX)) {
                /* too long for one piece: hand out what we have, go on with the rest */
                nl = NULL;
                take = part;
                if ((rv = emit(d, stream, lb->buf, lb->len)) != APR_SUCCESS) {
                    return rv;
                }
                lb->len = 0;
            }
            else if (nl) {
                rv = emit(d, stream, lb->buf, lb->len);
                lb->len = 0;
                if (rv != APR_SUCCESS) {
                    return rv;
                }
            }
        }
        if (nl) {
            ++take;  /* the newline */
        }
        data += take;
        len -= take;
    }
    return APR_SUCCESS;
}

/* Feeds len bytes. */
apr_status_t dp_dk_logs_feed(dp_dk_logs_t *d, const char *data, apr_size_t len)
{
    apr_status_t rv;

    if (d->tty) {
        return push(d, DP_DK_STDOUT, data, len);
    }
    while (len > 0) {
        if (d->left == 0) {
            apr_size_t need = 8 - d->hdr_have, n = len < need ? len : need;
            memcpy(d->hdr + d->hdr_have, data, n);
            d->hdr_have += n;
            data += n;
            len -= n;
            if (d->hdr_have < 8) {
                break;
            }
            d->hdr_have = 0;
            if (d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3]) {
                return APR_EINVAL;
            }
            d->stream = d->hdr[0] == 2 ? DP_DK_STDERR : DP_DK_STDOUT;
            d->left = ((apr_uint32_t)d->hdr[4] << 24) | ((apr_uint32_t)d->hdr[5] << 16)
                      | ((apr_uint32_t)d->hdr[6] << 8) | (apr_uint32_t)d->hdr[7];
            continue;
        }
        else {
            apr_size_t n = len < d->left ? len : d->left;
            if ((rv = push(d, d->stream, data, n)) != APR_SUCCESS) {
                return rv;
            }
            d->left -= (apr_uint32_t)n;
            data += n;
            len -= n;
        }
    }
    return APR_SUCCESS;
}

/* Ends the input. */
apr_status_t dp_dk_logs_finish(dp_dk_logs_t *d)
{
    int i;
    apr_status_t rv;
    int truncated = d->left > 0 || d->hdr_have > 0;

    for (i = 0; i < 2; ++i) {
        line_buf_t *lb = &d->lines[i];
        if (lb->len > 0) {
            rv = emit(d, i ? DP_DK_STDERR : DP_DK_STDOUT, lb->buf, lb->len);
            lb->len = 0;
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
    }
    d->left = 0;
    d->hdr_have = 0;
    return truncated ? APR_EINCOMPLETE : APR_SUCCESS;
}

/* Splits Docker's "2024-05-01T10:00:00.123456789Z text" into time and text. */
int dp_dk_logs_split_time(const char **ptime, apr_size_t *ptlen, const char **ptext,
                          apr_size_t *plen, const char *line, apr_size_t len)
{
    const char *sp;
    apr_size_t n;

    *ptime = NULL;
    *ptlen = 0;
    *ptext = line;
    *plen = len;
    /* shortest form "2006-01-02T15:04:05Z", longest with nanoseconds and a zone offset */
    sp = len >= 20 ? memchr(line, ' ', len < 40 ? len : 40) : NULL;
    if (sp == NULL) {
        sp = (len >= 20 && len <= 40) ? line + len : NULL;  /* an empty line: only the time */
    }
    if (sp == NULL) {
        return 0;
    }
    n = (apr_size_t)(sp - line);
    if (n < 20 || line[4] != '-' || line[7] != '-' || line[10] != 'T' || line[13] != ':'
        || line[16] != ':' || line[0] < '0' || line[0] > '9') {
        return 0;
    }
    *ptime = line;
    *ptlen = n;
    *ptext = sp < line + len ? sp + 1 : line + len;
    *plen = len - (apr_size_t)(*ptext - line);
    return 1;
}

/* Returns the length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static apr_size_t utf8_seq(const unsigned char *s, apr_size_t n)
{
    apr_size_t need, i;
    unsigned char lo = 0x80, hi = 0xBF;

    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) need = 1;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        need = 2;
        if (s[0] == 0xE0) lo = 0xA0;            /* no overlong forms */
        if (s[0] == 0xED) hi = 0x9F;            /* no surrogates */
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        need = 3;
        if (s[0] == 0xF0) lo = 0x90;
        if (s[0] == 0xF4) hi = 0x8F;
    }
    else return 0;
    if (n < need + 1 || s[1] < lo || s[1] > hi) return 0;
    for (i = 2; i <= need; ++i) {
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    }
    return need + 1;
}

/* Copies line with invalid UTF-8 bytes replaced by '?'. */
const char *dp_dk_logs_utf8(char *out, const char *line, apr_size_t len)
{
    const unsigned char *s = (const unsigned char *)line;
    apr_size_t i = 0, k;
    int fixed = 0;

    while (i < len) {
        if ((k = utf8_seq(s + i, len - i)) == 0) {
            out[i++] = '?';
            fixed = 1;
            continue;
        }
        memcpy(out + i, s + i, k);
        i += k;
    }
    return fixed ? out : line;
}
