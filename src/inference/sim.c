/* Placeholder for the sim client (SPEC §3.6), which is written on another branch; it exists so
 * that this branch links, and is replaced when the branches merge. */
#include "ipw/client.h"

static ipw_err sim_open(struct ipw_client *c, ipw_errbuf *eb)
{
    return ipw_fail(eb, IPW_E_UNSUPPORTED,
                    "the sim client is not built yet: use --client ollama, openai or vllm");
}

static void sim_close(struct ipw_client *c) {}

const struct ipw_client_ops ipw_client_sim = {
    .name = "sim",
    .default_base_url = NULL,
    .open = sim_open,
    .close = sim_close,
};
