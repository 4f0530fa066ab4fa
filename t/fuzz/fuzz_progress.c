/* fuzz_progress: Docker's NDJSON progress stream (pull, build) and the line splitter under it,
 * fed in random chunk sizes. Input: byte 0 = keep_log flag (bit 0) and the chunk seed; the
 * rest is the stream. Checks, besides memory safety: one piece and random chunks give the
 * same error, status, digest, id, tags, line count and log (an in-band error can never be
 * missed because of where a chunk ended); the kept log stays within its caps; the raw prefix
 * is at most DP_DK_PROGRESS_RAW bytes of the input. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "dp_dk_progress.h"

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static dp_dk_progress_t *run(apr_pool_t *p, int keep_log, unsigned seed, const uint8_t *data, size_t size)
{
    dp_dk_progress_t *g = dp_dk_progress_create(p, keep_log);
    size_t off = 0;

    while (off < size) {
        size_t n = size - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % 23;
            if (n > size - off) {
                n = size - off;
            }
        }
        if (dp_dk_progress_feed(g, (const char *)data + off, n) != APR_SUCCESS) {
            abort();   /* the parser takes any bytes */
        }
        off += n;
    }
    dp_dk_progress_finish(g);
    return g;
}

static apr_status_t count_line(void *baton, const char *line, apr_size_t len)
{
    apr_size_t *n = baton;

    if (len > 64 || (len && memchr(line, '\n', len))) {
        abort();
    }
    ++*n;
    return APR_SUCCESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    dp_dk_progress_t *a, *b;
    json_object *la, *lb;
    const char *ra, *rb;
    apr_size_t na, nb, i, n1 = 0, n2 = 0;
    dp_dk_lines_t *l1, *l2;
    int keep;
    unsigned seed;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    apr_pool_create(&p, NULL);
    keep = data[0] & 1;
    seed = (data[0] >> 1) | 0x80;
    a = run(p, keep, 0, data + 1, size - 1);
    b = run(p, keep, seed, data + 1, size - 1);
    if (!same(a->error, b->error) || !same(a->status, b->status) || !same(a->digest, b->digest)
        || !same(a->id, b->id) || a->lines != b->lines || a->log_dropped != b->log_dropped
        || (a->tags == NULL) != (b->tags == NULL) || (a->tags && a->tags->nelts != b->tags->nelts)) {
        abort();   /* the chunking changed what the parser concluded */
    }
    for (i = 0; a->tags && i < (apr_size_t)a->tags->nelts; ++i) {
        if (!same(APR_ARRAY_IDX(a->tags, i, const char *), APR_ARRAY_IDX(b->tags, i, const char *))) {
            abort();
        }
    }
    la = dp_dk_progress_log(a, p);
    lb = dp_dk_progress_log(b, p);
    if (strcmp(dp_json_str(p, la), dp_json_str(p, lb)) != 0
        || json_object_array_length(la) > DP_DK_PROGRESS_LOG_LINES) {
        abort();
    }
    for (i = 0; i < json_object_array_length(la); ++i) {
        if ((apr_size_t)json_object_get_string_len(json_object_array_get_idx(la, i)) > 4 * DP_DK_PROGRESS_LOG_WIDTH) {
            abort();
        }
    }
    ra = dp_dk_progress_raw(a, &na);
    rb = dp_dk_progress_raw(b, &nb);
    if (na != nb || na > DP_DK_PROGRESS_RAW || na > size - 1 || (na && (memcmp(ra, rb, na) != 0
        || memcmp(ra, data + 1, na) != 0))) {
        abort();
    }
    /* the splitter alone, with a small line cap: one piece vs byte by byte */
    l1 = dp_dk_lines_create(p, 64, count_line, &n1);
    l2 = dp_dk_lines_create(p, 64, count_line, &n2);
    (void)dp_dk_lines_feed(l1, (const char *)data + 1, size - 1);
    for (i = 1; i < size; ++i) {
        (void)dp_dk_lines_feed(l2, (const char *)data + i, 1);
    }
    (void)dp_dk_lines_finish(l1);
    (void)dp_dk_lines_finish(l2);
    if (n1 != n2 || dp_dk_lines_skipped(l1) != dp_dk_lines_skipped(l2)) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
