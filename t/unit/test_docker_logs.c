/* Unit tests: Docker log frame decoder (chunk boundaries anywhere), TTY mode, time split. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "check_dockpay.h"
#include "dp_dk_logs.h"

typedef struct {
    char out[1 << 18];   /* "1:line\n2:line\n..." */
    apr_size_t len;
    int lines;
    int stop_after;      /* return an error after this many lines (0: never) */
} sink_t;

static apr_status_t on_line(void *baton, int stream, const char *line, apr_size_t len)
{
    sink_t *s = baton;

    ck_assert_uint_lt(s->len + len + 3, sizeof(s->out));
    s->out[s->len++] = (char)('0' + stream);
    s->out[s->len++] = ':';
    memcpy(s->out + s->len, line, len);
    s->len += len;
    s->out[s->len++] = '\n';
    s->out[s->len] = '\0';
    if (s->stop_after && ++s->lines >= s->stop_after) {
        return APR_EOF;
    }
    return APR_SUCCESS;
}

/* Appends a frame of stream with payload to buf at *plen. */
static void frame(char *buf, apr_size_t *plen, int stream, const char *payload, apr_size_t n)
{
    unsigned char *h = (unsigned char *)buf + *plen;

    h[0] = (unsigned char)stream;
    h[1] = h[2] = h[3] = 0;
    h[4] = (unsigned char)(n >> 24);
    h[5] = (unsigned char)(n >> 16);
    h[6] = (unsigned char)(n >> 8);
    h[7] = (unsigned char)n;
    memcpy(buf + *plen + 8, payload, n);
    *plen += 8 + n;
}

/* A stream with lines split across frames, a CRLF, an empty line, stderr interleaved. */
static apr_size_t sample(char *buf)
{
    apr_size_t n = 0;

    frame(buf, &n, 1, "hello-dockpay\n", 14);
    frame(buf, &n, 2, "warn: a\n", 8);
    frame(buf, &n, 1, "half ", 5);         /* a line in two frames */
    frame(buf, &n, 2, "err line\r\n", 10);
    frame(buf, &n, 1, "line\n\nthree\n", 12);
    frame(buf, &n, 0, "stdin-as-stdout\n", 16);
    frame(buf, &n, 1, "", 0);                /* an empty frame */
    frame(buf, &n, 1, "tail-no-newline", 15);
    return n;
}

static const char *expected =
    "1:hello-dockpay\n2:warn: a\n2:err line\n1:half line\n1:\n1:three\n1:stdin-as-stdout\n"
    "1:tail-no-newline\n";

static void feed_in_chunks(const char *buf, apr_size_t n, apr_size_t (*chunk)(apr_size_t), sink_t *s)
{
    dp_dk_logs_t *d = dp_dk_logs_create(tp, 0, on_line, s);
    apr_size_t off = 0;

    while (off < n) {
        apr_size_t k = chunk(off);
        if (k > n - off) k = n - off;
        ck_assert_int_eq(dp_dk_logs_feed(d, buf + off, k), APR_SUCCESS);
        off += k;
    }
    ck_assert_int_eq(dp_dk_logs_finish(d), APR_SUCCESS);
}

static apr_size_t one(apr_size_t off) { (void)off; return 1; }
static apr_size_t whole(apr_size_t off) { (void)off; return (apr_size_t)-1; }
static apr_size_t rnd(apr_size_t off) { (void)off; return 1 + (apr_size_t)(rand() % 13); }

START_TEST(logs_whole_buffer)
{
    static char buf[4096];
    static sink_t s;
    apr_size_t n = sample(buf);

    memset(&s, 0, sizeof(s));
    feed_in_chunks(buf, n, whole, &s);
    ck_assert_str_eq(s.out, expected);
}
END_TEST

START_TEST(logs_one_byte_chunks)
{
    static char buf[4096];
    static sink_t s;
    apr_size_t n = sample(buf);

    memset(&s, 0, sizeof(s));
    feed_in_chunks(buf, n, one, &s);
    ck_assert_str_eq(s.out, expected);
}
END_TEST

START_TEST(logs_random_chunks)
{
    static char buf[4096];
    static sink_t s;
    apr_size_t n = sample(buf);
    int round;

    for (round = 0; round < 200; ++round) {
        srand((unsigned)round);
        memset(&s, 0, sizeof(s));
        feed_in_chunks(buf, n, rnd, &s);
        ck_assert_str_eq(s.out, expected);
    }
}
END_TEST

START_TEST(logs_every_split_point)
{
    static char buf[4096];
    static sink_t s;
    apr_size_t n = sample(buf), cut;

    for (cut = 0; cut <= n; ++cut) {
        dp_dk_logs_t *d = dp_dk_logs_create(tp, 0, on_line, &s);
        memset(&s, 0, sizeof(s));
        ck_assert_int_eq(dp_dk_logs_feed(d, buf, cut), APR_SUCCESS);
        ck_assert_int_eq(dp_dk_logs_feed(d, buf + cut, n - cut), APR_SUCCESS);
        ck_assert_int_eq(dp_dk_logs_finish(d), APR_SUCCESS);
        ck_assert_str_eq(s.out, expected);
    }
}
END_TEST

