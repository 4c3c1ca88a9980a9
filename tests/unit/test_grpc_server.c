/* The gRPC server on its own (src/grpc/server.c) with a small echo service and our client:
 * large messages across many DATA frames, the server-wide bound on buffered requests, and
 * concurrent calls on one connection. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/client.h"
#include "grpc/server.h"
#include "ipw/clock.h"
#include "ipw_test.h"

static int echo(void *ud, const uint8_t *req, size_t len, struct ipw_buf *resp, char *msg,
                size_t msgsize)
{
    (void)ud;
    if (ipw_buf_add(resp, req, len) != IPW_OK) {
        snprintf(msg, msgsize, "too large to echo");
        return IPW_GRPC_RESOURCE_EXHAUSTED;
    }
    return IPW_GRPC_OK;
}

struct srv {
    struct ipw_grpc_server *s;
    pthread_t th;
    int port;
};

static void *serve(void *arg)
{
    struct srv *v = arg;
    ipw_grpc_server_run(v->s, NULL);
    return NULL;
}

static const struct ipw_grpc_method methods[] = {{.path = "/t.Echo/Echo", .unary = echo}};

static void start(struct srv *v, size_t max_buffered)
{
    struct ipw_grpc_server_config cfg = {.methods = methods, .nmethods = 1,
                                         .max_buffered = max_buffered};
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_grpc_server_create(&cfg, &v->s, &eb), IPW_OK);
    assert_int_equal(ipw_grpc_server_listen_tcp(v->s, "127.0.0.1", 0, &v->port, &eb), IPW_OK);
    assert_int_equal(pthread_create(&v->th, NULL, serve, v), 0);
}

static void stop(struct srv *v)
{
    ipw_grpc_server_stop(v->s);
    pthread_join(v->th, NULL);
    ipw_grpc_server_destroy(v->s);
}

static int call(int port, size_t len, struct ipw_buf *resp, char *msg)
{
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    struct ipw_grpc_client *c;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_grpc_client_connect(target, IPW_NS_PER_SEC, &c, &eb), IPW_OK);
    uint8_t *req = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        req[i] = (uint8_t)(i * 7);
    int code = -1;
    ipw_buf_reset(resp);
    ipw_err e = ipw_grpc_client_unary(c, "/t.Echo/Echo", req, len, 5 * IPW_NS_PER_SEC, resp,
                                      &code, msg, 256, &eb);
    if (e != IPW_OK)
        fail_msg("call: %s", eb.msg);
    if (code == 0) {
        assert_int_equal(resp->len, len);
        assert_memory_equal(resp->p, req, len);
    }
    free(req);
    ipw_grpc_client_close(c);
    return code;
}

static void test_large_messages(void **state)
{
    (void)state;
    struct srv v;
    start(&v, 0);
    struct ipw_buf resp = {.max = 8u << 20};
    char msg[256];
    assert_int_equal(call(v.port, 0, &resp, msg), 0);
    assert_int_equal(call(v.port, 100000, &resp, msg), 0);
    assert_int_equal(call(v.port, 4u << 20, &resp, msg), 0); /* exactly the limit */
    assert_int_equal(call(v.port, (4u << 20) + 1, &resp, msg), IPW_GRPC_RESOURCE_EXHAUSTED);
    ipw_buf_free(&resp);
    stop(&v);
}

static void test_buffer_budget(void **state)
{
    (void)state;
    struct srv v;
    start(&v, 64 * 1024);
    struct ipw_buf resp = {.max = 8u << 20};
    char msg[256];
    assert_int_equal(call(v.port, 10000, &resp, msg), 0);
    assert_int_equal(call(v.port, 300000, &resp, msg), IPW_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(msg, "unfinished requests"));
    /* the budget is given back: small calls still work */
    assert_int_equal(call(v.port, 10000, &resp, msg), 0);
    ipw_buf_free(&resp);
    stop(&v);
}

/* Many calls in flight on one connection (HTTP/2 multiplexing). */
static void test_concurrent_calls_one_connection(void **state)
{
    (void)state;
    struct srv v;
    start(&v, 0);
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", v.port);
    struct ipw_grpc_client *c;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_grpc_client_connect(target, IPW_NS_PER_SEC, &c, &eb), IPW_OK);
    enum { N = 30 };
    struct ipw_grpc_stream *st[N];
    uint8_t body[N];
    for (int i = 0; i < N; i++) {
        body[i] = (uint8_t)i;
        assert_int_equal(ipw_grpc_client_stream(c, "/t.Echo/Echo", &body[i], 1, 0, &st[i], &eb),
                         IPW_OK);
    }
    for (int i = N - 1; i >= 0; i--) {
        const uint8_t *m;
        size_t len;
        assert_int_equal(ipw_grpc_stream_next(st[i], &m, &len, IPW_NS_PER_SEC, &eb), IPW_OK);
        assert_non_null(m);
        assert_int_equal(len, 1);
        assert_int_equal(m[0], i);
        assert_int_equal(ipw_grpc_stream_next(st[i], &m, &len, IPW_NS_PER_SEC, &eb), IPW_OK);
        assert_null(m);
        assert_int_equal(ipw_grpc_stream_status(st[i], NULL, 0), 0);
        ipw_grpc_stream_close(st[i]);
    }
    ipw_grpc_client_close(c);
    stop(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_messages),
        cmocka_unit_test(test_buffer_budget),
        cmocka_unit_test(test_concurrent_calls_one_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
