/* The model and layout behind `ipw top` (src/top/top.c): rows from local readings and fleet
 * nodes, energy since the view started (across a source restart), the total without nodes that
 * are down, sparkline levels and scaling, and a screen that fits the terminal's width. */
#include "ipw_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/top.h"

static struct ipw_reading reading(double gpu_w, double gpu_j, double cpu_w, double cpu_j)
{
    struct ipw_reading r;
    ipw_reading_clear(&r);
    if (gpu_w >= 0) {
        ipw_reading_set(&r, IPW_M_GPU_POWER_W, gpu_w);
        ipw_reading_set(&r, IPW_M_GPU_ENERGY_J, gpu_j);
    }
    ipw_reading_set(&r, IPW_M_CPU_POWER_W, cpu_w);
    ipw_reading_set(&r, IPW_M_CPU_ENERGY_J, cpu_j);
    ipw_reading_set(&r, IPW_M_CPU_MEM_USED_MB, 2048);
    r.energy_source[IPW_DOMAIN_CPU] = IPW_ENERGY_COUNTER;
    return r;
}

/* Display columns of a UTF-8 line (each code point one column: our text is ASCII and blocks). */
static size_t columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static void test_local_rows_and_energy(void **state)
{
    (void)state;
    struct ipw_top *t = malloc(sizeof *t);
    assert_non_null(t);
    ipw_top_init(t, false, IPW_NS_PER_SEC);
    struct ipw_collector_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.platform, sizeof info.platform, "nvidia");
    info.ndev = 2;
    for (unsigned i = 0; i < 2; i++) {
        info.dev[i].index = i;
        snprintf(info.dev[i].name, sizeof info.dev[i].name, "H100");
    }
    struct ipw_device_reading dev[2];
    memset(dev, 0, sizeof dev);
    struct ipw_reading r = reading(-1, 0, 50, 1000);
    for (int i = 0; i < 2; i++) {
        ipw_device_set(&dev[i], IPW_DF_POWER_W, 300 + i);
        ipw_device_set(&dev[i], IPW_DF_ENERGY_J, 5000);
        ipw_device_set(&dev[i], IPW_DF_MEM_USED_MB, 1024);
        ipw_device_set(&dev[i], IPW_DF_MEM_TOTAL_MB, 81920);
    }
    const int64_t S = IPW_NS_PER_SEC;
    ipw_top_update_local(t, &info, &r, dev, 1 * S);
    assert_int_equal(t->nrows, 3);
    assert_string_equal(t->row[0].label, "GPU0 H100");
    assert_string_equal(t->row[2].label, "CPU");
    /* energy counts from the first reading */
    assert_true(fabs(t->row[2].energy_j) < 1e-9);
    r = reading(-1, 0, 50, 1100);
    ipw_device_set(&dev[0], IPW_DF_ENERGY_J, 5300);
    ipw_top_update_local(t, &info, &r, dev, 3 * S);
    assert_true(fabs(t->row[2].energy_j - 100) < 1e-9);
    assert_true(fabs(t->row[0].energy_j - 300) < 1e-9);
    /* power from the counters over the 2 s between readings, not the readings' own values */
    assert_true(fabs(t->row[2].power_w - 50) < 1e-9);
    assert_true(fabs(t->row[0].power_w - 150) < 1e-9);
    assert_true(fabs(t->row[1].power_w - 0) < 1e-9); /* GPU1's counter did not move */
    /* the source restarted from zero: the shown energy keeps counting */
    r = reading(-1, 0, 50, 20);
    ipw_top_update_local(t, &info, &r, dev, 4 * S);
    assert_true(fabs(t->row[2].energy_j - 100) < 1e-9);
    assert_true(fabs(t->row[2].power_w - 50) < 1e-9); /* the reading's own power */
    r = reading(-1, 0, 50, 70);
    ipw_top_update_local(t, &info, &r, dev, 5 * S);
    assert_true(fabs(t->row[2].energy_j - 150) < 1e-9);
    double p, e;
    assert_true(ipw_top_total(t, &p, &e));
    assert_true(fabs(p - (0 + 0 + 50)) < 1e-9); /* the GPU counters stood still */
    free(t);
}

