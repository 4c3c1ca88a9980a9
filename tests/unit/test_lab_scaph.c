/* The Scaphandre poller against a fake exporter over real HTTP: it never asks more often than
 * every 2 s (the exporter freezes otherwise), polls once more after the run for the tail, and
 * integrates with the right rectangle: each answer's power times the interval that ends at it.
 * The exporter answers 10 W, then 20 W, then 30 W... for the matched process lines. */
#include "ipw_test.h"

#include <microhttpd.h>
#include <pthread.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/lab.h"
#include "lab/scaph_poll.h"

#define MAX_REQ 16
static int64_t g_t[MAX_REQ];
static int g_n;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_size;
    (void)con_cls;
    pthread_mutex_lock(&g_lock);
    int k = g_n < MAX_REQ ? g_n : MAX_REQ - 1;
    g_t[k] = ipw_mono_ns();
    g_n++;
    pthread_mutex_unlock(&g_lock);
    char body[512];
    /* two matching processes (serve + runner) sum to 10 W x (k + 1); one other process */
    snprintf(body, sizeof body,
             "# TYPE scaph_process_power_consumption_microwatts gauge\n"
             "scaph_process_power_consumption_microwatts{exe=\"ollama\",pid=\"1\"} %d\n"
             "scaph_process_power_consumption_microwatts{exe=\"ollama_runner\",pid=\"2\"} %d\n"
             "scaph_process_power_consumption_microwatts{exe=\"bash\",pid=\"3\"} 5000000\n",
             4000000 * (k + 1), 6000000 * (k + 1));
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void test_poll_interval_and_rectangle(void **state)
{
    (void)state;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                            serve, NULL, MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", (unsigned)info->port);
    struct lab_scaph_poller *p;
    ipw_errbuf eb = {0};
    if (lab_scaph_start(url, "ollama", IPW_LAB_SCAPH_MIN_POLL_NS, &p, &eb) != IPW_OK)
        fail_msg("%s", eb.msg);
    ipw_sleep_ns(2500 * IPW_NS_PER_MS); /* a run of 2.5 s: polls at 0 and 2 s, the tail at >= 4 s */
    double j;
    int polls;
    assert_int_equal(lab_scaph_stop(p, &j, &polls, &eb), IPW_OK);
    MHD_stop_daemon(d);
    assert_int_equal(g_n, 3);
    assert_int_equal(polls, 2);
    for (int i = 1; i < g_n; i++)
        if (g_t[i] - g_t[i - 1] < IPW_LAB_SCAPH_MIN_POLL_NS - 5 * IPW_NS_PER_MS)
            fail_msg("polls %d and %d only %.3f s apart", i - 1, i,
                     (double)(g_t[i] - g_t[i - 1]) / 1e9);
    /* right rectangle: 20 W over [t0, t1], 30 W over [t1, t2] (the first answer, 10 W, only
     * opened the window) */
    double want = 20.0 * (double)(g_t[1] - g_t[0]) / 1e9 + 30.0 * (double)(g_t[2] - g_t[1]) / 1e9;
    print_message("Scaphandre: %.3f J integrated, %.3f J expected, polls %.2f s and %.2f s "
                  "apart\n",
                  j, want, (double)(g_t[1] - g_t[0]) / 1e9, (double)(g_t[2] - g_t[1]) / 1e9);
    assert_true(fabs(j - want) <= 0.01 * want);
}

static void test_unreachable_exporter(void **state)
{
    (void)state;
    struct lab_scaph_poller *p = NULL;
    ipw_errbuf eb = {0};
    assert_int_not_equal(lab_scaph_start("http://127.0.0.1:9/metrics", "ollama",
                                         IPW_LAB_SCAPH_MIN_POLL_NS, &p, &eb),
                         IPW_OK);
    assert_null(p);
    assert_true(eb.msg[0] != '\0' && !strchr(eb.msg, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_interval_and_rectangle),
        cmocka_unit_test(test_unreachable_exporter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
