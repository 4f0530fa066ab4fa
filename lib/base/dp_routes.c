/* dp_routes: the API's route table. Order matters: the first match wins, so literal segments
 * come before parameters that could also match them. */
#include "dp_routes.h"

#define DR DP_SCOPE_DOCKER_READ
#define DW DP_SCOPE_DOCKER_WRITE
#define PR DP_SCOPE_PAYMENTS_READ
#define PW DP_SCOPE_PAYMENTS_WRITE
#define AD DP_SCOPE_ADMIN

const dp_route_t dp_routes[] = {
    /* service */
    { "GET",    "/health",                              DP_SCOPE_NONE, "health" },
    { "GET",    "/openapi.json",                        DP_SCOPE_NONE, "openapi" },
    { "GET",    "/audit",                               DP_SCOPE_ADMIN, "audit.list" },   /* idem */

    /* containers */
    { "GET",    "/containers",                          DR, "containers.list" },
    { "POST",   "/containers",                          DW, "containers.create" },
    { "GET",    "/containers/{id}",                     DR, "containers.inspect" },
    { "DELETE", "/containers/{id}",                     DW, "containers.delete" },
    { "POST",   "/containers/{id}/start",               DW, "containers.start" },
    { "POST",   "/containers/{id}/stop",                DW, "containers.stop" },
    { "POST",   "/containers/{id}/restart",             DW, "containers.restart" },
    { "POST",   "/containers/{id}/kill",                DW, "containers.kill" },
    { "POST",   "/containers/{id}/pause",               DW, "containers.pause" },
    { "POST",   "/containers/{id}/unpause",             DW, "containers.unpause" },
    { "GET",    "/containers/{id}/logs",                DR, "containers.logs" },
    { "GET",    "/containers/{id}/stats",               DR, "containers.stats" },

    /* images */
    { "GET",    "/images",                              DR, "images.list" },
    { "POST",   "/images/pull",                         DW, "images.pull" },
    { "POST",   "/images/build",                        DW, "images.build" },
    { "GET",    "/images/{name+}",                      DR, "images.inspect" },
    { "DELETE", "/images/{name+}",                      DW, "images.delete" },

    /* volumes */
    { "GET",    "/volumes",                             DR, "volumes.list" },
    { "POST",   "/volumes",                             DW, "volumes.create" },
    { "GET",    "/volumes/{name}",                      DR, "volumes.inspect" },
    { "DELETE", "/volumes/{name}",                      DW, "volumes.delete" },

    /* networks */
    { "GET",    "/networks",                            DR, "networks.list" },
    { "POST",   "/networks",                            DW, "networks.create" },
    { "GET",    "/networks/{id}",                       DR, "networks.inspect" },
    { "DELETE", "/networks/{id}",                       DW, "networks.delete" },
    { "POST",   "/networks/{id}/connect",               DW, "networks.connect" },
    { "POST",   "/networks/{id}/disconnect",            DW, "networks.disconnect" },

    /* system */
    { "GET",    "/system/info",                         DR, "system.info" },
    { "GET",    "/system/version",                      DR, "system.version" },
    { "GET",    "/system/df",                           DR, "system.df" },
    { "POST",   "/system/prune",                        DW, "system.prune" },
    { "GET",    "/system/events",                       DR, "system.events" },

    /* compose */
    { "GET",    "/compose",                             DR, "compose.list" },
    { "POST",   "/compose",                             DW, "compose.up" },
    { "GET",    "/compose/{project}",                   DR, "compose.inspect" },
    { "DELETE", "/compose/{project}",                   DW, "compose.down" },
    { "POST",   "/compose/{project}/start",             DW, "compose.start" },
    { "POST",   "/compose/{project}/stop",              DW, "compose.stop" },
    { "POST",   "/compose/{project}/restart",           DW, "compose.restart" },

    /* payments */
    { "GET",    "/payments",                            PR, "payments.list" },
    { "POST",   "/payments/prepare",                    PW, "payments.prepare" },
    { "POST",   "/payments/cancel",                     PW, "payments.cancel" },
    { "POST",   "/payments/vbank",                      PW, "payments.vbank" },
    { "POST",   "/payments/verify",                     PW, "payments.verify" },
    { "GET",    "/payments/find/{merchant_uid}",        PR, "payments.find" },
    { "GET",    "/payments/{imp_uid}",                  PR, "payments.get" },

    /* subscriptions */
    { "GET",    "/subscriptions",                       PR, "subscriptions.list" },
    { "POST",   "/subscriptions/billing-key",           PW, "subscriptions.key_create" },
    { "GET",    "/subscriptions/billing-key/{customer_uid}", PR, "subscriptions.key_get" },
    { "DELETE", "/subscriptions/billing-key/{customer_uid}", PW, "subscriptions.key_delete" },
    { "POST",   "/subscriptions/pay",                   PW, "subscriptions.pay" },
    { "POST",   "/subscriptions/schedule",              PW, "subscriptions.schedule" },
    { "GET",    "/subscriptions/schedule/{customer_uid}", PR, "subscriptions.schedule_list" },
    { "DELETE", "/subscriptions/schedule/{customer_uid}", PW, "subscriptions.unschedule" },
    /* billing-aware containers (issue 15); PUT/DELETE also need docker:write (the handler checks) */
    { "GET",    "/subscriptions/{customer_uid}/status", PR, "subscriptions.status" },
    { "POST",   "/subscriptions/{customer_uid}/resume", PW, "subscriptions.resume" },
    { "PUT",    "/subscriptions/{customer_uid}/containers/{id}", PW, "subscriptions.bind" },
    { "DELETE", "/subscriptions/{customer_uid}/containers/{id}", PW, "subscriptions.unbind" },

    /* outbox: signed events for the merchant's application (admin) */
    { "GET",    "/events",                              AD, "events.list" },
    { "GET",    "/events/{id}",                         AD, "events.get" },
    { "POST",   "/events/{id}/redeliver",               AD, "events.redeliver" },

    /* webhooks: no key; protected by the source allow-list and by re-querying PortOne */
    { "POST",   "/webhooks/portone",                    DP_SCOPE_NONE, "webhooks.portone" },
    /* reconcile: received webhooks, admin only */
    { "GET",    "/webhooks/events",                     DP_SCOPE_ADMIN, "webhooks.events" },
};

const apr_size_t dp_routes_count = sizeof(dp_routes) / sizeof(dp_routes[0]);
