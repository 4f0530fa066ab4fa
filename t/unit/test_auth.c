/* Unit tests: key file parsing, hashing, scopes, minting. */
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include "check_dockpay.h"
#include "dp_auth.h"

static const char *write_tmp(const char *content)
{
    static char path[64];
    FILE *f;
    snprintf(path, sizeof(path), "/tmp/dp_keys_%d", (int)getpid());
    f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

START_TEST(sha256_known_vector)
{
    char hex[65];
    dp_sha256_hex(hex, "abc", 3);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(mint_then_lookup)
{
    const char *token, *line, *err;
    dp_keyring_t *kr;
    const dp_key_t *k;
    char content[512];

    ck_assert_int_eq(dp_key_mint(&token, &line, tp, "ci", "docker:read,payments:write"), APR_SUCCESS);
    ck_assert_ptr_null(strstr(line, token));            /* the line never holds the key */
    snprintf(content, sizeof(content), "# keys\n\n%s\n", line);
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp(content)), APR_SUCCESS);
    ck_assert_int_eq(dp_keyring_count(kr), 1);
    k = dp_keyring_lookup(kr, token, strlen(token));
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->name, "ci");
    ck_assert(dp_scopes_allow(k->scopes, DP_SCOPE_DOCKER_READ));
    ck_assert(!dp_scopes_allow(k->scopes, DP_SCOPE_DOCKER_WRITE));
    ck_assert_ptr_null(dp_keyring_lookup(kr, "dpk_wrong", 9));
    ck_assert_ptr_null(dp_keyring_lookup(kr, token, strlen(token) - 1));
}
END_TEST

START_TEST(bad_lines_and_scopes)
{
    const char *err;
    dp_keyring_t *kr;
    unsigned s;
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp("x sha256:abc admin\n")), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 1"));
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp,
        write_tmp("x sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad root\n")), APR_EINVAL);
    ck_assert_int_ne(dp_scopes_parse(&s, "docker:read,bogus"), APR_SUCCESS);
    ck_assert_int_eq(dp_scopes_parse(&s, "admin"), APR_SUCCESS);
    ck_assert(dp_scopes_allow(s, DP_SCOPE_PAYMENTS_WRITE));
    ck_assert_int_ne(dp_keyring_load(&kr, &err, tp, "/nonexistent/keys"), APR_SUCCESS);
}
END_TEST

/* Auth test case. */
TCase *tc_auth(void)
{
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, sha256_known_vector);
    tcase_add_test(tc, mint_then_lookup);
    tcase_add_test(tc, bad_lines_and_scopes);
    return tc;
}
