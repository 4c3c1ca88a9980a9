/* Plots: the kernel density (against a direct evaluation, exact and binned), the reservoir
 * sample, and rendering: PNGs read back with cairo (size, white ground, blue points, a red fit
 * line), SVG in memory, empty data drawn without error, and constant values (a flat axis). */
#include "ipw_test.h"

#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipw/plots.h"

static double direct_kde(const double *v, size_t n, double h, double x)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double z = (x - v[i]) / h;
        s += exp(-0.5 * z * z);
    }
    return s / (n * h * sqrt(2 * M_PI));
}

static double sample_std(const double *v, size_t n)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i] / n;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (n - 1));
}

static void test_kde(void **state)
{
    (void)state;
    double v[] = {10, 12, 15, 40, 41, 45, 90, 200};
    size_t n = sizeof v / sizeof v[0];
    double grid[200], dens[200];
    for (int i = 0; i < 200; i++)
        grid[i] = -300 + 4.0 * i;
    double h = ipw_kde_scott(v, n, grid, dens, 200);
    assert_double_equal(h, sample_std(v, n) * pow((double)n, -0.2), 1e-12);
    double integral = 0;
    for (int i = 0; i < 200; i++) {
        assert_double_equal(dens[i], direct_kde(v, n, h, grid[i]), 1e-15);
        integral += dens[i] * 4.0;
    }
    assert_double_equal(integral, 1.0, 1e-3); /* a density */

    /* large n: the binned estimate stays within 0.5% of the direct one where it matters */
    size_t big = 60000;
    double *w = malloc(big * sizeof *w);
    uint64_t s = 12345;
    for (size_t i = 0; i < big; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u1 = ((s >> 11) + 0.5) / 9007199254740992.0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u2 = ((s >> 11) + 0.5) / 9007199254740992.0;
        w[i] = exp(4.5 + 0.8 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2)); /* log-normal */
    }
    double g[8] = {20, 50, 90, 120, 200, 300, 500, 800}, d[8];
    h = ipw_kde_scott(w, big, g, d, 8);
    for (int i = 0; i < 8; i++) {
        double want = direct_kde(w, big, h, g[i]);
        if (want > 1e-5)
            assert_true(fabs(d[i] - want) / want < 5e-3);
    }
    free(w);

    /* degenerate input: a bump of width max(1, 5% of the value), no division by zero */
    double same[] = {7, 7, 7};
    double x = 7, y;
    h = ipw_kde_scott(same, 3, &x, &y, 1);
    assert_double_equal(h, 1, 0);
    assert_true(isfinite(y) && y > 0);
    assert_true(isnan(ipw_kde_scott(NULL, 0, &x, &y, 1)));
    assert_double_equal(y, 0, 0);
}

static void test_reservoir(void **state)
{
    (void)state;
    struct ipw_plot_data d;
    memset(&d, 0, sizeof d);
    d.rng = 42;
    size_t total = 4 * IPW_PLOT_MAX_POINTS;
    for (size_t i = 0; i < total; i++)
        assert_int_equal(ipw_plot_points_add(&d, 0, (double)i, 2.0 * i, NULL), IPW_OK);
    assert_int_equal(d.scatter[0].n, IPW_PLOT_MAX_POINTS);
    assert_int_equal(d.scatter[0].seen, total);
    /* a uniform sample: about a quarter of the kept points come from each quarter */
    size_t late = 0;
    for (size_t i = 0; i < d.scatter[0].n; i++) {
        assert_double_equal(d.scatter[0].y[i], 2 * d.scatter[0].x[i], 0);
        late += d.scatter[0].x[i] >= 3 * IPW_PLOT_MAX_POINTS;
    }
    assert_true(late > IPW_PLOT_MAX_POINTS / 4 - 200 && late < IPW_PLOT_MAX_POINTS / 4 + 200);
    ipw_plot_data_free(&d);
}

static void fill(struct ipw_plot_data *d)
{
    memset(d, 0, sizeof *d);
    d->rng = 1;
    for (int k = 0; k < IPW_PLOT_SCATTERS; k++) {
        struct ipw_ols o;
        ipw_ols_init(&o);
        for (int i = 0; i < 200; i++) {
            double x = 20 + i * 3, y = 0.5 * x + 30 + 25 * sin(i * 1.7);
            ipw_plot_points_add(d, k, x, y, NULL);
            ipw_ols_add(&o, x, y);
        }
        ipw_ols_fit(&o, &d->fit[k]);
    }
    d->tokens = malloc(200 * sizeof *d->tokens);
    d->tokens_cap = 200;
    for (int i = 0; i < 200; i++)
        d->tokens[d->ntokens++] = 50 + (i * 37) % 300;
    snprintf(d->subtitle, sizeof d->subtitle, "unit-model \xC2\xB7 TEST \xC2\xB7 ipw");
}

static void count_colours(cairo_surface_t *s, size_t *blue, size_t *red, size_t *white)
{
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *px = cairo_image_surface_get_data(s);
    *blue = *red = *white = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const unsigned char *p = px + y * stride + 4 * x; /* BGRA on little endian */
            int b = p[0], g = p[1], r = p[2];
            *white += r > 250 && g > 250 && b > 250;
            *blue += b > 150 && r < 150 && b > r + 40;
            *red += r > 180 && g < 80 && b < 80;
        }
}

