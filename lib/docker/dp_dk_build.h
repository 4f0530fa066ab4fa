/* dp_dk_build: the checks behind POST /images/build and /images/pull — image references
 * normalised the way Docker does (which registry a name would be pulled from), the registry
 * allow-list, a Dockerfile checker (Docker's parser rules: escape directive, continuations,
 * comments, JSON form, ONBUILD) and a streaming tar scanner that finds the Dockerfile in a
 * posted build context. No I/O, no httpd. */
#ifndef DP_DK_BUILD_H
#define DP_DK_BUILD_H

#include <apr_pools.h>
#include <apr_tables.h>

/* An image reference split Docker's way: "redis" is docker.io/library/redis:latest. */
typedef struct dp_dk_ref_t {
    const char *registry;   /* "docker.io" or the host[:port] of the first component */
    const char *path;       /* repository path in the registry ("library/redis") */
    const char *tag;        /* tag, "latest" when neither tag nor digest was given */
    const char *digest;     /* "sha256:..." or NULL */
    const char *familiar;   /* the name the engine lists in RepoTags ("redis:latest",
                             * "localhost:5000/a/b:1"); with a digest: name@digest */
} dp_dk_ref_t;

/* Splits s (a reference as dp_dk_image_ref_ok accepts it) into *ref in p; APR_EINVAL when s
 * is not a name[:tag][@digest] Docker would accept (upper case in the path, empty parts). */
apr_status_t dp_dk_ref_parse(dp_dk_ref_t *ref, apr_pool_t *p, const char *s);

/* True when registry (host[:port], compared case-insensitively) is in allow (const char*
 * entries); allow NULL or empty means docker.io only. "index.docker.io" and
 * "registry-1.docker.io" count as docker.io. */
int dp_dk_registry_allowed(const apr_array_header_t *allow, const char *registry);

/* What the Dockerfile check found: on a refusal, the line (1-based, of the instruction's
 * first line) and a reason; on success, the images the build would use (FROM, COPY --from):
 * const char* references, stage names and "scratch" left out. */
typedef struct dp_dk_dfile_t {
    int line;
    const char *reason;
    apr_array_header_t *images;
} dp_dk_dfile_t;

/* Checks a Dockerfile of len bytes: refuses (APR_EINVAL, res->line/reason set) an ADD (also
 * under ONBUILD) whose sources name a URL or a git remote or use a variable, a heredoc,
 * FROM/COPY --from with a variable or FROM --platform. The text is read under both escape
 * characters (\ and `) so a disagreement about the escape directive cannot hide a line. */
apr_status_t dp_dk_dockerfile_check(dp_dk_dfile_t *res, apr_pool_t *p, const char *text, apr_size_t len);

/* Largest Dockerfile the scanner keeps (bytes). */
#define DP_DK_DOCKERFILE_MAX (1024 * 1024)

typedef struct dp_dk_tar_t dp_dk_tar_t;

/* Makes a scanner for a tar stream looking for the Dockerfile at path dockerfile (relative,
 * NULL for the default "Dockerfile", for which "dockerfile" also counts as Docker falls back
 * to it). */
dp_dk_tar_t *dp_dk_tar_create(apr_pool_t *p, const char *dockerfile);

/* Feeds len bytes of the stream; APR_EINVAL once the stream is refused (see dp_dk_tar_error);
 * after the end-of-archive marker the rest is ignored. */
apr_status_t dp_dk_tar_feed(dp_dk_tar_t *t, const char *buf, apr_size_t len);

/* Ends the stream: APR_SUCCESS with the Dockerfile's text in *ptext, its length in *plen (NUL-terminated),
 * APR_NOTFOUND when no entry is the Dockerfile, APR_EINVAL when refused (dp_dk_tar_error). */
apr_status_t dp_dk_tar_finish(const char **ptext, apr_size_t *plen, dp_dk_tar_t *t);

/* Why the stream was refused (NULL when it was not); *pstatus is 403 for a policy refusal
 * (compressed, a Dockerfile that is a link or reached through one, sparse files), 422 for a
 * context Docker could not use unambiguously (two Dockerfiles, a bad header, too large). */
const char *dp_dk_tar_error(const dp_dk_tar_t *t, int *pstatus);

#endif
