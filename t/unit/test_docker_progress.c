/* Unit tests: the line splitter and the NDJSON progress parser of pull and build. */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>

#include "check_dockpay.h"
#include "dp_dk_progress.h"
#include "dp_json.h"

static const char pull_ok[] =
    "{\"status\":\"Pulling from dp/bb\",\"id\":\"1\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a1b2\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":512,\"total\":1024},"
    "\"progress\":\"[=====>     ]\",\"id\":\"a1b2\"}\r\n"
    "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"a1b2\"}\r\n"
    "{\"status\":\"Digest: sha256:0123abcd\"}\r\n"
    "{\"status\":\"Status: Downloaded newer image for localhost:5000/dp/bb:1\"}\r\n";

static const char pull_bad[] =
    "{\"status\":\"Pulling from dp/bb\",\"id\":\"1\"}\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2},\"id\":\"a1b2\"}\n"
    "{\"errorDetail\":{\"message\":\"filesystem layer verification failed for digest sha256:feed\"},"
    "\"error\":\"filesystem layer verification failed for digest sha256:feed\"}\n";

static const char build_ok[] =
    "{\"stream\":\"Step 1/2 : FROM local/busybox:test\"}\n"
    "{\"stream\":\"\\n\"}\n"
    "{\"stream\":\" ---\\u003e 5a1b\\n\"}\n"
    "{\"stream\":\"Step 2/2 : RUN echo built \\u003e /f\\n\"}\n"
    "{\"stream\":\" ---\\u003e Running in 77aa\\n\"}\n"
    "{\"stream\":\"hello \"}\n{\"stream\":\"world\\nsecond\\n\"}\n"
    "{\"aux\":{\"ID\":\"sha256:beefbeef\"}}\n"
    "{\"stream\":\"Successfully built beefbeef\\n\"}\n"
    "{\"stream\":\"Successfully tagged dp/built:1\\n\"}\n";

static const char build_bad[] =
    "{\"stream\":\"Step 1/2 : FROM local/busybox:test\\n\"}\n"
    "{\"stream\":\"Step 2/2 : RUN false\\n\"}\n"
    "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c false' returned a non-zero code: 1\"},"
    "\"error\":\"The command '/bin/sh -c false' returned a non-zero code: 1\"}\n";

/* Feeds s in random chunk sizes (seeded) and finishes. */
static dp_dk_progress_t *feed_random(const char *s, int keep_log, unsigned seed)
{
    dp_dk_progress_t *g = dp_dk_progress_create(tp, keep_log);
    apr_size_t len = strlen(s), off = 0;

    srand(seed);
    while (off < len) {
        apr_size_t n = 1 + (apr_size_t)(rand() % 17);
        if (n > len - off) n = len - off;
        ck_assert_int_eq(dp_dk_progress_feed(g, s + off, n), APR_SUCCESS);
        off += n;
    }
    dp_dk_progress_finish(g);
    return g;
}

START_TEST(pull_success_in_random_chunks)
{
    unsigned seed;

    for (seed = 1; seed < 60; ++seed) {
        dp_dk_progress_t *g = feed_random(pull_ok, 0, seed);
        ck_assert_ptr_null(g->error);
        ck_assert_str_eq(g->status, "Downloaded newer image for localhost:5000/dp/bb:1");
        ck_assert_str_eq(g->digest, "sha256:0123abcd");
        ck_assert_int_eq((int)g->lines, 6);
    }
}
END_TEST

START_TEST(pull_inband_error_split_across_chunks)
{
    unsigned seed;

    for (seed = 1; seed < 60; ++seed) {
        dp_dk_progress_t *g = feed_random(pull_bad, 0, seed);
        ck_assert_ptr_nonnull(g->error);
        ck_assert_str_eq(g->error, "filesystem layer verification failed for digest sha256:feed");
    }
    {
        /* one byte at a time, and the error line without its final newline */
        dp_dk_progress_t *g = dp_dk_progress_create(tp, 0);
        apr_size_t i, n = strlen(pull_bad) - 1;
        for (i = 0; i < n; ++i) {
            dp_dk_progress_feed(g, pull_bad + i, 1);
        }
        ck_assert_ptr_null(g->error);  /* not complete yet */
        dp_dk_progress_finish(g);
        ck_assert_ptr_nonnull(g->error);
    }
}
END_TEST

START_TEST(error_detail_only_is_detected)
{
    dp_dk_progress_t *g = feed_random("{\"errorDetail\":{\"message\":\"manifest unknown\"}}", 0, 3);
    ck_assert_str_eq(g->error, "manifest unknown");
}
END_TEST

