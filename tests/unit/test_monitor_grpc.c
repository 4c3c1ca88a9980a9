/* The energy monitor end to end inside one process: a fake collector, the real sampler,
 * monitor, nghttp2 server and our own gRPC client over loopback TCP and a Unix socket. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "fake_monitor.h"
#include "grpc/server.h"
#include "monitor/monitor_internal.h"
#include "grpc/client.h"
#include "ipw/clock.h"
#include "ipw_test.h"
#include "proto/energy.pb-c.h"
#include "proto/health.pb-c.h"

#define HEALTH "/energy.EnergyMonitor/Health"
#define STREAM "/energy.EnergyMonitor/StreamTelemetry"
#define CHECK "/grpc.health.v1.Health/Check"

static struct ipw_test_monitor g_mon; /* shared: fake collector, 2 GPUs, 50 ms */

static char *target_of(int port)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "127.0.0.1:%d", port);
    return buf;
}

static struct ipw_grpc_client *connect_to(const char *target)
{
    struct ipw_grpc_client *c = NULL;
    ipw_errbuf eb = {0};
    if (ipw_grpc_client_connect(target, 2 * IPW_NS_PER_SEC, &c, &eb) != IPW_OK)
        fail_msg("connect %s: %s", target, eb.msg);
    return c;
}

static int unary(const char *target, const char *path, const uint8_t *req, size_t len,
                 struct ipw_buf *resp, char *msg, int64_t timeout_ns)
{
    struct ipw_grpc_client *c = connect_to(target);
    int code = -1;
    ipw_errbuf eb = {0};
    char m[256] = "";
    ipw_err e = ipw_grpc_client_unary(c, path, req, len, timeout_ns, resp, &code, m, sizeof m, &eb);
    if (e != IPW_OK)
        fail_msg("unary %s: %s", path, eb.msg);
    if (msg)
        strcpy(msg, m);
    ipw_grpc_client_close(c);
    return code;
}

static struct ipw_grpc_stream *open_stream(struct ipw_grpc_client *c, uint32_t interval_ms,
                                           int64_t timeout_ns)
{
    Energy__StreamRequest req = ENERGY__STREAM_REQUEST__INIT;
    req.interval_ms = interval_ms;
    uint8_t buf[16];
    size_t len = energy__stream_request__pack(&req, buf);
    struct ipw_grpc_stream *st = NULL;
    ipw_errbuf eb = {0};
    if (ipw_grpc_client_stream(c, STREAM, buf, len, timeout_ns, &st, &eb) != IPW_OK)
        fail_msg("stream: %s", eb.msg);
    return st;
}

/* Next reading, decoded; NULL at the end of the stream. */
static Energy__TelemetryReading *next_reading(struct ipw_grpc_stream *st, int64_t timeout_ns)
{
    const uint8_t *msg;
    size_t len;
    ipw_errbuf eb = {0};
    ipw_err e = ipw_grpc_stream_next(st, &msg, &len, timeout_ns, &eb);
    if (e != IPW_OK)
        fail_msg("stream next: %s", eb.msg);
    if (!msg)
        return NULL;
    Energy__TelemetryReading *m = energy__telemetry_reading__unpack(NULL, len, msg);
    assert_non_null(m);
    return m;
}

/* How long a test waits for something that must happen: generous, so that a loaded machine
 * delays a test but never fails it; what is checked never depends on it. */
#define IPW_TEST_PATIENCE_NS (30 * IPW_NS_PER_SEC)

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t streams_open(struct ipw_monitor *m)
{
    struct ipw_monitor_stats st;
    ipw_monitor_get_stats(m, &st);
    return st.streams_open;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct ipw_collector *c = ipw_test_fake_collector("fake", 2, 300, 60);
    return ipw_test_monitor_start(&g_mon, c, 50 * IPW_NS_PER_MS, 0, 0, NULL,
                                  IPW_TEST_MONITOR_METRICS);
}

static int teardown(void **state)
{
    (void)state;
    int rc = ipw_test_monitor_stop(&g_mon);
    curl_global_cleanup();
    return rc;
}

