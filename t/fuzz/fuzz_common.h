/* fuzz_common: shared set-up of the libFuzzer targets in t/fuzz/ (see t/fuzz.sh).
 * Each input gets its own APR pool, destroyed at the end (the json-c values owned by it are
 * released by its cleanups), so a target leaks nothing per iteration. */
#ifndef DP_FUZZ_COMMON_H
#define DP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "dp_json.h"
#include "dp_problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Initialises APR once per process. */
static inline void fuzz_init(void)
{
    static int done;

    if (!done) {
        apr_initialize();
        done = 1;
    }
}

/* Returns a NUL-terminated copy of len bytes in p (the bytes may contain NULs themselves). */
static inline char *fuzz_str(apr_pool_t *p, const uint8_t *data, size_t len)
{
    char *s = apr_palloc(p, len + 1);

    if (len) {
        memcpy(s, data, len);
    }
    s[len] = '\0';
    return s;
}

/* Touches a problem's members so that a bad pointer in one shows up under ASan, and renders it
 * the way a handler would. */
static inline void fuzz_problem(apr_pool_t *p, const dp_problem_t *prob)
{
    if (prob) {
        json_object *o = dp_problem_json(p, prob);
        (void)dp_json_str(p, o);
    }
}

#endif
