/* dp_store_img: image-tag ownership records through labelled statements. */
#include <string.h>
#include <apr_strings.h>

#include "dp_store_img.h"

const dp_stmt_def_t dp_store_img_statements[] = {
    { "img_owner_get", "SELECT key_name FROM image_owners WHERE ref = %s" },
    /* assignments run left to right: the later ones see the new key_name; another key's row
     * is taken over only when its pull/build is over (pending = 0) or older than the limit */
    { "img_owner_claim",
      "INSERT INTO image_owners (ref, key_name, created_at, updated_at, pending) VALUES (%s, %s, %lld, %lld, 1) "
      "ON DUPLICATE KEY UPDATE "
      "key_name = IF(key_name = VALUES(key_name) OR pending = 0 OR updated_at < %lld, VALUES(key_name), key_name), "
      "pending = IF(key_name = VALUES(key_name), 1, pending), "
      "updated_at = IF(key_name = VALUES(key_name), VALUES(updated_at), updated_at)" },
    { "img_owner_done", "UPDATE image_owners SET pending = 0, updated_at = %lld WHERE ref = %s AND key_name = %s" },
    { "img_owner_set",
      "INSERT INTO image_owners (ref, key_name, created_at, updated_at, pending) VALUES (%s, %s, %lld, %lld, 0) "
      "ON DUPLICATE KEY UPDATE key_name = VALUES(key_name), updated_at = VALUES(updated_at), pending = 0" },
    { "img_owner_forget", "DELETE FROM image_owners WHERE ref = %s" },
    { "img_owner_release", "DELETE FROM image_owners WHERE ref = %s AND key_name = %s" },
    { "img_owner_all", "SELECT ref, key_name FROM image_owners" },
    { NULL, NULL }
};

/* Reads the owner of ref. */
apr_status_t dp_store_img_owner(const char **powner, dp_problem_t **pprob, dp_db_t *db, const char *ref)
{
    const void *args[1];

    args[0] = ref;
    return dp_store_select_value(powner, pprob, db, "img_owner_get", args);
}

/* Claims ref for key. */
apr_status_t dp_store_img_claim(int *pok, dp_problem_t **pprob, dp_db_t *db, const char *ref,
                                const char *key, apr_int64_t now, apr_int64_t take_over_before)
{
    const void *args[5];
    const char *owner = NULL;
    apr_status_t rv;

    *pok = 0;
    args[0] = ref;
    args[1] = key;
    args[2] = &now;
    args[3] = &now;
    args[4] = &take_over_before;
    if ((rv = dp_store_exec(NULL, pprob, db, "img_owner_claim", args)) != APR_SUCCESS
        || (rv = dp_store_img_owner(&owner, pprob, db, ref)) != APR_SUCCESS) {
        return rv;
    }
    *pok = owner != NULL && strcmp(owner, key) == 0;
    return APR_SUCCESS;
}

/* Marks key's claim of ref as written. */
apr_status_t dp_store_img_done(dp_problem_t **pprob, dp_db_t *db, const char *ref, const char *key,
                               apr_int64_t now)
{
    const void *args[3];

    args[0] = &now;
    args[1] = ref;
    args[2] = key;
    return dp_store_exec(NULL, pprob, db, "img_owner_done", args);
}

/* Records ref as key's. */
apr_status_t dp_store_img_set(dp_problem_t **pprob, dp_db_t *db, const char *ref, const char *key,
                              apr_int64_t now)
{
    const void *args[4];

    args[0] = ref;
    args[1] = key;
    args[2] = &now;
    args[3] = &now;
    return dp_store_exec(NULL, pprob, db, "img_owner_set", args);
}

/* Removes the record of ref. */
apr_status_t dp_store_img_forget(dp_problem_t **pprob, dp_db_t *db, const char *ref, const char *key)
{
    const void *args[2];

    args[0] = ref;
    args[1] = key;
    return dp_store_exec(NULL, pprob, db, key ? "img_owner_release" : "img_owner_forget", args);
}

/* Reads every record. */
apr_status_t dp_store_img_owners(apr_hash_t **powners, dp_problem_t **pprob, dp_db_t *db)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    *powners = apr_hash_make(db->pool);
    if ((rv = dp_store_select(&res, pprob, db, "img_owner_all", NULL)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        const char *ref = dp_store_col(db, row, 0), *key = dp_store_col(db, row, 1);
        if (ref && key) {
            apr_hash_set(*powners, ref, APR_HASH_KEY_STRING, key);
        }
    }
    return APR_SUCCESS;
}

/* Reads the owners of refs. */
apr_status_t dp_store_img_owners_of(apr_hash_t **powners, dp_problem_t **pprob, dp_db_t *db,
                                    const apr_array_header_t *refs)
{
    apr_hash_t *h = apr_hash_make(db->pool);
    apr_status_t rv;
    int i;

    for (i = 0; i < refs->nelts; ++i) {
        const char *ref = APR_ARRAY_IDX(refs, i, const char *), *owner = NULL;
        if (apr_hash_get(h, ref, APR_HASH_KEY_STRING)) {
            continue;
        }
        if ((rv = dp_store_img_owner(&owner, pprob, db, ref)) != APR_SUCCESS) {
            return rv;
        }
        if (owner) {
            apr_hash_set(h, apr_pstrdup(db->pool, ref), APR_HASH_KEY_STRING, owner);
        }
    }
    *powners = h;
    return APR_SUCCESS;
}