static void test_health(void **state)
{
    (void)state;
    struct ipw_buf resp = {.max = 1 << 20};
    assert_int_equal(unary(target_of(g_mon.port), HEALTH, NULL, 0, &resp, NULL, IPW_NS_PER_SEC), 0);
    Energy__HealthResponse *h = energy__health_response__unpack(NULL, resp.len, (const uint8_t *)resp.p);
    assert_non_null(h);
    assert_true(h->healthy);
    assert_string_equal(h->platform, "fake");
    energy__health_response__free_unpacked(h, NULL);
    ipw_buf_free(&resp);
}

static void test_health_check(void **state)
{
    (void)state;
    struct ipw_buf resp = {.max = 1 << 20};
    assert_int_equal(unary(target_of(g_mon.port), CHECK, NULL, 0, &resp, NULL, IPW_NS_PER_SEC), 0);
    Grpc__Health__V1__HealthCheckResponse *h =
        grpc__health__v1__health_check_response__unpack(NULL, resp.len, (const uint8_t *)resp.p);
    assert_non_null(h);
    assert_int_equal(h->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    grpc__health__v1__health_check_response__free_unpacked(h, NULL);

    Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    rq.service = "no.such.Service";
    uint8_t buf[64];
    size_t len = grpc__health__v1__health_check_request__pack(&rq, buf);
    char msg[256];
    assert_int_equal(unary(target_of(g_mon.port), CHECK, buf, len, &resp, msg, IPW_NS_PER_SEC),
                     IPW_GRPC_NOT_FOUND);
    assert_non_null(strstr(msg, "no.such.Service"));
    ipw_buf_free(&resp);
}

/* SPEC: at 50 ms, at least 18 readings in a second, timestamps and sequence increasing. The
 * pace is read from the monitor's own timestamps (the median gap of 20 readings), not from how
 * many readings a wall-clock second on a loaded machine happened to deliver; none is lost. */
static void test_stream_rate(void **state)
{
    (void)state;
    struct ipw_grpc_client *c = connect_to(target_of(g_mon.port));
    struct ipw_grpc_stream *st = open_stream(c, 0, 0);
    enum { N = 20 };
    int64_t gap[N - 2];
    int64_t last_ts = 0;
    uint64_t last_seq = 0;
    double last_energy = -1;
    for (int n = 0; n < N; n++) {
        Energy__TelemetryReading *m = next_reading(st, IPW_TEST_PATIENCE_NS);
        if (!m)
            fail_msg("stream ended early");
        assert_true(m->timestamp_nanos > last_ts);
        if (n > 1) { /* the first is the newest reading already taken */
            assert_int_equal(m->sequence, last_seq + 1);
            gap[n - 2] = m->timestamp_nanos - last_ts;
        }
        assert_true(m->sequence > last_seq);
        assert_true(m->energy_joules >= last_energy);
        assert_string_equal(m->platform, "fake");
        assert_int_equal(m->n_devices, 2);
        assert_string_equal(m->devices[1]->uuid, "GPU-00000000-0000-0000-0000-000000000001");
        assert_double_equal(m->power_watts, 300, 1e-9);
        assert_double_equal(m->cpu_power_watts, 60, 1e-9);
        assert_double_equal(m->ane_power_watts, -1, 0);
        assert_non_null(m->system_info);
        assert_true(m->system_info->cpu_count > 0);
        assert_string_equal(m->gpu_info->vendor, "FakeVendor");
        last_ts = m->timestamp_nanos;
        last_seq = m->sequence;
        last_energy = m->energy_joules;
        energy__telemetry_reading__free_unpacked(m, NULL);
    }
    qsort(gap, N - 2, sizeof gap[0], cmp_i64);
    /* 50 ms apart: 20 a second (>= 18) */
    assert_true(gap[(N - 2) / 2] >= 40 * IPW_NS_PER_MS && gap[(N - 2) / 2] <= 1000 / 18 * IPW_NS_PER_MS);
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);
}

/* interval_ms decimates the shared sampler's readings (no collector of its own): after the
 * first (the newest reading already taken), readings come on a 200 ms grid of the sampler's
 * 50 ms ticks, so consecutive ones are at least 150 ms apart by the monitor's own timestamps
 * (every reading would be 50 ms apart). Waits for 6 readings, however long a loaded machine
 * takes (no wall-clock bound). */
