/* dp_store_img: image-tag ownership records (db/migrations/005_image_owners.sql) through
 * labelled statements. A ref is the name the engine lists in RepoTags. */
#ifndef DP_STORE_IMG_H
#define DP_STORE_IMG_H

#include <apr_pools.h>
#include <apr_hash.h>

#include "dp_store.h"

/* Reads the owner of ref into *powner (in db->pool; NULL when nobody owns it). */
apr_status_t dp_store_img_owner(const char **powner, dp_problem_t **pprob, dp_db_t *db, const char *ref);

/* Claims ref (pending) for key at now — call it only when the engine has no image ref: a new
 * row, a row key already owns, or a row of another key whose pull/build is over (the image was
 * removed outside the API) or was claimed before take_over_before (a request that died);
 * *pok is 1 when key owns ref afterwards, 0 when another key keeps it. */
apr_status_t dp_store_img_claim(int *pok, dp_problem_t **pprob, dp_db_t *db, const char *ref,
                                const char *key, apr_int64_t now, apr_int64_t take_over_before);

/* Marks key's claim of ref as written at now (its pull/build succeeded). */
apr_status_t dp_store_img_done(dp_problem_t **pprob, dp_db_t *db, const char *ref, const char *key,
                               apr_int64_t now);

/* Records ref as key's whatever it was (the admin's writes). */
apr_status_t dp_store_img_set(dp_problem_t **pprob, dp_db_t *db, const char *ref, const char *key,
                              apr_int64_t now);

/* Removes the record of ref (key NULL: whoever owns it; else only key's). */
apr_status_t dp_store_img_forget(dp_problem_t **pprob, dp_db_t *db, const char *ref, const char *key);

/* Reads the owners of the refs (const char*) only into *powners: ref -> key name (refs nobody
 * owns are absent), one labelled lookup (img_owner_get) a ref. */
apr_status_t dp_store_img_owners_of(apr_hash_t **powners, dp_problem_t **pprob, dp_db_t *db,
                                    const apr_array_header_t *refs);

/* Reads every record into *powners: ref -> key name (both in db->pool). */
apr_status_t dp_store_img_owners(apr_hash_t **powners, dp_problem_t **pprob, dp_db_t *db);

#endif
