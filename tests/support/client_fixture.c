/* The chat client fixture of client_fixture.h. */
#include "client_fixture.h"

#include "ipw/clock.h"
#include "ipw_test.h"

static void ev_start(void *ud, int64_t t)
{
    struct ipw_test_evlog *l = ud;
    l->starts++;
    l->start_ns = t;
}

static void ev_first(void *ud, int64_t t)
{
    struct ipw_test_evlog *l = ud;
    l->firsts++;
    l->first_ns = t;
}

static void ev_delta(void *ud, const char *content, const char *reasoning)
{
    struct ipw_test_evlog *l = ud;
    l->deltas++;
    l->empty_deltas += !content && !reasoning;
}

ipw_err ipw_test_client_try_open(struct ipw_test_client *f, const char *client,
                                 const char *base, const char *const *kv, size_t n,
                                 const char *key, int64_t idle_ns, ipw_errbuf *eb)
{
    f->c = NULL;
    assert_int_equal(ipw_params_parse(kv, n, &f->params, eb), IPW_OK);
    struct ipw_client_config cfg = {.base_url = base,
                                    .api_key = key,
                                    .connect_timeout_ns = 2 * IPW_NS_PER_SEC,
                                    .idle_timeout_ns = idle_ns,
                                    .params = f->params};
    ipw_err e = ipw_client_open(client, &cfg, &f->c, eb);
    if (e != IPW_OK) {
        json_decref(f->params);
        f->params = NULL;
    }
    return e;
}

void ipw_test_client_open(struct ipw_test_client *f, const char *client, const char *base,
                          const char *const *kv, size_t n, const char *key, int64_t idle_ns)
{
    ipw_errbuf eb;
    if (ipw_test_client_try_open(f, client, base, kv, n, key, idle_ns, &eb) != IPW_OK)
        fail_msg("open %s: %s", client, eb.msg);
}

void ipw_test_client_close(struct ipw_test_client *f)
{
    ipw_client_close(f->c);
    json_decref(f->params);
}

ipw_err ipw_test_client_ask(struct ipw_test_client *f, const char *model, const char *prompt,
                            struct ipw_chat_result *res, struct ipw_test_evlog *log)
{
    struct ipw_chat_request req = {.model = model, .prompt = prompt};
    struct ipw_stream_events ev = {.ud = log,
                                   .on_start = ev_start,
                                   .on_first_token = ev_first,
                                   .on_delta = ev_delta};
    return f->c->ops->chat(f->c, &req, log ? &ev : NULL, res);
}