static void test_stream_interval(void **state)
{
    (void)state;
    struct ipw_grpc_client *c = connect_to(target_of(g_mon.port));
    struct ipw_grpc_stream *st = open_stream(c, 200, 0);
    int64_t prev = 0;
    for (int n = 0; n < 6; n++) {
        Energy__TelemetryReading *m = next_reading(st, IPW_TEST_PATIENCE_NS);
        assert_non_null(m);
        if (n > 1)
            assert_true(m->timestamp_nanos - prev >= 150 * IPW_NS_PER_MS);
        prev = m->timestamp_nanos;
        energy__telemetry_reading__free_unpacked(m, NULL);
    }
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);
}

static void test_unknown_method(void **state)
{
    (void)state;
    struct ipw_buf resp = {.max = 1024};
    char msg[256];
    assert_int_equal(unary(target_of(g_mon.port), "/energy.EnergyMonitor/Nope", NULL, 0, &resp, msg,
                           IPW_NS_PER_SEC),
                     IPW_GRPC_UNIMPLEMENTED);
    assert_non_null(strstr(msg, "Nope"));
    ipw_buf_free(&resp);
}

static void test_bad_request_message(void **state)
{
    (void)state;
    struct ipw_buf resp = {.max = 1024};
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(unary(target_of(g_mon.port), HEALTH, junk, sizeof junk, &resp, NULL,
                           IPW_NS_PER_SEC),
                     IPW_GRPC_INVALID_ARGUMENT);
    Energy__StreamRequest rq = ENERGY__STREAM_REQUEST__INIT;
    rq.interval_ms = 4000000000u;
    uint8_t buf[16];
    size_t len = energy__stream_request__pack(&rq, buf);
    assert_int_equal(unary(target_of(g_mon.port), STREAM, buf, len, &resp, NULL, IPW_NS_PER_SEC),
                     IPW_GRPC_INVALID_ARGUMENT);
    ipw_buf_free(&resp);
}

/* The server itself ends a stream at its grpc-timeout (our client never cancels). */
static void test_deadline(void **state)
{
    (void)state;
    struct ipw_grpc_client *c = connect_to(target_of(g_mon.port));
    int64_t t0 = ipw_mono_ns();
    struct ipw_grpc_stream *st = open_stream(c, 0, 300 * IPW_NS_PER_MS);
    Energy__TelemetryReading *m;
    int n = 0;
    int64_t first_ts = 0, last_ts = 0, prev_ts = 0;
    while ((m = next_reading(st, IPW_TEST_PATIENCE_NS)) != NULL) {
        if (!n)
            first_ts = m->timestamp_nanos;
        prev_ts = last_ts;
        last_ts = m->timestamp_nanos;
        energy__telemetry_reading__free_unpacked(m, NULL);
        n++;
    }
    double took = (double)(ipw_mono_ns() - t0) / 1e9;
    char why[256];
    /* the server ended it (our client never cancels), not before the deadline, and at the
     * deadline: by the monitor's own clock, every reading but the last was taken within the
     * 300 ms (the first is up to a period older; a loop woken late may take one more reading
     * before it sees the deadline), whatever time a loaded machine took to deliver them */
    assert_int_equal(ipw_grpc_stream_status(st, why, sizeof why), IPW_GRPC_DEADLINE_EXCEEDED);
    assert_true(took >= 0.25);
    assert_true(prev_ts - first_ts <= 350 * IPW_NS_PER_MS);
    assert_true(n >= 3);
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);
}

static void test_oversized_request(void **state)
{
    (void)state;
    size_t len = 5u << 20;
    uint8_t *big = calloc(1, len);
    struct ipw_buf resp = {.max = 1024};
    char msg[256];
    assert_int_equal(unary(target_of(g_mon.port), HEALTH, big, len, &resp, msg, 5 * IPW_NS_PER_SEC),
                     IPW_GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(msg, "exceeds"));
    free(big);
    ipw_buf_free(&resp);
    /* the connection-level damage is nil: the server still answers */
    assert_int_equal(unary(target_of(g_mon.port), HEALTH, NULL, 0, &resp, NULL, IPW_NS_PER_SEC), 0);
    ipw_buf_free(&resp);
}

