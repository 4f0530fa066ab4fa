/* Unit tests: the per-process memo (dp_memo). */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include "check_dockpay.h"
#include "dp_memo.h"

#define SEC APR_USEC_PER_SEC

START_TEST(memo_answers_within_ttl_and_generation_only)
{
    dp_memo_t *m;
    const char *v;
    apr_size_t n;

    ck_assert_int_eq(dp_memo_create(&m, tp, 8, 1024, SEC), APR_SUCCESS);
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k", 1, 100), APR_NOTFOUND);
    ck_assert_int_eq(dp_memo_put(m, "k", 1, 100, "{\"a\":1}", 7), APR_SUCCESS);
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k", 1, 100 + SEC - 1), APR_SUCCESS);
    ck_assert_uint_eq(n, 7);
    ck_assert_str_eq(v, "{\"a\":1}");
    /* expired, another generation, another key, a clock that went back */
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k", 1, 100 + SEC), APR_NOTFOUND);
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k", 2, 100), APR_NOTFOUND);
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "K", 1, 100), APR_NOTFOUND);
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k", 1, 99), APR_NOTFOUND);
    ck_assert_ptr_null(v);
    /* a newer answer replaces the old one */
    dp_memo_put(m, "k", 2, 200, "x", 1);
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k", 2, 200), APR_SUCCESS);
    ck_assert_str_eq(v, "x");
    ck_assert_uint_eq(dp_memo_count(m), 1);
}
END_TEST

START_TEST(memo_is_bounded_in_entries_and_bytes)
{
    dp_memo_t *m;
    const char *v;
    apr_size_t n;
    char big[2000];
    int i;

    dp_memo_create(&m, tp, 4, 1000, SEC);
    memset(big, 'x', sizeof(big));
    dp_memo_put(m, "big", 1, 1, big, sizeof(big));
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "big", 1, 1), APR_NOTFOUND);
    for (i = 0; i < 50; ++i) {
        dp_memo_put(m, apr_psprintf(tp, "k%d", i), 1, 1, "v", 1);
        ck_assert_uint_le(dp_memo_count(m), 4);
    }
    /* the last one stored is always there */
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k49", 1, 1), APR_SUCCESS);
}
END_TEST

START_TEST(memo_ttl_zero_is_off)
{
    dp_memo_t *m;
    const char *v;
    apr_size_t n;

    dp_memo_create(&m, tp, 4, 1000, 0);
    dp_memo_put(m, "k", 1, 1, "v", 1);
    ck_assert_int_eq(dp_memo_get(&v, &n, m, tp, "k", 1, 1), APR_NOTFOUND);
    ck_assert_uint_eq(dp_memo_count(m), 0);
}
END_TEST

typedef struct { dp_memo_t *m; int id; int bad; } worker_t;

static void *APR_THREAD_FUNC hammer(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < 20000; ++i) {
        const char *key = apr_psprintf(p, "k%d", i % 13);
        const char *val = apr_psprintf(p, "value of %s", key);
        const char *got;
        apr_size_t n;

        if (i % 3 == 0) {
            dp_memo_put(w->m, key, 7, 1, val, strlen(val));
        }
        else if (dp_memo_get(&got, &n, w->m, p, key, 7, 1) == APR_SUCCESS
                 && (n != strlen(val) || strcmp(got, val) != 0)) {
            w->bad++;
        }
        if (i % 1000 == 999) {
            apr_pool_clear(p);
        }
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(memo_is_thread_safe)
{
    dp_memo_t *m;
    apr_thread_t *th[6];
    worker_t w[6];
    apr_status_t rv;
    int i;

    dp_memo_create(&m, tp, 8, 1000, SEC);
    for (i = 0; i < 6; ++i) {
        w[i].m = m;
        w[i].id = i;
        w[i].bad = 0;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, hammer, &w[i], tp), APR_SUCCESS);
    }
    for (i = 0; i < 6; ++i) {
        apr_thread_join(&rv, th[i]);
        ck_assert_int_eq(w[i].bad, 0);
    }
    ck_assert_uint_le(dp_memo_count(m), 8);
}
END_TEST

/* Memo test case. */
TCase *tc_memo(void)
{
    TCase *tc = tcase_create("memo");
    tcase_add_test(tc, memo_answers_within_ttl_and_generation_only);
    tcase_add_test(tc, memo_is_bounded_in_entries_and_bytes);
    tcase_add_test(tc, memo_ttl_zero_is_off);
    tcase_add_test(tc, memo_is_thread_safe);
    return tc;
}
