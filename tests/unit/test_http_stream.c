/* The libcurl streaming helper over real sockets against the scripted server: lines split
 * across TCP writes arrive whole, error bodies are kept, and every failure (refused, connect
 * timeout, idle server, oversized reply) returns in bounded time with a clear message. */
#include "ipw_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inference/http_stream.h"
#include "ipw/clock.h"
#include "llm_server.h"

static struct ipw_test_llm_server g_srv;

static int setup(void **state)
{
    (void)state;
    return ipw_test_llm_server_start(&g_srv, NULL);
}

static int teardown(void **state)
{
    (void)state;
    ipw_test_llm_server_stop(&g_srv);
    return 0;
}

struct collected {
    int lines, bad, sent;
    int64_t sent_ns, first_line_ns;
};

static ipw_err on_line(void *ud, const char *line, size_t len, ipw_errbuf *eb)
{
    struct collected *c = ud;
    if (c->lines++ == 0)
        c->first_line_ns = ipw_mono_ns();
    json_t *j = json_loadb(line, len, 0, NULL);
    if (!j || memchr(line, '\r', len))
        c->bad++;
    json_decref(j);
    return IPW_OK;
}

static void on_sent(void *ud, int64_t t)
{
    struct collected *c = ud;
    c->sent++;
    c->sent_ns = t;
}

static ipw_err post(const char *model, int64_t idle_ns, struct collected *col,
                    struct ipw_http_reply *reply, ipw_errbuf *eb)
{
    char url[128], body[512];
    snprintf(url, sizeof url, "%s/api/chat", g_srv.url);
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", model);
    struct ipw_http_call call = {.method = "POST",
                                 .url = url,
                                 .body = body,
                                 .body_len = strlen(body),
                                 .connect_timeout_ns = 2 * IPW_NS_PER_SEC,
                                 .idle_timeout_ns = idle_ns,
                                 .on_line = on_line,
                                 .on_sent = on_sent,
                                 .ud = col};
    return ipw_http_call(&call, reply, eb);
}

static void test_split_lines_arrive_whole(void **state)
{
    (void)state;
    struct collected col = {0};
    struct ipw_http_reply reply;
    ipw_errbuf eb;
    assert_int_equal(post("test,split,crlf,tokens=12", 5 * IPW_NS_PER_SEC, &col, &reply, &eb),
                     IPW_OK);
    assert_int_equal(reply.status, 200);
    assert_string_equal(reply.content_type, "application/x-ndjson");
    assert_int_equal(col.lines, 13); /* 12 tokens and the final line */
    assert_int_equal(col.bad, 0);
    /* the halves really came in separate reads: more reads than lines */
    assert_true(reply.reads > (unsigned long)col.lines);
    assert_int_equal(col.sent, 1);
    assert_true(col.sent_ns > 0 && col.sent_ns < col.first_line_ns);
    ipw_http_reply_free(&reply);
}

static void test_error_body_kept(void **state)
{
    (void)state;
    struct collected col = {0};
    struct ipw_http_reply reply;
    ipw_errbuf eb;
    assert_int_equal(post("test,error=503", 5 * IPW_NS_PER_SEC, &col, &reply, &eb), IPW_OK);
    assert_int_equal(reply.status, 503);
    assert_int_equal(col.lines, 0); /* an error body is not a stream */
    assert_non_null(reply.body.p);
    assert_non_null(strstr(reply.body.p, "scripted HTTP 503"));
    ipw_http_reply_free(&reply);
}