START_TEST(build_log_id_and_tags)
{
    unsigned seed;

    for (seed = 1; seed < 40; ++seed) {
        dp_dk_progress_t *g = feed_random(build_ok, 1, seed);
        json_object *log = dp_dk_progress_log(g, tp);
        ck_assert_ptr_null(g->error);
        ck_assert_str_eq(g->id, "sha256:beefbeef");
        ck_assert_int_eq(g->tags->nelts, 1);
        ck_assert_str_eq(APR_ARRAY_IDX(g->tags, 0, const char *), "dp/built:1");
        ck_assert_int_eq((int)json_object_array_length(log), 8);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(log, 0)),
                         "Step 1/2 : FROM local/busybox:test");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(log, 2)),
                         "Step 2/2 : RUN echo built > /f");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(log, 4)), "hello world");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(log, 5)), "second");
    }
}
END_TEST

START_TEST(build_id_from_successfully_built)
{
    dp_dk_progress_t *g = feed_random("{\"stream\":\"Successfully built 0a1b2c3d\\n\"}\n", 1, 9);
    ck_assert_str_eq(g->id, "0a1b2c3d");
}
END_TEST

START_TEST(build_error_keeps_log)
{
    dp_dk_progress_t *g = feed_random(build_bad, 1, 5);
    json_object *log = dp_dk_progress_log(g, tp);
    ck_assert_str_eq(g->error, "The command '/bin/sh -c false' returned a non-zero code: 1");
    ck_assert_int_eq((int)json_object_array_length(log), 2);
    ck_assert_ptr_null(g->id);
}
END_TEST

START_TEST(log_keeps_the_last_lines)
{
    dp_dk_progress_t *g = dp_dk_progress_create(tp, 1);
    json_object *log;
    int i;

    for (i = 0; i < DP_DK_PROGRESS_LOG_LINES + 10; ++i) {
        const char *l = apr_psprintf(tp, "{\"stream\":\"line %d\\n\"}\n", i);
        dp_dk_progress_feed(g, l, strlen(l));
    }
    dp_dk_progress_finish(g);
    log = dp_dk_progress_log(g, tp);
    ck_assert_int_eq((int)json_object_array_length(log), DP_DK_PROGRESS_LOG_LINES);
    ck_assert_int_eq((int)g->log_dropped, 10);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(log, 0)), "line 10");
}
END_TEST

START_TEST(overlong_line_is_skipped_not_buffered)
{
    dp_dk_progress_t *g = dp_dk_progress_create(tp, 0);
    char *big = apr_palloc(tp, DP_DK_PROGRESS_MAX_LINE + 100);
    const char *err = "{\"error\":\"boom\"}\n";
    apr_size_t raw_len;

    memset(big, 'x', DP_DK_PROGRESS_MAX_LINE + 99);
    big[DP_DK_PROGRESS_MAX_LINE + 99] = '\n';
    dp_dk_progress_feed(g, big, 1000);
    dp_dk_progress_feed(g, big + 1000, DP_DK_PROGRESS_MAX_LINE + 100 - 1000);
    dp_dk_progress_feed(g, err, strlen(err));
    dp_dk_progress_finish(g);
    ck_assert_str_eq(g->error, "boom");
    dp_dk_progress_raw(g, &raw_len);
    ck_assert_int_eq((int)raw_len, DP_DK_PROGRESS_RAW);
}
END_TEST

static apr_status_t count_line(void *baton, const char *line, apr_size_t len)
{
    apr_array_header_t *a = baton;
    APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(tp, line, len);
    return APR_SUCCESS;
}

START_TEST(line_splitter_handles_crlf_and_tail)
{
    apr_array_header_t *a = apr_array_make(tp, 4, sizeof(const char *));
    dp_dk_lines_t *l = dp_dk_lines_create(tp, 8, count_line, a);

    dp_dk_lines_feed(l, "ab\r", 3);
    dp_dk_lines_feed(l, "\ncd\n0123456789abc\nef", 20);
    dp_dk_lines_finish(l);
    ck_assert_int_eq(a->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 0, const char *), "ab");
    ck_assert_str_eq(APR_ARRAY_IDX(a, 1, const char *), "cd");
    ck_assert_str_eq(APR_ARRAY_IDX(a, 2, const char *), "ef");
    ck_assert_int_eq((int)dp_dk_lines_skipped(l), 1);
}
END_TEST

/* Progress parser test case. */
TCase *tc_docker_progress(void)
{
    TCase *tc = tcase_create("docker_progress");
    tcase_add_test(tc, pull_success_in_random_chunks);
    tcase_add_test(tc, pull_inband_error_split_across_chunks);
    tcase_add_test(tc, error_detail_only_is_detected);
    tcase_add_test(tc, build_log_id_and_tags);
    tcase_add_test(tc, build_id_from_successfully_built);
    tcase_add_test(tc, build_error_keeps_log);
    tcase_add_test(tc, log_keeps_the_last_lines);
    tcase_add_test(tc, overlong_line_is_skipped_not_buffered);
    tcase_add_test(tc, line_splitter_handles_crlf_and_tail);
    return tc;
}
