/* dp_dk_misc: checks and encodings for the Docker engine routes. */
#include <string.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_base64.h>
#include <json-c/json.h>

#include "dp_dk_misc.h"
#include "dp_util.h"
#include "dp_json.h"

/* True when s looks like an image reference, id or digest reference. */
int dp_dk_image_ref_ok(const char *s)
{
    apr_size_t i, n;

    if (s == NULL || (n = strlen(s)) == 0 || n > 255 || !apr_isalnum((unsigned char)s[0])) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (!(apr_isalnum(c) || strchr("._/:@+-", c))) {
            return 0;
        }
    }
    return strstr(s, "//") == NULL && strstr(s, "..") == NULL && s[n - 1] != '/';
}

/* Returns ref %-encoded for an engine path, keeping '/', ':' and '@'. */
char *dp_dk_ref_encode(apr_pool_t *p, const char *ref)
{
    return dp_url_encode_keep(p, ref, "/:@");
}

/* True when ref names a tag or a digest after its last '/'. */
int dp_dk_ref_has_tag(const char *ref)
{
    const char *slash = strrchr(ref, '/');
    const char *last = slash ? slash + 1 : ref;

    return strchr(ref, '@') != NULL || strchr(last, ':') != NULL;
}

/* True when s is a network (or container) id or name. */
int dp_dk_name_ok(const char *s)
{
    apr_size_t i;

    if (s == NULL || !apr_isalnum((unsigned char)s[0])) {
        return 0;
    }
    for (i = 0; s[i]; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 255 || !(apr_isalnum(c) || c == '_' || c == '.' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Makes the X-Registry-Auth value in p. */
const char *dp_dk_registry_auth(apr_pool_t *p, const char *user, const char *password,
                                const char *server)
{
    json_object *o = dp_json_object(p);
    const char *js;
    char *out;
    int len, i;

    dp_json_set_str(o, "username", user);
    dp_json_set_str(o, "password", password);
    dp_json_set_str(o, "serveraddress", server);
    js = dp_json_str(p, o);
    out = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)strlen(js)));
    len = apr_base64_encode(out, js, (int)strlen(js));
    for (i = 0; i < len && out[i]; ++i) {
        if (out[i] == '+') out[i] = '-';
        else if (out[i] == '/') out[i] = '_';
    }
    return out;
}

/* True when s is an IPv4 or IPv6 address. */
int dp_dk_ip_ok(const char *s, int *pfamily)
{
    unsigned char buf[16];

    if (s == NULL || strlen(s) > 45) {
        return 0;
    }
    if (inet_pton(AF_INET, s, buf) == 1) {
        if (pfamily) *pfamily = 4;
        return 1;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        if (pfamily) *pfamily = 6;
        return 1;
    }
    return 0;
}

/* True when s is an address/prefix with the prefix in range for its family. */
int dp_dk_cidr_ok(const char *s, int *pfamily)
{
    const char *slash;
    char addr[64];
    apr_int64_t bits;
    int fam = 0;

    if (s == NULL || (slash = strchr(s, '/')) == NULL || (apr_size_t)(slash - s) >= sizeof(addr)) {
        return 0;
    }
    memcpy(addr, s, (apr_size_t)(slash - s));
    addr[slash - s] = '\0';
    if (!dp_dk_ip_ok(addr, &fam) || dp_parse_int(&bits, slash + 1, 0, fam == 4 ? 32 : 128) != APR_SUCCESS
        || !apr_isdigit((unsigned char)slash[1])) {
        return 0;
    }
    if (pfamily) *pfamily = fam;
    return 1;
}

/* True when s is an event type the engine knows. */
int dp_dk_event_type_ok(const char *s)
{
    static const char *const types[] = {
        "container", "image", "volume", "network", "daemon", "plugin", "node", "service",
        "secret", "config", "builder", NULL
    };
    int i;

    for (i = 0; s && types[i]; ++i) {
        if (!strcmp(s, types[i])) {
            return 1;
        }
    }
    return 0;
}

/* True when s is a time for /events. */
int dp_dk_event_time_ok(const char *s)
{
    apr_size_t i;

    if (s == NULL || *s == '\0' || strlen(s) > 40) {
        return 0;
    }
    for (i = 0; s[i]; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (!(apr_isalnum(c) || c == '.' || c == ':' || c == '+' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Returns ref with ":latest" added when it names neither a tag nor a digest. */
const char *dp_dk_ref_with_tag(apr_pool_t *p, const char *ref)
{
    return dp_dk_ref_has_tag(ref) ? ref : apr_pstrcat(p, ref, ":latest", NULL);
}