START_TEST(logs_tty_is_raw)
{
    static sink_t s;
    static const char raw[] = "\x01\x00 not a frame\r\nsecond\n";
    dp_dk_logs_t *d = dp_dk_logs_create(tp, 1, on_line, &s);

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(dp_dk_logs_feed(d, raw, 5), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_logs_feed(d, raw + 5, sizeof(raw) - 1 - 5), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_logs_finish(d), APR_SUCCESS);
    ck_assert_uint_eq(s.len, 17 + 9);
    ck_assert(memcmp(s.out, "1:\x01\x00 not a frame\n1:second\n", 26) == 0);
}
END_TEST

START_TEST(logs_bad_header_and_truncation)
{
    static sink_t s;
    dp_dk_logs_t *d = dp_dk_logs_create(tp, 0, on_line, &s);
    char buf[64];
    apr_size_t n = 0;

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(dp_dk_logs_feed(d, "{\"message\":\"x\"}", 15), APR_EINVAL);   /* not framed */
    d = dp_dk_logs_create(tp, 0, on_line, &s);
    ck_assert_int_eq(dp_dk_logs_feed(d, "\x03\0\0\0\0\0\0\1x", 9), APR_EINVAL);     /* stream 3 */
    d = dp_dk_logs_create(tp, 0, on_line, &s);
    frame(buf, &n, 1, "cut short\n", 10);
    ck_assert_int_eq(dp_dk_logs_feed(d, buf, n - 4), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_logs_finish(d), APR_EINCOMPLETE);
    ck_assert_str_eq(s.out, "1:cut sh\n");
}
END_TEST

START_TEST(logs_long_lines_come_in_pieces)
{
    static sink_t s;
    static char line[DP_DK_LOG_LINE_MAX * 2 + 10];
    dp_dk_logs_t *d = dp_dk_logs_create(tp, 1, on_line, &s);
    apr_size_t n = sizeof(line) - 1;

    memset(&s, 0, sizeof(s));
    memset(line, 'a', n);
    line[n - 1] = '\n';
    ck_assert_int_eq(dp_dk_logs_feed(d, "x", 1), APR_SUCCESS);         /* a partial line first */
    ck_assert_int_eq(dp_dk_logs_feed(d, line, n), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_logs_finish(d), APR_SUCCESS);
    /* x + (2*MAX+8 a's) = 2*MAX + 9 bytes: pieces MAX, MAX, 9 */
    ck_assert_uint_eq(s.len, (2 + DP_DK_LOG_LINE_MAX + 1) * 2 + 2 + 9 + 1);
}
END_TEST

START_TEST(logs_exact_max_line_has_no_extra_empty_line)
{
    static sink_t s;
    static char line[DP_DK_LOG_LINE_MAX + 1];
    dp_dk_logs_t *d = dp_dk_logs_create(tp, 1, on_line, &s);

    memset(&s, 0, sizeof(s));
    memset(line, 'b', DP_DK_LOG_LINE_MAX);
    line[DP_DK_LOG_LINE_MAX] = '\n';
    ck_assert_int_eq(dp_dk_logs_feed(d, line, 10), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_logs_feed(d, line + 10, sizeof(line) - 10), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_logs_feed(d, "z\n", 2), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_logs_finish(d), APR_SUCCESS);
    ck_assert_uint_eq(s.len, 2 + DP_DK_LOG_LINE_MAX + 1 + 4);
    ck_assert_str_eq(s.out + s.len - 4, "1:z\n");
}
END_TEST

START_TEST(logs_callback_error_stops)
{
    static char buf[4096];
    static sink_t s;
    apr_size_t n = sample(buf);
    dp_dk_logs_t *d = dp_dk_logs_create(tp, 0, on_line, &s);

    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    ck_assert_int_eq(dp_dk_logs_feed(d, buf, n), APR_EOF);
    ck_assert_int_eq(s.lines, 2);
}
END_TEST

START_TEST(logs_split_time)
{
    const char *t, *x;
    apr_size_t tl, xl;
    const char *l1 = "2024-05-01T10:00:00.123456789Z hello world";
    const char *l2 = "2024-05-01T10:00:00Z";
    const char *l3 = "hello 2024";

    ck_assert(dp_dk_logs_split_time(&t, &tl, &x, &xl, l1, strlen(l1)));
    ck_assert_str_eq(apr_pstrmemdup(tp, t, tl), "2024-05-01T10:00:00.123456789Z");
    ck_assert_str_eq(apr_pstrmemdup(tp, x, xl), "hello world");
    ck_assert(dp_dk_logs_split_time(&t, &tl, &x, &xl, l2, strlen(l2)));
    ck_assert_uint_eq(xl, 0);
    ck_assert(!dp_dk_logs_split_time(&t, &tl, &x, &xl, l3, strlen(l3)));
    ck_assert_ptr_eq(x, l3);
    ck_assert_uint_eq(xl, strlen(l3));
}
END_TEST

/* Log decoder test case. */
TCase *tc_docker_logs(void)
{
    TCase *tc = tcase_create("docker_logs");
    tcase_add_test(tc, logs_whole_buffer);
    tcase_add_test(tc, logs_one_byte_chunks);
    tcase_add_test(tc, logs_random_chunks);
    tcase_add_test(tc, logs_every_split_point);
    tcase_add_test(tc, logs_tty_is_raw);
    tcase_add_test(tc, logs_bad_header_and_truncation);
    tcase_add_test(tc, logs_long_lines_come_in_pieces);
    tcase_add_test(tc, logs_exact_max_line_has_no_extra_empty_line);
    tcase_add_test(tc, logs_callback_error_stops);
    tcase_add_test(tc, logs_split_time);
    return tc;
}
