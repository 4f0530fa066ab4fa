/* Unit tests: problem+json bodies. */
#include <string.h>
#include "check_dockpay.h"
#include "dp_problem.h"
#include "dp_json.h"

START_TEST(problem_body_has_rfc9457_members)
{
    dp_problem_t *p = dp_problem_make(tp, 409, "amount_mismatch", "paid %d, expected %d", 900, 1000);
    json_object *o;
    dp_problem_add(p, tp, "expected", json_object_new_int(1000));
    dp_problem_add(p, tp, "status", json_object_new_int(1));  /* may not override */
    o = dp_problem_json(tp, p);
    ck_assert_str_eq(dp_json_get_str(o, "type"), "about:blank");
    ck_assert_str_eq(dp_json_get_str(o, "title"), "Conflict");
    ck_assert_int_eq(dp_json_get_int(o, "status", 0), 409);
    ck_assert_str_eq(dp_json_get_str(o, "detail"), "paid 900, expected 1000");
    ck_assert_str_eq(dp_json_get_str(o, "code"), "amount_mismatch");
    ck_assert_int_eq(dp_json_get_int(o, "expected", 0), 1000);
}
END_TEST

/* Problem test case. */
TCase *tc_problem(void)
{
    TCase *tc = tcase_create("problem");
    tcase_add_test(tc, problem_body_has_rfc9457_members);
    return tc;
}
