/* dp_memo: per-process memo of answers, keyed by string, valid for a ttl and one generation. */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "dp_memo.h"

typedef struct memo_entry_t {
    char *key;              /* malloc'd, also the hash key */
    char *val;              /* malloc'd, len bytes + NUL */
    apr_size_t len;
    apr_uint32_t gen;
    apr_time_t stored;
} memo_entry_t;

struct dp_memo_t {
    apr_thread_mutex_t *lock;
    apr_hash_t *entries;    /* key -> memo_entry_t* (malloc'd) */
    unsigned max_entries;
    apr_size_t max_bytes;
    apr_interval_time_t ttl;
};

static void entry_free(memo_entry_t *e)
{
    free(e->key);
    free(e->val);
    free(e);
}

/* Frees every entry; the caller holds the lock. */
static void clear_locked(dp_memo_t *m)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, m->entries); hi; hi = apr_hash_next(hi)) {
        memo_entry_t *e = apr_hash_this_val(hi);
        /* removing the current entry while iterating is allowed; its key is freed after */
        apr_hash_set(m->entries, e->key, APR_HASH_KEY_STRING, NULL);
        entry_free(e);
    }
}

static apr_status_t memo_cleanup(void *data)
{
    clear_locked(data);
    return APR_SUCCESS;
}

/* Creates a memo. */
apr_status_t dp_memo_create(dp_memo_t **pmemo, apr_pool_t *p, unsigned max_entries,
                            apr_size_t max_bytes, apr_interval_time_t ttl)
{
    dp_memo_t *m = apr_pcalloc(p, sizeof(*m));
    apr_status_t rv;

    *pmemo = NULL;
    if ((rv = apr_thread_mutex_create(&m->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    m->entries = apr_hash_make(p);
    m->max_entries = max_entries ? max_entries : 1;
    m->max_bytes = max_bytes;
    m->ttl = ttl;
    /* registered after the mutex, so it runs before the mutex is destroyed */
    apr_pool_cleanup_register(p, m, memo_cleanup, apr_pool_cleanup_null);
    *pmemo = m;
    return APR_SUCCESS;
}

/* Copies out a fresh answer of generation gen. */
apr_status_t dp_memo_get(const char **pval, apr_size_t *plen, dp_memo_t *memo, apr_pool_t *p,
                         const char *key, apr_uint32_t gen, apr_time_t now)
{
    memo_entry_t *e;
    apr_status_t rv = APR_NOTFOUND;

    *pval = NULL;
    *plen = 0;
    if (memo == NULL || memo->ttl <= 0) {
        return APR_NOTFOUND;
    }
    apr_thread_mutex_lock(memo->lock);
    e = apr_hash_get(memo->entries, key, APR_HASH_KEY_STRING);
    if (e && e->gen == gen && now >= e->stored && now - e->stored < memo->ttl) {
        *pval = apr_pstrmemdup(p, e->val, e->len);
        *plen = e->len;
        rv = APR_SUCCESS;
    }
    apr_thread_mutex_unlock(memo->lock);
    return rv;
}

/* Stores a copy of an answer. */
apr_status_t dp_memo_put(dp_memo_t *memo, const char *key, apr_uint32_t gen, apr_time_t now,
                         const char *val, apr_size_t len)
{
    memo_entry_t *e, *old;
    apr_size_t klen = strlen(key);

    if (memo == NULL || memo->ttl <= 0 || len > memo->max_bytes) {
        return APR_SUCCESS;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL || (e->key = malloc(klen + 1)) == NULL
        || (e->val = malloc(len + 1)) == NULL) {
        if (e) {
            entry_free(e);
        }
        return APR_ENOMEM;
    }
    memcpy(e->key, key, klen + 1);
    memcpy(e->val, val, len);
    e->val[len] = '\0';
    e->len = len;
    e->gen = gen;
    e->stored = now;
    apr_thread_mutex_lock(memo->lock);
    old = apr_hash_get(memo->entries, key, APR_HASH_KEY_STRING);
    if (old) {
        apr_hash_set(memo->entries, old->key, APR_HASH_KEY_STRING, NULL);
        entry_free(old);
    }
    else if (apr_hash_count(memo->entries) >= memo->max_entries) {
        clear_locked(memo);
    }
    apr_hash_set(memo->entries, e->key, APR_HASH_KEY_STRING, e);
    apr_thread_mutex_unlock(memo->lock);
    return APR_SUCCESS;
}

/* Number of answers held. */
unsigned dp_memo_count(dp_memo_t *memo)
{
    unsigned n;

    apr_thread_mutex_lock(memo->lock);
    n = apr_hash_count(memo->entries);
    apr_thread_mutex_unlock(memo->lock);
    return n;
}
