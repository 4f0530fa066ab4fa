/* fuzz_dockerfile: the build-context checks of dp_dk_build — the Dockerfile check, the tar
 * scanner and image references. Input: byte 0 selects (bit 0: the rest is a tar stream, else
 * a Dockerfile) and seeds the chunk sizes. Checks, besides memory safety: a refusal always
 * has a reason; every image a passing Dockerfile uses parses as a reference; the tar scanner
 * reaches the same answer (status, error status, Dockerfile text) whether the stream comes in
 * one piece or in random chunks; a Dockerfile found is at most DP_DK_DOCKERFILE_MAX bytes. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "dp_dk_build.h"

static void check_dockerfile(apr_pool_t *p, const char *text, apr_size_t len)
{
    dp_dk_dfile_t res;
    int i;

    if (dp_dk_dockerfile_check(&res, p, text, len) != APR_SUCCESS) {
        if (res.reason == NULL) {
            abort();
        }
        return;
    }
    for (i = 0; i < res.images->nelts; ++i) {
        dp_dk_ref_t r;
        if (dp_dk_ref_parse(&r, p, APR_ARRAY_IDX(res.images, i, const char *)) != APR_SUCCESS
            || r.registry == NULL || r.familiar == NULL) {
            abort();
        }
    }
}

static apr_status_t scan(const char **ptext, apr_size_t *plen, int *pst, apr_pool_t *p, unsigned seed,
                         const uint8_t *data, size_t size)
{
    dp_dk_tar_t *t = dp_dk_tar_create(p, NULL);
    size_t off = 0;
    apr_status_t rv;

    while (off < size) {
        size_t n = size - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % 700;
            if (n > size - off) {
                n = size - off;
            }
        }
        if (dp_dk_tar_feed(t, (const char *)data + off, n) != APR_SUCCESS) {
            break;
        }
        off += n;
    }
    rv = dp_dk_tar_finish(ptext, plen, t);
    if ((rv == APR_EINVAL) != (dp_dk_tar_error(t, pst) != NULL)) {
        abort();   /* a refusal has a reason, and only a refusal */
    }
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    apr_pool_create(&p, NULL);
    if (data[0] & 1) {
        const char *ta = NULL, *tb = NULL;
        apr_size_t la = 0, lb = 0;
        int sa = 0, sb = 0;
        apr_status_t ra = scan(&ta, &la, &sa, p, 0, data + 1, size - 1);
        apr_status_t rb = scan(&tb, &lb, &sb, p, (data[0] >> 1) | 0x80, data + 1, size - 1);
        if (ra != rb || sa != sb || la != lb || (ta == NULL) != (tb == NULL) || (ta && memcmp(ta, tb, la) != 0)
            || la > DP_DK_DOCKERFILE_MAX) {
            abort();   /* the chunking changed what the scanner concluded */
        }
        if (ra == APR_SUCCESS) {
            check_dockerfile(p, ta, la);
        }
    }
    else {
        dp_dk_ref_t r;
        char *s = fuzz_str(p, data + 1, size - 1);
        check_dockerfile(p, s, size - 1);
        if (size - 1 < 300 && dp_dk_ref_parse(&r, p, s) == APR_SUCCESS
            && (r.registry == NULL || r.path == NULL || r.familiar == NULL || (r.tag == NULL && r.digest == NULL))) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
