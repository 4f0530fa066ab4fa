/* mod_trivial: the benchmarks' ceiling of httpd itself — a handler that answers {"ok":true}
 * (SetHandler trivial). Built with apxs by bench/run.sh; never installed. */
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <apr_strings.h>

static int trivial_handler(request_rec *r)
{
    static const char body[] = "{\"ok\":true}";

    if (r->handler == NULL || strcmp(r->handler, "trivial") != 0) {
        return DECLINED;
    }
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, (apr_off_t)(sizeof(body) - 1));
    if (!r->header_only) {
        ap_rwrite(body, (int)(sizeof(body) - 1), r);
    }
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(trivial_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(trivial) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, register_hooks
};
