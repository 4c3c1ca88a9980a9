/* `ipw lab serve`: the lab as a local web page (SPEC §5.5, docs/commands/lab.md "serve"). Opens
 * the lab's store, starts the web server on loopback (or, with --allow-remote, elsewhere) and
 * waits for Ctrl-C; the running job is cancelled and its finished runs stay stored. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "ipw/client.h"
#include "ipw/labweb.h"
#include "ipw/labweb_lab.h"
#include "ipw/options.h"

int ipw_cli_lab_serve(int argc, char **argv)
{
    const char *prog = "ipw lab serve";
    const char *bind = "127.0.0.1", *client = NULL, *base_url = NULL, *model = NULL;
    const char *collector = NULL, *db = NULL, *server_pid = NULL;
    long port = 8765;
    bool allow_remote = false;
    int64_t baseline_ns = 0;
    struct ipw_strlist monitors = {0};
    struct ipw_option opts[] = {
        {"port", IPW_OPT_INT, &port, "PORT", "port of the page (default 8765; 0 picks a free one)",
         0, 65535},
        {"bind", IPW_OPT_STRING, &bind, "ADDR",
         "address to listen on (default 127.0.0.1; others need --allow-remote)"},
        {"allow-remote", IPW_OPT_FLAG, &allow_remote, NULL,
         "allow a non-loopback --bind (anyone who can reach it can open the page and run jobs)"},
        {"client", IPW_OPT_CHOICE, &client, "NAME", "the page's default client (default ollama)",
         0, 0, ipw_client_choices()},
        {"client-base-url", IPW_OPT_STRING, &base_url, "URL",
         "the page's default server URL (default: the client's)"},
        {"model", IPW_OPT_STRING, &model, "NAME", "the page's default model"},
        {"collector", IPW_OPT_STRING, &collector, "NAME",
         "what measures (default auto; 'ipw list collectors')"},
        {"monitor", IPW_OPT_LIST, &monitors, "HOST:PORT",
         "measure with a remote energy monitor (repeatable)"},
        {"server-pid", IPW_OPT_STRING, &server_pid, "PID|auto|none",
         "the inference server's process, for E_llm (default auto: the client URL's listener)"},
        {"baseline", IPW_OPT_DURATION, &baseline_ns, "DURATION",
         "idle baseline before each run (default 0.5s)"},
        {"db", IPW_OPT_STRING, &db, "PATH",
         "lab database (default $IPW_LAB_DB, else $XDG_DATA_HOME/ipw/lab.db, else "
         "~/.local/share/ipw/lab.db)"},
        IPW_OPT_END};
    struct ipw_command_help help = {
        "ipw lab serve [--port 8765] [--bind 127.0.0.1] [--allow-remote] [--client C] "
        "[--client-base-url URL] [--model M] [--collector NAME] [--db PATH]",
        "Serves the lab as one local web page: type a prompt, press Run, watch the live log and "
        "the answer stream, batches fill a table with statistics. Runs are queued one at a "
        "time and stored in the lab's database, so 'ipw lab history' sees them. The page and "
        "its JSON API (docs/lab-api.md) answer only on loopback unless --allow-remote is given; "
        "every request that changes something needs the per-process token printed below.",
        "example:\n  ipw lab serve --client ollama --model llama3.2:1b\n"
        "  then open http://127.0.0.1:8765/"};
    enum ipw_parse_result pr = ipw_parse_options(argc, argv, prog, opts, &help, NULL, 0, NULL);
    if (pr != IPW_PARSE_OK)
        return pr == IPW_PARSE_HELP ? 0 : 2;
    if (ipw_cli_check_base_url(prog, base_url))
        return 2;

    struct ipw_labweb_lab_config lc = {.db_path = db,
                                       .collector = collector,
                                       .server_pid = server_pid,
                                       .monitors = monitors.v,
                                       .n_monitors = monitors.n,
                                       .baseline_ns = baseline_ns};
    struct ipw_labweb_lab *lab = NULL;
    ipw_errbuf eb = {0};
    if (ipw_labweb_lab_open(&lc, &lab, &eb) != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        return 1;
    }
    struct ipw_labweb_config wc = {.bind = bind,
                                   .port = (int)port,
                                   .allow_remote = allow_remote,
                                   .client = client,
                                   .base_url = base_url,
                                   .model = model,
                                   .collector = collector};
    struct ipw_labweb *web = NULL;
    ipw_err e = ipw_labweb_start(&wc, &ipw_labweb_engine_lab, lab, &web, &eb);
    if (e != IPW_OK) {
        fprintf(stderr, "%s: %s\n", prog, eb.msg);
        ipw_labweb_lab_close(lab);
        return e == IPW_E_PERM ? 2 : 1;
    }
    ipw_cli_install_stop_handlers();
    const char *host = strchr(bind, ':') ? "[::1]" : bind;
    if (strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0)
        host = "127.0.0.1";
    printf("ipw lab: the page is at http://%s:%d/\n", host, ipw_labweb_port(web));
    printf("ipw lab: API token %s (header X-IPW-Token; the page has it already)\n",
           ipw_labweb_token(web));
    printf("ipw lab: press Ctrl-C to stop\n");
    fflush(stdout);
    while (!ipw_cli_stop_requested()) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "%s: stopping (the running job is cancelled; finished runs are stored)\n",
            prog);
    ipw_labweb_stop(web);
    ipw_labweb_lab_close(lab);
    return 0;
}