static bool wait_streams(struct ipw_monitor *m, uint64_t want, int64_t timeout_ns)
{
    int64_t end = ipw_mono_ns() + timeout_ns;
    while (ipw_mono_ns() < end) {
        if (streams_open(m) == want)
            return true;
        usleep(5000);
    }
    return streams_open(m) == want;
}

/* RST_STREAM from the client frees the stream on the server at once. */
static void test_cancel_frees_stream(void **state)
{
    (void)state;
    assert_true(wait_streams(g_mon.m, 0, IPW_TEST_PATIENCE_NS));
    struct ipw_grpc_client *c = connect_to(target_of(g_mon.port));
    struct ipw_grpc_stream *st = open_stream(c, 0, 0);
    for (int i = 0; i < 2; i++)
        energy__telemetry_reading__free_unpacked(next_reading(st, IPW_NS_PER_SEC), NULL);
    assert_int_equal(streams_open(g_mon.m), 1);
    ipw_grpc_stream_close(st); /* RST_STREAM CANCEL; the connection stays open */
    /* freed while the connection stays open (no close can have done it), however slowly a
     * loaded machine runs the server's loop */
    assert_true(wait_streams(g_mon.m, 0, IPW_TEST_PATIENCE_NS));
    ipw_grpc_client_close(c);
}

/* Twenty clients on their own connections, all receiving from the one sampler. */
static void test_twenty_streams(void **state)
{
    (void)state;
    enum { N = 20 };
    struct ipw_grpc_client *c[N];
    struct ipw_grpc_stream *st[N];
    struct ipw_sampler_stats before, after;
    ipw_sampler_get_stats(g_mon.s, &before);
    for (int i = 0; i < N; i++) {
        c[i] = connect_to(target_of(g_mon.port));
        st[i] = open_stream(c[i], 0, 0);
    }
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < N; i++)
            energy__telemetry_reading__free_unpacked(next_reading(st[i], 2 * IPW_NS_PER_SEC), NULL);
    assert_int_equal(streams_open(g_mon.m), N);
    ipw_sampler_get_stats(g_mon.s, &after);
    /* one sampler at 50 ms: ~5 rounds of readings, not 20 x 5 */
    assert_true(after.readings - before.readings < 40);
    for (int i = 0; i < N; i++) {
        ipw_grpc_stream_close(st[i]);
        ipw_grpc_client_close(c[i]);
    }
    assert_true(wait_streams(g_mon.m, 0, IPW_NS_PER_SEC));
}

/* A client that stops reading loses its oldest readings (counted) and never slows another. */
static void test_slow_client(void **state)
{
    (void)state;
    struct ipw_test_monitor tm;
    /* 64 devices make ~10 KB messages, so the slow stream's HTTP/2 window fills quickly */
    assert_int_equal(ipw_test_monitor_start(&tm, ipw_test_fake_collector("fake", 64, 300, 60),
                                            2 * IPW_NS_PER_MS, 0, 16, NULL, 0),
                     0);
    struct ipw_grpc_client *slow_c = connect_to(target_of(tm.port));
    struct ipw_grpc_stream *slow = open_stream(slow_c, 0, 0);
    energy__telemetry_reading__free_unpacked(next_reading(slow, IPW_NS_PER_SEC), NULL);
    /* from here on nobody reads slow_c's socket */
    struct ipw_grpc_client *fast_c = connect_to(target_of(tm.port));
    struct ipw_grpc_stream *fast = open_stream(fast_c, 0, 0);
    int64_t end = ipw_mono_ns() + 1500 * IPW_NS_PER_MS;
    int n = 0;
    uint64_t last_seq = 0, gaps = 0;
    while (ipw_mono_ns() < end) {
        Energy__TelemetryReading *m = next_reading(fast, IPW_NS_PER_SEC);
        assert_non_null(m);
        if (last_seq && m->sequence != last_seq + 1)
            gaps++;
        last_seq = m->sequence;
        energy__telemetry_reading__free_unpacked(m, NULL);
        n++;
    }
    struct ipw_monitor_stats ms;
    ipw_monitor_get_stats(tm.m, &ms);
    /* 2 ms period: ~750 readings in 1.5 s; a stalled peer must not hold the fast one back */
    assert_true(n >= 200);
    assert_true(ms.dropped > 0);
    ipw_grpc_stream_close(fast);
    ipw_grpc_client_close(fast_c);
    ipw_grpc_stream_close(slow);
    ipw_grpc_client_close(slow_c);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
    (void)gaps;
}

