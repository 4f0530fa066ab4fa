/* fuzz_logs: Docker's log stream decoder (8-byte frames, or raw TTY bytes) fed in random chunk
 * sizes. Input: byte 0 = TTY flag (bit 0) and the seed of the chunk sizes (bits 1-7); the
 * rest is the stream. Checks, besides memory safety: decoding in one piece and in random
 * chunks gives the same lines and the same result (chunk boundaries of the HTTP transfer
 * must not matter); a line is never longer than DP_DK_LOG_LINE_MAX, never carries its "\n",
 * and its stream is stdout or stderr; no more text comes out than went in. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "dp_dk_logs.h"

typedef struct {
    uint64_t hash;
    size_t bytes;
    size_t lines;
} out_t;

static apr_status_t on_line(void *baton, int stream, const char *line, apr_size_t len)
{
    out_t *o = baton;
    apr_size_t i;
    const char *t, *text;
    apr_size_t tlen, xlen;

    if ((stream != DP_DK_STDOUT && stream != DP_DK_STDERR) || len > DP_DK_LOG_LINE_MAX
        || (len && line == NULL) || (len && memchr(line, '\n', len))) {
        abort();
    }
    o->hash = (o->hash ^ (uint64_t)stream) * 1099511628211ULL;
    for (i = 0; i < len; ++i) {
        o->hash = (o->hash ^ (unsigned char)line[i]) * 1099511628211ULL;
    }
    o->hash = (o->hash ^ 0x100) * 1099511628211ULL;
    o->bytes += len;
    o->lines++;
    if (dp_dk_logs_split_time(&t, &tlen, &text, &xlen, line, len)) {
        if (t < line || t + tlen > line + len || text < line || text + xlen > line + len) {
            abort();
        }
    }
    return APR_SUCCESS;
}

static apr_status_t run(out_t *o, apr_pool_t *p, int tty, unsigned seed, const uint8_t *data, size_t size)
{
    dp_dk_logs_t *d = dp_dk_logs_create(p, tty, on_line, o);
    size_t off = 0;
    apr_status_t rv = APR_SUCCESS;

    memset(o, 0, sizeof(*o));
    o->hash = 1469598103934665603ULL;
    while (off < size) {
        size_t n = size - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % 17;      /* 1..17 bytes: splits headers and payloads */
            if (n > size - off) {
                n = size - off;
            }
        }
        rv = dp_dk_logs_feed(d, (const char *)data + off, n);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        off += n;
    }
    return dp_dk_logs_finish(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    out_t whole, chunked;
    apr_status_t rv1, rv2;
    int tty;
    unsigned seed;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    apr_pool_create(&p, NULL);
    tty = data[0] & 1;
    seed = (data[0] >> 1) | 0x80;
    rv1 = run(&whole, p, tty, 0, data + 1, size - 1);
    rv2 = run(&chunked, p, tty, seed, data + 1, size - 1);
    if (rv1 != rv2 || whole.hash != chunked.hash || whole.lines != chunked.lines) {
        abort();   /* the chunking of the transfer changed the decoded lines */
    }
    if (whole.bytes > size) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