static void test_whole_body_bounded(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "%s/api/tags", g_srv.url);
    struct ipw_http_call call = {.method = "GET",
                                 .url = url,
                                 .connect_timeout_ns = IPW_NS_PER_SEC,
                                 .idle_timeout_ns = IPW_NS_PER_SEC,
                                 .max_body = 4096};
    struct ipw_http_reply reply;
    ipw_errbuf eb;
    assert_int_equal(ipw_http_call(&call, &reply, &eb), IPW_OK);
    assert_int_equal(reply.status, 200);
    assert_non_null(strstr(reply.body.p, "\"models\""));
    ipw_http_reply_free(&reply);
    call.max_body = 16;
    assert_int_equal(ipw_http_call(&call, &reply, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "16-byte"));
    ipw_http_reply_free(&reply);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_refused_is_quick_and_clear(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "http://user:hunter2@127.0.0.1:%d/api/chat", free_port());
    struct ipw_http_call call = {.method = "GET",
                                 .url = url,
                                 .connect_timeout_ns = 5 * IPW_NS_PER_SEC,
                                 .idle_timeout_ns = 5 * IPW_NS_PER_SEC};
    struct ipw_http_reply reply;
    ipw_errbuf eb;
    int64_t t0 = ipw_mono_ns();
    assert_int_equal(ipw_http_call(&call, &reply, &eb), IPW_E_IO);
    assert_true(ipw_mono_ns() - t0 < 2 * IPW_NS_PER_SEC);
    assert_non_null(strstr(eb.msg, "cannot connect to http://***@127.0.0.1:"));
    assert_null(strstr(eb.msg, "hunter2"));
    assert_false(reply.sent);
    ipw_http_reply_free(&reply);
}

/* A listening socket whose accept queue is full drops new SYNs: connecting hangs. */
static void test_connect_timeout(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    ipw_sleep_ns(50 * IPW_NS_PER_MS);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/tags", ntohs(a.sin_port));
    struct ipw_http_call call = {.method = "GET",
                                 .url = url,
                                 .connect_timeout_ns = 300 * IPW_NS_PER_MS,
                                 .idle_timeout_ns = 60 * IPW_NS_PER_SEC};
    struct ipw_http_reply reply;
    ipw_errbuf eb;
    int64_t t0 = ipw_mono_ns();
    ipw_err e = ipw_http_call(&call, &reply, &eb);
    int64_t took = ipw_mono_ns() - t0;
    assert_int_equal(e, IPW_E_TIMEOUT);
    assert_non_null(strstr(eb.msg, "timed out after 0.3 s"));
    assert_true(took >= 250 * IPW_NS_PER_MS);
    assert_true(took < 3 * IPW_NS_PER_SEC);
    ipw_http_reply_free(&reply);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    struct collected col = {0};
    struct ipw_http_reply reply;
    ipw_errbuf eb;
    int64_t t0 = ipw_mono_ns();
    ipw_err e = post("test,tokens=4,stall=20s,stall_after=1", 300 * IPW_NS_PER_MS, &col, &reply,
                     &eb);
    int64_t took = ipw_mono_ns() - t0;
    assert_int_equal(e, IPW_E_TIMEOUT);
    assert_non_null(strstr(eb.msg, "no data from http://127.0.0.1:"));
    assert_non_null(strstr(eb.msg, "for 0.3 s (idle timeout)"));
    assert_int_equal(col.lines, 1); /* the token before the stall arrived */
    assert_true(took >= 300 * IPW_NS_PER_MS);
    assert_true(took < 3 * IPW_NS_PER_SEC);
    ipw_http_reply_free(&reply);
}

static void test_disconnect_is_lost(void **state)
{
    (void)state;
    struct collected col = {0};
    struct ipw_http_reply reply;
    ipw_errbuf eb;
    assert_int_equal(post("test,tokens=6,disconnect=2", 5 * IPW_NS_PER_SEC, &col, &reply, &eb),
                     IPW_E_LOST);
    assert_non_null(strstr(eb.msg, "closed before the response was complete"));
    assert_int_equal(col.lines, 2);
    ipw_http_reply_free(&reply);
}

static void test_display_url(void **state)
{
    (void)state;
    char out[128];
    ipw_http_display_url("https://u:p@host:1/v1?x=@", out, sizeof out);
    assert_string_equal(out, "https://***@host:1/v1?x=@");
    ipw_http_display_url("http://host/a@b", out, sizeof out);
    assert_string_equal(out, "http://host/a@b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_lines_arrive_whole),
        cmocka_unit_test(test_error_body_kept),
        cmocka_unit_test(test_whole_body_bounded),
        cmocka_unit_test(test_refused_is_quick_and_clear),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_disconnect_is_lost),
        cmocka_unit_test(test_display_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