/* Stop (SIGTERM's path): open streams end with status OK, run returns cleanly. */
static void test_graceful_stop(void **state)
{
    (void)state;
    struct ipw_test_monitor tm;
    assert_int_equal(ipw_test_monitor_start(&tm, ipw_test_fake_collector("fake", 1, 100, 10),
                                            20 * IPW_NS_PER_MS, 0, 0, NULL, 0),
                     0);
    struct ipw_grpc_client *c = connect_to(target_of(tm.port));
    struct ipw_grpc_stream *st = open_stream(c, 0, 0);
    energy__telemetry_reading__free_unpacked(next_reading(st, IPW_NS_PER_SEC), NULL);
    ipw_monitor_stop(tm.m);
    Energy__TelemetryReading *m;
    int64_t t0 = ipw_mono_ns();
    while ((m = next_reading(st, 3 * IPW_NS_PER_SEC)) != NULL)
        energy__telemetry_reading__free_unpacked(m, NULL);
    assert_true(ipw_mono_ns() - t0 < 2 * IPW_NS_PER_SEC);
    assert_int_equal(ipw_grpc_stream_status(st, NULL, 0), IPW_GRPC_OK);
    assert_false(ipw_grpc_client_usable(c)); /* GOAWAY seen */
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
}

static void test_unix_socket(void **state)
{
    (void)state;
    char *dir = ipw_test_mkdtemp("ipw-mon");
    char path[512], target[600];
    snprintf(path, sizeof path, "%s/monitor.sock", dir);
    snprintf(target, sizeof target, "unix:%s", path);
    struct ipw_test_monitor tm;
    assert_int_equal(ipw_test_monitor_start(&tm, ipw_test_fake_collector("fake", 0, 50, 10),
                                            50 * IPW_NS_PER_MS, -1, 0, path, 0),
                     0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISSOCK(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0660);
    struct ipw_buf resp = {.max = 1024};
    assert_int_equal(unary(target, HEALTH, NULL, 0, &resp, NULL, IPW_NS_PER_SEC), 0);
    ipw_buf_free(&resp);
    struct ipw_grpc_client *c = connect_to(target);
    struct ipw_grpc_stream *st = open_stream(c, 0, 0);
    for (int i = 0; i < 3; i++)
        energy__telemetry_reading__free_unpacked(next_reading(st, IPW_NS_PER_SEC), NULL);
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
    assert_int_equal(access(path, F_OK), -1); /* removed on exit */
    ipw_test_rmtree(dir);
    free(dir);
}

static size_t collect_body(char *p, size_t size, size_t n, void *ud)
{
    struct ipw_buf *b = ud;
    return ipw_buf_add(b, p, size * n) == IPW_OK ? size * n : 0;
}

/* /metrics over HTTP carries every family with values, and promtool accepts it. */
static void test_metrics(void **state)
{
    (void)state;
    struct ipw_grpc_client *c = connect_to(target_of(g_mon.port));
    struct ipw_grpc_stream *st = open_stream(c, 0, 0);
    energy__telemetry_reading__free_unpacked(next_reading(st, IPW_NS_PER_SEC), NULL);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", g_mon.metrics_port);
    struct ipw_buf body = {.max = 1 << 20};
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    assert_int_equal(status, 200);
    assert_non_null(strstr(ctype, "version=0.0.4"));
    curl_easy_cleanup(h);
    assert_int_equal(ipw_buf_add(&body, "", 1), IPW_OK);
    const char *t = body.p;
    static const char *const want[] = {
        "# TYPE ipw_energy_joules_total counter",
        "ipw_energy_joules_total{domain=\"gpu\"} ",
        "ipw_energy_joules_total{domain=\"cpu\"} ",
        "ipw_power_watts{domain=\"gpu\"} 300\n",
        "ipw_power_watts{domain=\"cpu\"} 60\n",
        "ipw_gpu_energy_joules_total{index=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\","
        "name=\"Fake GPU \\\"X\\\" 80GB\"} ",
        "ipw_temperature_celsius 55.5\n",
        "ipw_memory_used_bytes{kind=\"gpu\"} 4294967296\n",
        "ipw_memory_used_bytes{kind=\"cpu\"} 1073741824\n",
        "ipw_utilization_ratio{kind=\"gpu_compute\"} 0.4\n",
        "# TYPE ipw_monitor_samples_total counter",
        "# TYPE ipw_monitor_dropped_readings_total counter",
        "ipw_monitor_streams 1\n",
        "# HELP ipw_monitor_streams ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(t, want[i]))
            fail_msg("metrics lack '%s' in:\n%s", want[i], t);
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);

    if (access("/usr/bin/promtool", X_OK) != 0) {
        fprintf(stderr, "promtool not installed: syntax check skipped\n");
    } else {
        char path[600], cmd[800];
        snprintf(path, sizeof path, "%s/monitor_metrics_fake.prom", ipw_test_binary_dir());
        ipw_test_write(ipw_test_binary_dir(), "monitor_metrics_fake.prom", t);
        snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < '%s'", path);
        assert_int_equal(system(cmd), 0);
    }
    ipw_buf_free(&body);
}

/* The energy-monitor's mode: the loop samples; a collector that is too slow for that is moved
 * to the sampler's own thread, and streaming goes on. */
static void test_driven_sampling(void **state)
{
    (void)state;
    struct ipw_test_monitor tm;
    assert_int_equal(ipw_test_monitor_start(&tm, ipw_test_fake_collector("fake", 1, 100, 10),
                                            20 * IPW_NS_PER_MS, 0, 0, NULL,
                                            IPW_TEST_MONITOR_DRIVE),
                     0);
    struct ipw_grpc_client *c = connect_to(target_of(tm.port));
    struct ipw_grpc_stream *st = open_stream(c, 0, 0);
    /* 25 readings however long it takes: none lost (sequence +1 each), and the loop samples at
     * 20 ms by the monitor's own timestamps (the median gap between readings: a tick taken late
     * under load moves one or two gaps, not the median) */
    enum { N = 25 };
    int64_t gap[N - 2];
    int64_t prev = 0;
    uint64_t last = 0;
    for (int n = 0; n < N; n++) {
        Energy__TelemetryReading *m = next_reading(st, IPW_TEST_PATIENCE_NS);
        assert_non_null(m);
        if (n > 1) /* the first is the newest reading already taken */
            assert_int_equal(m->sequence, last + 1);
        if (n > 1)
            gap[n - 2] = m->timestamp_nanos - prev;
        last = m->sequence;
        prev = m->timestamp_nanos;
        energy__telemetry_reading__free_unpacked(m, NULL);
    }
    qsort(gap, N - 2, sizeof gap[0], cmp_i64);
    assert_true(gap[(N - 2) / 2] >= 15 * IPW_NS_PER_MS);
    assert_true(gap[(N - 2) / 2] <= 25 * IPW_NS_PER_MS);
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);

    struct ipw_collector *slow = ipw_test_fake_collector("fake", 0, 100, 10);
    ipw_test_fake_collector_set_delay(slow, 8 * IPW_NS_PER_MS); /* > 2 ms and > period / 5 */
    assert_int_equal(ipw_test_monitor_start(&tm, slow, 20 * IPW_NS_PER_MS, 0, 0, NULL,
                                            IPW_TEST_MONITOR_DRIVE),
                     0);
    c = connect_to(target_of(tm.port));
    st = open_stream(c, 0, 0);
    for (int i = 0; i < 25; i++) /* 0.5 s: the handover happened after 3 ticks */
        energy__telemetry_reading__free_unpacked(next_reading(st, IPW_TEST_PATIENCE_NS), NULL);
    struct ipw_buf resp = {.max = 1024};
    assert_int_equal(unary(target_of(tm.port), HEALTH, NULL, 0, &resp, NULL, IPW_TEST_PATIENCE_NS),
                     0);
    ipw_buf_free(&resp);
    ipw_grpc_stream_close(st);
    ipw_grpc_client_close(c);
    assert_int_equal(ipw_test_monitor_stop(&tm), 0);
}