static void test_fleet_total_and_down(void **state)
{
    (void)state;
    struct ipw_top *t = malloc(sizeof *t);
    assert_non_null(t);
    ipw_top_init(t, true, IPW_NS_PER_SEC);
    struct ipw_reading a = reading(400, 10, 100, 5), b = reading(-1, 0, 60, 7);
    ipw_top_update_node(t, 0, "a:50053", "nvidia", &a, 1);
    ipw_top_update_node(t, 1, "b:50053", "rapl", &b, 1);
    ipw_top_node_down(t, 2, "c:50053", "connection refused");
    assert_int_equal(t->nrows, 3);
    assert_true(fabs(t->row[0].power_w - 500) < 1e-9);
    double p, e;
    assert_true(ipw_top_total(t, &p, &e));
    assert_true(fabs(p - 560) < 1e-9);
    /* a node that goes down leaves the total */
    ipw_top_node_down(t, 0, "a:50053", "stalled");
    assert_true(ipw_top_total(t, &p, &e));
    assert_true(fabs(p - 60) < 1e-9);
    struct ipw_buf out;
    ipw_buf_init(&out, 1 << 20);
    ipw_top_render(t, 100, 30, &out);
    assert_int_equal(ipw_buf_status(&out), IPW_OK);
    assert_non_null(strstr(ipw_buf_str(&out), "CLUSTER TOTAL"));
    assert_non_null(strstr(ipw_buf_str(&out), "(1 of 3 nodes up)"));
    assert_non_null(strstr(ipw_buf_str(&out), "c:50053"));
    assert_non_null(strstr(ipw_buf_str(&out), "down: connection refused"));
    ipw_buf_free(&out);
    free(t);
}

static void test_sparkline(void **state)
{
    (void)state;
    struct ipw_top_row row;
    memset(&row, 0, sizeof row);
    char out[3 * 16 + 1];
    ipw_top_sparkline(&row, 4, 100, out, sizeof out);
    assert_string_equal(out, "    "); /* no history: blank */
    const double v[] = {0, 100, 50, NAN};
    for (int i = 0; i < 4; i++) {
        row.hist[row.hist_head] = v[i];
        row.hist_head++;
        row.hist_len++;
    }
    ipw_top_sparkline(&row, 6, 100, out, sizeof out);
    /* two blank columns, then lowest, highest, the middle (level 4 of 0..7) and a gap */
    assert_string_equal(out, "  \xE2\x96\x81\xE2\x96\x88\xE2\x96\x85 ");
    /* fewer columns than samples: each column is a mean (0,100 -> 50; 50 -> 50) */
    ipw_top_sparkline(&row, 2, 100, out, sizeof out);
    assert_string_equal(out, "\xE2\x96\x85\xE2\x96\x85");
    /* a buffer too small for the columns asked is not overrun */
    char tiny[7];
    ipw_top_sparkline(&row, 10, 100, tiny, sizeof tiny);
    assert_true(strlen(tiny) < sizeof tiny);
}

static void test_render_fits_width(void **state)
{
    (void)state;
    struct ipw_top *t = malloc(sizeof *t);
    assert_non_null(t);
    ipw_top_init(t, true, 250 * IPW_NS_PER_MS);
    assert_int_equal(ipw_top_minute_samples(t), 240);
    for (int k = 0; k < 300; k++) {
        struct ipw_reading r = reading(100 + k % 50, k, 20, k);
        ipw_top_update_node(t, 0, "a-node-with-a-rather-long-name.example.org:50053", "nvidia",
                            &r, (k + 1) * 250 * IPW_NS_PER_MS);
    }
    assert_int_equal(t->row[0].hist_len, IPW_TOP_HISTORY);
    /* 1 J (GPU) + 1 J (CPU) every 250 ms */
    assert_true(fabs(t->row[0].power_w - 8) < 1e-9);
    for (int width = 40; width <= 200; width += 37) {
        struct ipw_buf out;
        ipw_buf_init(&out, 1 << 20);
        ipw_top_render(t, width, 12, &out);
        const char *p = ipw_buf_str(&out);
        int lines = 0;
        while (*p) {
            const char *nl = strchr(p, '\n');
            assert_non_null(nl);
            assert_true(columns(p, (size_t)(nl - p)) <= (size_t)width);
            lines++;
            p = nl + 1;
        }
        assert_true(lines <= 12);
        ipw_buf_free(&out);
    }
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_rows_and_energy),
        cmocka_unit_test(test_fleet_total_and_down),
        cmocka_unit_test(test_sparkline),
        cmocka_unit_test(test_render_fits_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
