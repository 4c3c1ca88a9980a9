/* Fuzz target: the monitor's request path. An nghttp2 client session turns the input into an
 * HTTP/2 request (method, content type, grpc-timeout and body chosen by the input), or the
 * input is sent raw after the connection preface; the bytes go through the real server
 * (headers, deframing, protobuf decoding of the request, the EnergyMonitor and grpc.health.v1
 * handlers, a streaming tick) and its answer is parsed back by the client session. The body is
 * also decoded as a TelemetryReading, as the remote source does with a monitor's stream. */
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/server.h"
#include "ipw/collector.h"
#include "ipw/log.h"
#include "ipw/monitor.h"
#include "ipw/sampler.h"
#include "monitor/monitor_internal.h"
#include "wire/codec.h"
#include "proto/energy.pb-c.h"

static struct ipw_monitor *g_mon;
static struct ipw_sampler *g_sampler;

static void init(void)
{
    ipw_log_set_level(IPW_LOG_ERROR);
    struct ipw_collector *c;
    ipw_errbuf eb = {0};
    if (ipw_collector_open("null", NULL, &c, &eb) != IPW_OK)
        abort();
    if (ipw_sampler_create(c, NULL, &g_sampler, &eb) != IPW_OK)
        abort();
    struct ipw_monitor_config mc;
    ipw_monitor_config_init(&mc);
    mc.port = 0;
    mc.metrics_port = -1;
    if (ipw_monitor_create(g_sampler, NULL, &mc, &g_mon, &eb) != IPW_OK ||
        ipw_monitor_attach(g_mon, &eb) != IPW_OK)
        abort();
}

struct body {
    const uint8_t *p;
    size_t len, off;
};

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s, (void)id, (void)ud;
    struct body *b = src->ptr;
    size_t n = b->len - b->off < length ? b->len - b->off : length;
    memcpy(buf, b->p + b->off, n);
    b->off += n;
    if (b->off == b->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void nv(nghttp2_nv *v, const char *name, const char *value)
{
    v->name = (uint8_t *)name;
    v->namelen = strlen(name);
    v->value = (uint8_t *)value;
    v->valuelen = strlen(value);
    v->flags = NGHTTP2_NV_FLAG_NONE;
}

static void decode_as_reading(const uint8_t *p, size_t len)
{
    Energy__TelemetryReading *m = energy__telemetry_reading__unpack(NULL, len, p);
    if (!m)
        return;
    struct ipw_collector_info *info = malloc(sizeof *info);
    struct ipw_system_info si;
    struct ipw_reading r;
    struct ipw_device_reading dev[IPW_MAX_DEVICES];
    unsigned nd;
    if (info) {
        ipw_wire_decode_info(m, info, &si);
        ipw_wire_decode_reading(m, info->main_domain, &r, dev, IPW_MAX_DEVICES, &nd);
        if (nd > IPW_MAX_DEVICES || info->ndev > IPW_MAX_DEVICES)
            abort();
        free(info);
    }
    energy__telemetry_reading__free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_mon)
        init();
    if (size < 4)
        return 0;
    static const char *const paths[] = {"/energy.EnergyMonitor/Health",
                                        "/energy.EnergyMonitor/StreamTelemetry",
                                        "/grpc.health.v1.Health/Check", "/energy.EnergyMonitor/X",
                                        "/"};
    static const char *const ctypes[] = {"application/grpc", "application/grpc+proto",
                                         "text/plain", NULL};
    static const char *const timeouts[] = {NULL, "1S", "0n", "9x"};
    uint8_t mode = data[0];
    const uint8_t *body = data + 4;
    size_t blen = size - 4;
    decode_as_reading(body, blen);
    /* a new reading each time, so streams have something to send */
    ipw_sampler_snapshot(g_sampler, NULL, NULL);

    struct ipw_buf wire = {.max = 8u << 20};
    static const char preface[] = NGHTTP2_CLIENT_MAGIC;
    nghttp2_session_callbacks *cbs;
    nghttp2_session *client;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_client_new(&client, cbs, NULL);
    nghttp2_session_callbacks_del(cbs);
    if ((mode & 3) == 3) {
        ipw_buf_put(&wire, preface, sizeof preface - 1);
        ipw_buf_put(&wire, body, blen);
    } else {
        uint8_t *framed = NULL;
        struct body b = {body, blen, 0};
        if (mode & 0x10) { /* let the harness frame the message; else the input is the body */
            framed = malloc(blen + IPW_GRPC_FRAME_HEADER);
            if (!framed)
                abort();
            ipw_grpc_frame_header(framed, (uint32_t)blen);
            if (blen)
                memcpy(framed + IPW_GRPC_FRAME_HEADER, body, blen);
            b = (struct body){framed, blen + IPW_GRPC_FRAME_HEADER, 0};
        }
        nghttp2_nv h[8];
        size_t n = 0;
        nv(&h[n++], ":method", (mode & 0x20) ? "GET" : "POST");
        nv(&h[n++], ":scheme", "http");
        nv(&h[n++], ":path", paths[data[1] % 5]);
        nv(&h[n++], ":authority", "fuzz");
        if (ctypes[data[2] % 4])
            nv(&h[n++], "content-type", ctypes[data[2] % 4]);
        if (timeouts[data[3] % 4])
            nv(&h[n++], "grpc-timeout", timeouts[data[3] % 4]);
        nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, NULL, 0);
        nghttp2_data_provider prd = {.source.ptr = &b, .read_callback = body_read};
        nghttp2_submit_request(client, NULL, h, n, &prd, NULL);
        if (mode & 0x40) /* the client gives up at once: RST_STREAM right behind the request */
            nghttp2_submit_rst_stream(client, NGHTTP2_FLAG_NONE, 1, NGHTTP2_CANCEL);
        for (;;) {
            const uint8_t *out;
            ssize_t k = nghttp2_session_mem_send(client, &out);
            if (k <= 0 || ipw_buf_add(&wire, out, (size_t)k) != IPW_OK)
                break;
        }
        free(framed);
    }
    struct ipw_buf answer = {.max = 8u << 20};
    ipw_grpc_server_feed(ipw_monitor_grpc_server(g_mon), (const uint8_t *)wire.p, wire.len, &answer, NULL);
    if (answer.len)
        nghttp2_session_mem_recv(client, (const uint8_t *)answer.p, answer.len);
    nghttp2_session_del(client);
    ipw_buf_free(&wire);
    ipw_buf_free(&answer);
    return 0;
}