struct answer {
    char status[8], grpc_status[8];
    size_t data;
};

static int on_hdr(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                  const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)s, (void)f, (void)flags;
    struct answer *a = ud;
    if (nl == 7 && !memcmp(name, ":status", 7))
        snprintf(a->status, sizeof a->status, "%.*s", (int)vl, value);
    if (nl == 11 && !memcmp(name, "grpc-status", 11))
        snprintf(a->grpc_status, sizeof a->grpc_status, "%.*s", (int)vl, value);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
                   void *ud)
{
    (void)s, (void)flags, (void)id, (void)d;
    ((struct answer *)ud)->data += len;
    return 0;
}

static ssize_t empty_msg(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s, (void)id, (void)length, (void)src, (void)ud;
    memset(buf, 0, 5); /* one empty gRPC message */
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 5;
}

/* The request path without a socket (what the fuzz target drives): a client session's bytes
 * in, the server's bytes out, parsed back. */
static void feed(struct ipw_monitor *m, const char *path, const char *ctype, struct answer *a)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_session *cl;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_hdr);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_client_new(&cl, cbs, a);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_nv nv[5] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
        {(uint8_t *)":authority", (uint8_t *)"x", 10, 1, 0},
        {(uint8_t *)"content-type", (uint8_t *)ctype, 12, strlen(ctype), 0}};
    nghttp2_data_provider prd = {.read_callback = empty_msg};
    nghttp2_submit_settings(cl, NGHTTP2_FLAG_NONE, NULL, 0);
    assert_true(nghttp2_submit_request(cl, NULL, nv, 5, &prd, NULL) > 0);
    struct ipw_buf in = {.max = 1 << 20}, out = {.max = 1 << 20};
    const uint8_t *p;
    ssize_t k;
    while ((k = nghttp2_session_mem_send(cl, &p)) > 0)
        assert_int_equal(ipw_buf_add(&in, p, (size_t)k), IPW_OK);
    memset(a, 0, sizeof *a);
    ipw_grpc_server_feed(ipw_monitor_grpc_server(m), (const uint8_t *)in.p, in.len, &out, NULL);
    assert_true(nghttp2_session_mem_recv(cl, (const uint8_t *)out.p, out.len) == (ssize_t)out.len);
    nghttp2_session_del(cl);
    ipw_buf_free(&in);
    ipw_buf_free(&out);
}