static void test_render(void **state)
{
    (void)state;
    struct ipw_plot_data d;
    fill(&d);
    char *dir = ipw_test_mkdtemp("ipw-plots");
    for (int id = 0; id < IPW_PLOT_COUNT; id++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.png", dir, ipw_plot_name((enum ipw_plot_id)id));
        ipw_errbuf eb = {0};
        assert_int_equal(ipw_plot_write(&d, (enum ipw_plot_id)id, IPW_PLOT_PNG, path, &eb),
                         IPW_OK);
        cairo_surface_t *s = cairo_image_surface_create_from_png(path);
        assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
        assert_int_equal(cairo_image_surface_get_width(s), 1600);
        assert_int_equal(cairo_image_surface_get_height(s), 1040);
        size_t blue, red, white;
        count_colours(s, &blue, &red, &white);
        size_t all = 1600 * 1040;
        assert_true(white > all / 2); /* mostly white ground */
        assert_true(blue > 2000);     /* points or the density curve */
        if (id != IPW_PLOT_KDE)
            assert_true(red > 500);   /* the fitted line */
        cairo_surface_destroy(s);

        char *svg;
        size_t len;
        assert_int_equal(ipw_plot_svg(&d, (enum ipw_plot_id)id, &svg, &len, NULL), IPW_OK);
        assert_true(len > 1000 && strlen(svg) == len);
        assert_non_null(strstr(svg, "<svg"));
        assert_non_null(strstr(svg, "</svg>"));
        free(svg);
    }
    ipw_plot_data_free(&d);

    /* nothing to draw: still a valid picture */
    memset(&d, 0, sizeof d);
    char path[512];
    snprintf(path, sizeof path, "%s/empty.png", dir);
    assert_int_equal(ipw_plot_write(&d, IPW_PLOT_ENERGY, IPW_PLOT_PNG, path, NULL), IPW_OK);
    assert_int_equal(ipw_plot_write(&d, IPW_PLOT_KDE, IPW_PLOT_PNG, path, NULL), IPW_OK);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
    /* an unwritable destination is an error naming the path */
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_plot_write(&d, IPW_PLOT_TTFT, IPW_PLOT_PNG, "/nonexistent/dir/x.png",
                                    &eb),
                     IPW_E_IO);
    assert_non_null(strstr(eb.msg, "/nonexistent/dir"));
    ipw_test_rmtree(dir);
    free(dir);
}

/* Every query at the same power, give or take one ulp (what a sim run produces): the axis must
 * still get round ticks; a tick step below the values' resolution used to stall the tick loop
 * forever. SIGALRM ends the test if it hangs again. */
static void test_constant_values(void **state)
{
    (void)state;
    alarm(60);
    struct ipw_plot_data d;
    memset(&d, 0, sizeof d);
    d.rng = 1;
    for (int k = 0; k < IPW_PLOT_SCATTERS; k++) {
        struct ipw_ols o;
        ipw_ols_init(&o);
        for (int i = 0; i < 12; i++) {
            double x = 50 + 60 * i, y = i % 3 ? 238.0 : nextafter(238.0, 0);
            ipw_plot_points_add(&d, k, x, y, NULL);
            ipw_ols_add(&o, x, y);
        }
        ipw_ols_fit(&o, &d.fit[k]);
    }
    for (int id = 0; id < IPW_PLOT_SCATTERS; id++) {
        char *svg;
        size_t len;
        assert_int_equal(ipw_plot_svg(&d, (enum ipw_plot_id)id, &svg, &len, NULL), IPW_OK);
        assert_true(len > 1000);
        free(svg);
    }
    ipw_plot_data_free(&d);
    alarm(0);
}


/* Issue 10 item 15: a line is drawn only when it explains something. */
static void test_fit_explains(void **state)
{
    (void)state;
    char why[128];
    struct ipw_ols_fit noise = {.count = 20, .valid = true, .slope = 1e-5, .intercept = 0.1,
                                .r2 = 0.05, .avg_y = 0.1};
    assert_false(ipw_plot_fit_explains(&noise, 10, 80, why, sizeof why));
    assert_non_null(strstr(why, "R\xC2\xB2 = 0.05"));
    /* the demo's power: R² 0.42 but 0.003 % change across the range: flat */
    struct ipw_ols_fit flat = {.count = 20, .valid = true, .slope = -3.5e-5, .intercept = 322.01,
                               .r2 = 0.42, .avg_y = 322.005};
    assert_false(ipw_plot_fit_explains(&flat, 50, 310, why, sizeof why));
    assert_non_null(strstr(why, "flat"));
    struct ipw_ols_fit energy = {.count = 20, .valid = true, .slope = 1.81, .intercept = -78,
                                 .r2 = 0.98, .avg_y = 200};
    assert_true(ipw_plot_fit_explains(&energy, 50, 310, why, sizeof why));
    struct ipw_ols_fit none = {.count = 1, .valid = false};
    assert_false(ipw_plot_fit_explains(&none, 0, 1, why, sizeof why));
}

/* A handful of completions is drawn as bars, and a run's density stops at max_tokens. */
static void test_small_runs_and_support(void **state)
{
    (void)state;
    struct ipw_plot_data d;
    memset(&d, 0, sizeof d);
    d.token_cap = 256;
    double one = 200;
    d.tokens = &one;
    d.ntokens = 1;
    char *svg;
    size_t len;
    assert_int_equal(ipw_plot_svg(&d, IPW_PLOT_KDE, &svg, &len, NULL), IPW_OK);
    assert_true(len > 1000);
    free(svg);
    d.tokens = NULL;
    d.ntokens = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kde),
        cmocka_unit_test(test_reservoir),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_constant_values),
        cmocka_unit_test(test_fit_explains),
        cmocka_unit_test(test_small_runs_and_support),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    ipw_plot_release_fonts();
    return failed;
}
