/* dp_dk_misc: checks and encodings for the Docker engine routes (images, networks, system). */
#ifndef DP_DK_MISC_H
#define DP_DK_MISC_H

#include <apr_pools.h>

#include "dp_problem.h"

/* True when s looks like an image reference, id or digest reference: 1..255 characters of
 * [A-Za-z0-9._/:@+-], starting with an alphanumeric character, without "//" or "..". */
int dp_dk_image_ref_ok(const char *s);

/* Returns ref %-encoded for an engine path, keeping '/', ':' and '@' (the engine routes
 * /images/{name:.*}/json on the decoded path). */
char *dp_dk_ref_encode(apr_pool_t *p, const char *ref);

/* True when ref names a tag or a digest after its last '/' ("redis:7", "a/b@sha256:..."),
 * false for a bare repository ("redis", "localhost:5000/x"). */
int dp_dk_ref_has_tag(const char *ref);

/* True when s is a network (or container) id or name: 1..255 of [A-Za-z0-9_.-] starting
 * with an alphanumeric character. */
int dp_dk_name_ok(const char *s);

/* Makes the X-Registry-Auth value (base64url of {"username","password","serveraddress"};
 * absent values are left out) in p. */
const char *dp_dk_registry_auth(apr_pool_t *p, const char *user, const char *password,
                                const char *server);

/* True when s is an IPv4 or IPv6 address (family 4 or 6 in *pfamily, may be NULL). */
int dp_dk_ip_ok(const char *s, int *pfamily);

/* True when s is an address/prefix with the prefix in range for its family; *pfamily as above. */
int dp_dk_cidr_ok(const char *s, int *pfamily);

/* True when s is an event type the engine knows (container, image, volume, network, ...). */
int dp_dk_event_type_ok(const char *s);

/* True when s is a time for /events (unix seconds with an optional fraction, an RFC 3339
 * time or a Go duration): 1..40 of [0-9A-Za-z.:+-]. */
int dp_dk_event_time_ok(const char *s);

/* Returns ref with ":latest" added when it names neither a tag nor a digest (an empty tag
 * would make the engine pull every tag of the repository). */
const char *dp_dk_ref_with_tag(apr_pool_t *p, const char *ref);

#endif
