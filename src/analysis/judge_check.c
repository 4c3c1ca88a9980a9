/* Reaching the judge before a run starts: `ipw profile --eval-base-url URL` promises that a
 * judge that cannot work fails at once, not after every query has been measured. One
 * GET {base}/models (what every OpenAI-compatible server answers) tells a typo, a server that is
 * not running, or a refused key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference/http_stream.h"
#include "ipw/clock.h"
#include "ipw/judge.h"

ipw_err ipw_judge_check(const char *base_url, ipw_errbuf *eb)
{
    char url[2048], shown[2048];
    ipw_err e = ipw_judge_endpoint(base_url, url, sizeof url, eb);
    if (e != IPW_OK)
        return e;
    /* .../chat/completions -> .../models */
    static const char tail[] = "/chat/completions";
    size_t n = strlen(url), t = sizeof tail - 1;
    if (n > t && strcmp(url + n - t, tail) == 0 && n - t + sizeof "/models" <= sizeof url)
        memcpy(url + n - t, "/models", sizeof "/models");
    ipw_judge_url_for_display(url, shown, sizeof shown);
    const char *key = getenv("IPW_EVAL_API_KEY");
    if (!key || !*key)
        key = getenv("OPENAI_API_KEY");
    struct ipw_http_call c = {.method = "GET",
                              .url = url,
                              .accept = "application/json",
                              .bearer = key && *key ? key : NULL,
                              .connect_timeout_ns = 10 * IPW_NS_PER_SEC,
                              .idle_timeout_ns = 20 * IPW_NS_PER_SEC,
                              .max_body = 1u << 20};
    struct ipw_http_reply r;
    ipw_errbuf he = {0};
    e = ipw_http_call(&c, &r, &he);
    long status = r.status;
    ipw_http_reply_free(&r);
    if (status == 401 || status == 403)
        return ipw_fail(eb, IPW_E_PERM,
                        "the judge at %s refused the key (HTTP %ld): set IPW_EVAL_API_KEY (or "
                        "OPENAI_API_KEY) to a key it accepts",
                        shown, status);
    if (status == 0)
        return ipw_fail(eb, e != IPW_OK ? e : IPW_E_IO,
                        "cannot reach the judge at %s (%s): check --eval-base-url and that the "
                        "server is running",
                        shown, he.msg[0] ? he.msg : "no response");
    /* any other answer (even 404 from a server without /models) shows a server is there */
    return IPW_OK;
}
