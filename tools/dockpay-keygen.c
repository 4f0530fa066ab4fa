/* dockpay-keygen: mints a random API key and prints it with the key-file line to add. */
#include <stdio.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "dp_auth.h"

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    const char *token, *line, *quotas = NULL;
    int quiet = argc > 1 && !strcmp(argv[1], "-q");
    int a = quiet ? 2 : 1, i;

    if (argc - a < 1 || argc - a > 6) {
        fprintf(stderr, "usage: dockpay-keygen [-q] NAME [SCOPES [QUOTA...]]\n"
                "  SCOPES: comma-separated from docker:read docker:write payments:read "
                "payments:write admin (default: admin)\n"
                "  QUOTA: containers=N memory=SIZE cpus=N volumes=N (0 or 'unlimited': no limit;\n"
                "         not given: the server's DockpayQuota* defaults, none for admin keys)\n"
                "  prints the key (shown once) and the line to add to the key file;\n"
                "  -q prints the key on line 1 and the key-file line on line 2, nothing else\n");
        return 2;
    }
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    for (i = a + 2; i < argc; ++i) {
        quotas = quotas ? apr_pstrcat(p, quotas, " ", argv[i], NULL) : argv[i];
    }
    if (dp_key_mint(&token, &line, p, argv[a], argc - a >= 2 ? argv[a + 1] : "admin", quotas) != APR_SUCCESS) {
        fprintf(stderr, "dockpay-keygen: bad name (use [A-Za-z0-9._:-]), unknown scope or bad quota\n");
        return 2;
    }
    if (quiet) {
        printf("%s\n%s\n", token, line);
    }
    else {
        printf("API key (give it to the client; it is not stored anywhere):\n  %s\n"
               "Add this line to the DockpayKeyFile:\n  %s\n", token, line);
    }
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