static void test_feed_request_path(void **state)
{
    (void)state;
    /* a monitor nobody runs: the feed is its only driver (never beside a running loop) */
    struct ipw_collector *c = ipw_test_fake_collector("fake", 1, 10, 5);
    struct ipw_sampler *s;
    struct ipw_monitor *m;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_sampler_create(c, NULL, &s, &eb), IPW_OK);
    struct ipw_monitor_config mc;
    ipw_monitor_config_init(&mc);
    mc.port = 0;
    mc.metrics_port = -1;
    assert_int_equal(ipw_monitor_create(s, NULL, &mc, &m, &eb), IPW_OK);
    assert_int_equal(ipw_monitor_attach(m, &eb), IPW_OK);
    assert_int_equal(ipw_sampler_snapshot(s, NULL, &eb), IPW_OK);

    struct answer a;
    feed(m, HEALTH, "application/grpc", &a);
    assert_string_equal(a.status, "200");
    assert_string_equal(a.grpc_status, "0");
    assert_true(a.data > 5);
    feed(m, STREAM, "application/grpc+proto", &a);
    assert_string_equal(a.status, "200");
    assert_true(a.data > 100); /* one tick's reading went out */
    assert_string_equal(a.grpc_status, "");
    feed(m, HEALTH, "application/json", &a);
    assert_string_equal(a.status, "415");
    feed(m, "/x.Y/Z", "application/grpc", &a);
    assert_string_equal(a.grpc_status, "12");
    ipw_monitor_destroy(m);
    ipw_sampler_destroy(s);
    ipw_collector_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_health_check),
        cmocka_unit_test(test_stream_rate),
        cmocka_unit_test(test_stream_interval),
        cmocka_unit_test(test_unknown_method),
        cmocka_unit_test(test_bad_request_message),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_oversized_request),
        cmocka_unit_test(test_cancel_frees_stream),
        cmocka_unit_test(test_twenty_streams),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_feed_request_path),
        cmocka_unit_test(test_driven_sampling),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
