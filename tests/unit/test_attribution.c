/* Attribution rules on push-fed samplers with a known power waveform, so every expectation is
 * an exact number: multi-source sums, the equal-share concurrency rule (shares add up to the
 * device energy, whatever the order of collection, the number of overlapping queries or the age
 * of a long query; empty phases are 0 J), window statistics, boundary snapshots vs the naive
 * first/last method. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "ipw/attribution.h"
#include "ipw/clock.h"

#define MS IPW_NS_PER_MS

/* Power: 100 W before t = 1 s, 300 W after. Energy is its exact integral. */
static double power_at(int64_t t) { return t < IPW_NS_PER_SEC ? 100.0 : 300.0; }
static double energy_at(int64_t t)
{
    double s = (double)t / 1e9;
    return s <= 1.0 ? 100.0 * s : 100.0 + 300.0 * (s - 1.0);
}

static void push_at(struct ipw_sampler *s, int64_t t, double scale, uint8_t flags)
{
    struct ipw_reading r;
    ipw_reading_clear(&r);
    r.mono_ns = t;
    r.flags = flags;
    ipw_reading_set(&r, IPW_M_GPU_POWER_W, scale * power_at(t));
    ipw_reading_set(&r, IPW_M_GPU_ENERGY_J, scale * energy_at(t));
    ipw_reading_set(&r, IPW_M_CPU_POWER_W, 10.0);
    ipw_reading_set(&r, IPW_M_CPU_ENERGY_J, 10.0 * (double)t / 1e9);
    ipw_reading_set(&r, IPW_M_CPU_MEM_USED_MB, 1000.0 + (double)(t / MS));
    ipw_reading_set(&r, IPW_M_TEMPERATURE_C, 50.0);
    assert_int_equal(ipw_sampler_push(s, &r, NULL, NULL), IPW_OK);
}

/* Periodic readings every `period` over [0, until], plus snapshot readings at `snaps`. */
static struct ipw_sampler *make_source(int64_t period, int64_t until, const int64_t *snaps,
                                       size_t nsnaps, double scale)
{
    struct ipw_sampler *s;
    assert_int_equal(ipw_sampler_create_push(0, NULL, &s, NULL), IPW_OK);
    size_t k = 0;
    for (int64_t t = 0; t <= until; t += period) {
        while (k < nsnaps && snaps[k] < t)
            push_at(s, snaps[k++], scale, IPW_READING_SNAPSHOT);
        if (k < nsnaps && snaps[k] == t)
            k++;
        push_at(s, t, scale, 0);
    }
    while (k < nsnaps)
        push_at(s, snaps[k++], scale, IPW_READING_SNAPSHOT);
    return s;
}

static void test_sum_over_sources(void **state)
{
    (void)state;
    struct ipw_energy_sources src = {.n = 2};
    src.s[0] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, NULL, 0, 1.0);
    src.s[1] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, NULL, 0, 2.0);
    struct ipw_energy e;
    assert_int_equal(ipw_attr_energy(&src, 500 * MS, 1500 * MS, &e, NULL), IPW_OK);
    /* 0.5 s at 100 W + 0.5 s at 300 W = 200 J on node 1, twice that on node 2 */
    assert_double_equal(e.joules[IPW_DOMAIN_GPU], 600.0, 1e-9);
    assert_double_equal(e.joules[IPW_DOMAIN_CPU], 20.0, 1e-9);
    assert_true(e.valid & (1u << IPW_DOMAIN_GPU));
    assert_false(e.valid & (1u << IPW_DOMAIN_DRAM));
    ipw_sampler_destroy(src.s[0]);
    ipw_sampler_destroy(src.s[1]);
}

/* Events of one query for the ledger, entered in time order by enter_all. */
struct qev {
    int64_t t;
    uint64_t id;
    int kind; /* 0 start, 1 first token, 2 end */
};

static int cmp_qev(const void *x, const void *y)
{
    const struct qev *a = x, *b = y;
    return (a->t > b->t) - (a->t < b->t);
}

static void enter_all(struct ipw_share_ledger *l, struct qev *ev, size_t n)
{
    for (size_t i = 1; i < n; i++) /* stable: events at the same time keep their order */
        for (size_t j = i; j > 0 && cmp_qev(&ev[j - 1], &ev[j]) > 0; j--) {
            struct qev x = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = x;
        }
    for (size_t i = 0; i < n; i++) {
        int64_t t = 0;
        if (ev[i].kind == 0)
            assert_int_equal(ipw_share_ledger_start(l, ev[i].id, ev[i].t, &t, NULL, NULL), IPW_OK);
        else if (ev[i].kind == 1)
            t = ipw_share_ledger_first_token(l, ev[i].id, ev[i].t);
        else
            t = ipw_share_ledger_end(l, ev[i].id, ev[i].t);
        assert_int_equal(t, ev[i].t);
    }
}

static struct ipw_share_ledger *ledger(const struct ipw_energy_sources *src, size_t n, bool deferred)
{
    struct ipw_share_ledger_config lc = {
        .src = src, .max_queries = n, .deferred = deferred, .pump_ns = -1};
    struct ipw_share_ledger *l;
    assert_int_equal(ipw_share_ledger_create(&lc, &l, NULL), IPW_OK);
    return l;
}

static double gpu(const struct ipw_energy *e)
{
    assert_true(e->valid & (1u << IPW_DOMAIN_GPU));
    return e->joules[IPW_DOMAIN_GPU];
}

static void test_shared_energy_adds_up(void **state)
{
    (void)state;
    /* q1 [0.2, 1.4] s, q2 [0.6, 2.0] s, q3 [1.1, 1.3] s: overlapping in every way; each has a
     * first token 50 ms after its start */
    int64_t b[][2] = {{200 * MS, 1400 * MS}, {600 * MS, 2000 * MS}, {1100 * MS, 1300 * MS}};
    struct qev ev[9];
    int64_t snaps[9];
    for (int i = 0; i < 3; i++) {
        int64_t t0 = b[i][0] + 7 * MS, t1 = b[i][1] + 7 * MS; /* off the periodic grid */
        ev[3 * i] = (struct qev){t0, (uint64_t)i, 0};
        ev[3 * i + 1] = (struct qev){t0 + 50 * MS, (uint64_t)i, 1};
        ev[3 * i + 2] = (struct qev){t1, (uint64_t)i, 2};
    }
    qsort(ev, 9, sizeof *ev, cmp_qev);
    for (int i = 0; i < 9; i++)
        snaps[i] = ev[i].t;
    struct ipw_energy_sources src = {.n = 1};
    src.s[0] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, snaps, 9, 1.0);
    struct ipw_share_ledger *l = ledger(&src, 3, false);
    enter_all(l, ev, 9);
    double sum = 0, share_sum = 0;
    struct ipw_query_share sh[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ipw_share_ledger_collect(l, (uint64_t)i, &sh[i], NULL), IPW_OK);
        assert_int_equal(sh[i].total.exact[IPW_DOMAIN_GPU], 1);
        /* the phases add up to the whole, exactly */
        assert_true(gpu(&sh[i].prefill) + gpu(&sh[i].decode) == gpu(&sh[i].total));
        sum += gpu(&sh[i].total);
        share_sum += sh[i].share_seconds;
    }
    assert_int_equal(ipw_share_ledger_tracked(l), 0);
    assert_int_equal(sh[0].concurrency, 1);
    assert_int_equal(sh[1].concurrency, 2);
    assert_int_equal(sh[2].concurrency, 3);
    /* shares of wall time add up to the union of the windows, like the energies */
    int64_t u0 = sh[0].start_ns, u1 = sh[1].end_ns, s3 = sh[2].start_ns, e3 = sh[2].end_ns;
    assert_double_equal(share_sum, (double)(u1 - u0) / 1e9, 1e-12);
    assert_double_equal(sh[2].share_seconds, (double)(e3 - s3) / 1e9 / 3.0, 1e-12);
    assert_double_equal(sum, energy_at(u1) - energy_at(u0), 1e-9);
    /* q3 runs only while all three are in flight: exactly a third of its window's energy */
    assert_double_equal(gpu(&sh[2].total), (energy_at(e3) - energy_at(s3)) / 3.0, 1e-9);
    assert_double_equal(gpu(&sh[2].prefill),
                        (energy_at(sh[2].first_token_ns) - energy_at(s3)) / 3.0, 1e-9);
    /* the CPU domain is split by the same rule */
    assert_double_equal(sh[2].total.joules[IPW_DOMAIN_CPU], 10.0 * (double)(e3 - s3) / 1e9 / 3.0,
                        1e-9);
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

/* A query that ended is charged for the pieces it shared with one that finished long before,
 * whatever order the threads collect in (a list of intervals pruned by "oldest running start"
 * lost those pieces once a newer query was running). */
static void test_collect_order_does_not_matter(void **state)
{
    (void)state;
    /* A [0.2, 1.4] s, C [0.3, 0.5] s, D [0.8, 2.0] s */
    struct qev ev[] = {{200 * MS, 'A', 0}, {300 * MS, 'C', 0}, {500 * MS, 'C', 2},
                       {800 * MS, 'D', 0}, {1400 * MS, 'A', 2}, {2000 * MS, 'D', 2}};
    int64_t snaps[6];
    for (int i = 0; i < 6; i++)
        snaps[i] = ev[i].t;
    struct ipw_energy_sources src = {.n = 1};
    src.s[0] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, snaps, 6, 1.0);
    struct ipw_share_ledger *l = ledger(&src, 3, false);
    struct ipw_query_share a, c, d;
    assert_int_equal(ipw_share_ledger_start(l, 'A', ev[0].t, NULL, NULL, NULL), IPW_OK);
    assert_int_equal(ipw_share_ledger_start(l, 'C', ev[1].t, NULL, NULL, NULL), IPW_OK);
    ipw_share_ledger_end(l, 'C', ev[2].t);
    assert_int_equal(ipw_share_ledger_start(l, 'D', ev[3].t, NULL, NULL, NULL), IPW_OK);
    ipw_share_ledger_end(l, 'A', ev[4].t);
    /* C's thread collects only now, while D runs and A waits to be collected */
    assert_int_equal(ipw_share_ledger_collect(l, 'C', &c, NULL), IPW_OK);
    assert_int_equal(ipw_share_ledger_collect(l, 'A', &a, NULL), IPW_OK);
    ipw_share_ledger_end(l, 'D', ev[5].t);
    assert_int_equal(ipw_share_ledger_collect(l, 'D', &d, NULL), IPW_OK);
#define E(x, y) (energy_at((x) * MS) - energy_at((y) * MS))
    assert_double_equal(gpu(&c.total), E(500, 300) / 2, 1e-9);
    assert_double_equal(gpu(&a.total), E(300, 200) + E(500, 300) / 2 + E(800, 500) +
                                           E(1400, 800) / 2,
                        1e-9);
    assert_double_equal(gpu(&d.total), E(1400, 800) / 2 + E(2000, 1400), 1e-9);
    assert_double_equal(gpu(&a.total) + gpu(&c.total) + gpu(&d.total), E(2000, 200), 1e-9);
#undef E
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

/* One long query beside thousands of short ones, with a telemetry ring far shorter than the
 * long query: every piece is divided as it closes, so neither the number of queries that
 * overlapped it nor the age of its start matters. */
static void test_long_query_beside_many_short(void **state)
{
    (void)state;
    struct ipw_sampler_config sc;
    ipw_sampler_config_init(&sc);
    sc.capacity = 256; /* ~12 s of history at the pace below */
    struct ipw_energy_sources src = {.n = 1};
    assert_int_equal(ipw_sampler_create_push(0, &sc, &src.s[0], NULL), IPW_OK);
    struct ipw_share_ledger *l = ledger(&src, 2, false);
    const int shorts = 5000;
    int64_t t = 500 * MS, next_tick = 0;
    /* the readings up to t (periodic every 100 ms), then a snapshot at t */
#define ADVANCE(to)                                                                        \
    do {                                                                                   \
        for (; next_tick < (to); next_tick += 100 * MS)                                    \
            push_at(src.s[0], next_tick, 1.0, 0);                                          \
        push_at(src.s[0], (to), 1.0, IPW_READING_SNAPSHOT);                                \
    } while (0)
    ADVANCE(t);
    assert_int_equal(ipw_share_ledger_start(l, 1, t, NULL, NULL, NULL), IPW_OK);
    int64_t long_start = t;
    double expect = 0, device_total = 0;
    for (int i = 0; i < shorts; i++) {
        int64_t s0 = t + 10 * MS, s1 = s0 + 40 * MS;
        expect += energy_at(s0) - energy_at(t); /* alone */
        ADVANCE(s0);
        assert_int_equal(ipw_share_ledger_start(l, 100 + (uint64_t)i, s0, NULL, NULL, NULL), IPW_OK);
        ADVANCE(s1);
        ipw_share_ledger_end(l, 100 + (uint64_t)i, s1);
        struct ipw_query_share sh;
        assert_int_equal(ipw_share_ledger_collect(l, 100 + (uint64_t)i, &sh, NULL), IPW_OK);
        double half = (energy_at(s1) - energy_at(s0)) / 2;
        assert_double_equal(gpu(&sh.total), half, 1e-6);
        expect += half;
        device_total += gpu(&sh.total);
        t = s1;
    }
    int64_t long_end = t + 20 * MS;
    expect += energy_at(long_end) - energy_at(t);
    ADVANCE(long_end);
    ipw_share_ledger_end(l, 1, long_end);
    struct ipw_query_share lq;
    assert_int_equal(ipw_share_ledger_collect(l, 1, &lq, NULL), IPW_OK);
    assert_true((double)(long_end - long_start) / 1e9 > 200.0); /* far older than the ring */
    assert_double_equal(gpu(&lq.total), expect, 1e-6 * expect);
    device_total += gpu(&lq.total);
    assert_double_equal(device_total, energy_at(long_end) - energy_at(long_start),
                        1e-6 * device_total);
#undef ADVANCE
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

/* One query alone, far longer than the telemetry ring: the ledger keeps the cumulative energy
 * at each event, so its phases need no reading older than the event before them. */
static void test_long_query_alone(void **state)
{
    (void)state;
    struct ipw_sampler_config sc;
    ipw_sampler_config_init(&sc);
    sc.capacity = 64; /* ~6 s of readings every 100 ms */
    struct ipw_energy_sources src = {.n = 1};
    assert_int_equal(ipw_sampler_create_push(0, &sc, &src.s[0], NULL), IPW_OK);
    struct ipw_share_ledger *l = ledger(&src, 1, false);
    int64_t tick = 0, t0 = 250 * MS, t1 = 2250 * MS, t2 = 300 * IPW_NS_PER_SEC + 50 * MS;
    int64_t at[3] = {t0, t1, t2};
    for (int k = 0; k < 3; k++) {
        for (; tick < at[k]; tick += 100 * MS)
            push_at(src.s[0], tick, 1.0, 0);
        push_at(src.s[0], at[k], 1.0, IPW_READING_SNAPSHOT);
        if (k == 0)
            assert_int_equal(ipw_share_ledger_start(l, 7, t0, NULL, NULL, NULL), IPW_OK);
        else if (k == 1)
            ipw_share_ledger_first_token(l, 7, t1);
        else
            ipw_share_ledger_end(l, 7, t2);
    }
    struct ipw_energy old;
    assert_int_equal(ipw_attr_energy(&src, t0, t2, &old, NULL), IPW_E_RANGE); /* ring forgot t0 */
    struct ipw_query_share sh;
    assert_int_equal(ipw_share_ledger_collect(l, 7, &sh, NULL), IPW_OK);
    assert_double_equal(gpu(&sh.prefill), energy_at(t1) - energy_at(t0), 1e-9);
    assert_double_equal(gpu(&sh.decode), energy_at(t2) - energy_at(t1), 1e-9);
    assert_int_equal(sh.total.exact[IPW_DOMAIN_GPU], 1);
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

/* The same with remote monitors: the ledger's thread divides each event once the stream has
 * passed it, while its readings are still held. */
static void test_long_remote_query_is_pumped(void **state)
{
    (void)state;
    for (int pumped = 0; pumped < 2; pumped++) {
        struct ipw_sampler_config sc;
        ipw_sampler_config_init(&sc);
        sc.capacity = 16;
        struct ipw_energy_sources src = {.n = 1};
        assert_int_equal(ipw_sampler_create_push(0, &sc, &src.s[0], NULL), IPW_OK);
        struct ipw_share_ledger_config lc = {
            .src = &src, .max_queries = 1, .deferred = true, .pump_ns = pumped ? 5 * MS : -1};
        struct ipw_share_ledger *l;
        assert_int_equal(ipw_share_ledger_create(&lc, &l, NULL), IPW_OK);
        int64_t tick = 0;
        for (; tick <= 100 * MS; tick += 50 * MS)
            push_at(src.s[0], tick, 1.0, 0);
        assert_int_equal(ipw_share_ledger_start(l, 1, 30 * MS, NULL, NULL, NULL), IPW_OK);
        ipw_sleep_ns(100 * MS); /* the thread's turn */
        for (; tick <= 3000 * MS; tick += 50 * MS)
            push_at(src.s[0], tick, 1.0, 0); /* the ring no longer reaches back to 30 ms */
        ipw_share_ledger_end(l, 1, 2990 * MS);
        struct ipw_query_share sh;
        assert_int_equal(ipw_share_ledger_collect(l, 1, &sh, NULL), IPW_OK);
        if (pumped) {
            assert_double_equal(gpu(&sh.total), energy_at(2990 * MS) - energy_at(30 * MS), 1e-9);
        } else {
            assert_int_equal(sh.total.valid, 0); /* divided too late: unknown, and said why */
            assert_non_null(strstr(sh.why, "older than the telemetry buffer"));
        }
        ipw_share_ledger_destroy(l);
        ipw_sampler_destroy(src.s[0]);
    }
}

/* Events at the same instant: a query that ends where another starts shares nothing with it. */
static void test_identical_timestamps(void **state)
{
    (void)state;
    int64_t snaps[] = {200 * MS, 400 * MS, 600 * MS, 1000 * MS};
    struct ipw_energy_sources src = {.n = 1};
    src.s[0] = make_source(50 * MS, 2 * IPW_NS_PER_SEC, snaps, 4, 1.0);
    struct ipw_share_ledger *l = ledger(&src, 3, false);
    /* A [0.2, 0.6], C [0.4, 0.6], B [0.6, 1.0]; A and C end as B starts */
    struct qev ev[] = {{200 * MS, 'A', 0}, {400 * MS, 'C', 0}, {600 * MS, 'A', 2},
                       {600 * MS, 'C', 2}, {600 * MS, 'B', 0}, {1000 * MS, 'B', 2}};
    enter_all(l, ev, 6);
    struct ipw_query_share a, b, c;
    assert_int_equal(ipw_share_ledger_collect(l, 'A', &a, NULL), IPW_OK);
    assert_int_equal(ipw_share_ledger_collect(l, 'B', &b, NULL), IPW_OK);
    assert_int_equal(ipw_share_ledger_collect(l, 'C', &c, NULL), IPW_OK);
#define E(x, y) (energy_at((x) * MS) - energy_at((y) * MS))
    assert_double_equal(gpu(&a.total), E(400, 200) + E(600, 400) / 2, 1e-9);
    assert_double_equal(gpu(&c.total), E(600, 400) / 2, 1e-9);
    assert_double_equal(gpu(&b.total), E(1000, 600), 1e-9);
#undef E
    assert_int_equal(b.concurrency, 1); /* A and C had ended when B started */
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

/* Empty phases measure 0 J, not "unknown": a first token at the very start, a query that ends
 * where it starts, and a query that never produced a token. */
static void test_empty_phases(void **state)
{
    (void)state;
    int64_t snaps[] = {200 * MS, 400 * MS, 600 * MS, 900 * MS};
    struct ipw_energy_sources src = {.n = 1};
    src.s[0] = make_source(50 * MS, 2 * IPW_NS_PER_SEC, snaps, 4, 1.0);
    struct ipw_share_ledger *l = ledger(&src, 3, false);
    struct ipw_query_share sh;
    /* first token at its start */
    struct qev a[] = {{200 * MS, 1, 0}, {200 * MS, 1, 1}, {400 * MS, 1, 2}};
    enter_all(l, a, 3);
    assert_int_equal(ipw_share_ledger_collect(l, 1, &sh, NULL), IPW_OK);
    assert_true(gpu(&sh.prefill) == 0.0);
    assert_double_equal(gpu(&sh.decode), energy_at(400 * MS) - energy_at(200 * MS), 1e-9);
    assert_true(gpu(&sh.prefill) + gpu(&sh.decode) == gpu(&sh.total));
    /* zero length */
    struct qev b[] = {{600 * MS, 2, 0}, {600 * MS, 2, 1}, {600 * MS, 2, 2}};
    enter_all(l, b, 3);
    assert_int_equal(ipw_share_ledger_collect(l, 2, &sh, NULL), IPW_OK);
    assert_true(gpu(&sh.total) == 0.0 && gpu(&sh.prefill) == 0.0 && gpu(&sh.decode) == 0.0);
    assert_true(sh.total.valid & (1u << IPW_DOMAIN_CPU));
    assert_int_equal(sh.why[0], '\0');
    /* no token ever */
    struct qev c[] = {{600 * MS, 3, 0}, {900 * MS, 3, 2}};
    enter_all(l, c, 2);
    assert_int_equal(ipw_share_ledger_collect(l, 3, &sh, NULL), IPW_OK);
    assert_int_equal(sh.first_token_ns, 0);
    assert_true(gpu(&sh.decode) == 0.0);
    assert_double_equal(gpu(&sh.prefill), energy_at(900 * MS) - energy_at(600 * MS), 1e-9);
    /* a query unknown or not ended cannot be collected */
    assert_int_equal(ipw_share_ledger_collect(l, 3, &sh, NULL), IPW_E_NOTFOUND);
    assert_int_equal(ipw_share_ledger_start(l, 4, 950 * MS, NULL, NULL, NULL), IPW_OK);
    assert_int_equal(ipw_share_ledger_start(l, 4, 950 * MS, NULL, NULL, NULL), IPW_E_EXISTS);
    assert_int_equal(ipw_share_ledger_collect(l, 4, &sh, NULL), IPW_E_NOTFOUND);
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

/* Remote monitors: events enter before the readings that bracket them; nothing is divided until
 * the query is collected (after the caller waited for telemetry past its end). A late event
 * (a client timestamp older than one already entered) is moved to the newest time, so the
 * shares still add up. */
static void test_deferred_and_late_events(void **state)
{
    (void)state;
    struct ipw_energy_sources src = {.n = 1};
    assert_int_equal(ipw_sampler_create_push(0, NULL, &src.s[0], NULL), IPW_OK);
    struct ipw_share_ledger *l = ledger(&src, 2, true);
    push_at(src.s[0], 0, 1.0, 0);
    assert_int_equal(ipw_share_ledger_start(l, 1, 210 * MS, NULL, NULL, NULL), IPW_OK);
    int64_t t;
    int conc = 0;
    assert_int_equal(ipw_share_ledger_start(l, 2, 480 * MS, &t, &conc, NULL), IPW_OK);
    assert_int_equal(conc, 2);
    assert_int_equal(ipw_share_ledger_end(l, 1, 1230 * MS), 1230 * MS);
    /* query 2 reports an end older than query 1's, which already entered */
    assert_int_equal(ipw_share_ledger_end(l, 2, 1100 * MS), 1230 * MS);
    for (int64_t x = 50 * MS; x <= 1300 * MS; x += 50 * MS)
        push_at(src.s[0], x, 1.0, 0); /* the stream catches up */
    struct ipw_query_share a, b;
    assert_int_equal(ipw_share_ledger_collect(l, 2, &b, NULL), IPW_OK);
    assert_int_equal(ipw_share_ledger_collect(l, 1, &a, NULL), IPW_OK);
    double shared = (energy_at(1230 * MS) - energy_at(480 * MS)) / 2;
    assert_double_equal(gpu(&a.total), energy_at(480 * MS) - energy_at(210 * MS) + shared, 1e-9);
    assert_double_equal(gpu(&b.total), shared, 1e-9);
    assert_int_equal(a.total.exact[IPW_DOMAIN_GPU], 0); /* interpolated, not snapshots */
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

/* A piece whose energy cannot be read makes the query's energy unknown (null), never a sum
 * with a hole in it; the reason is given. */
static void test_gap_is_unknown(void **state)
{
    (void)state;
    struct ipw_energy_sources src = {.n = 1};
    assert_int_equal(ipw_sampler_create_push(0, NULL, &src.s[0], NULL), IPW_OK);
    struct ipw_share_ledger *l = ledger(&src, 1, true);
    push_at(src.s[0], 0, 1.0, 0);
    push_at(src.s[0], 100 * MS, 1.0, 0);
    assert_int_equal(ipw_share_ledger_start(l, 1, 50 * MS, NULL, NULL, NULL), IPW_OK);
    ipw_share_ledger_end(l, 1, 400 * MS); /* no reading after 0.1 s ever arrives */
    struct ipw_query_share sh;
    assert_int_equal(ipw_share_ledger_collect(l, 1, &sh, NULL), IPW_OK);
    assert_int_equal(sh.total.valid, 0);
    assert_non_null(strstr(sh.why, "newer than the newest"));
    ipw_share_ledger_destroy(l);
    ipw_sampler_destroy(src.s[0]);
}

static void test_window_stats(void **state)
{
    (void)state;
    struct ipw_energy_sources src = {.n = 1};
    src.s[0] = make_source(100 * MS, 2 * IPW_NS_PER_SEC, NULL, 0, 1.0);
    struct ipw_window_stats st;
    /* readings at 0.8, 0.9 s (100 W) and 1.0, 1.1, 1.2 s (300 W) */
    assert_int_equal(ipw_attr_window_stats(&src, 800 * MS, 1200 * MS, &st, NULL), IPW_OK);
    assert_int_equal(st.readings, 5);
    assert_double_equal(st.main_power.avg, 220.0, 1e-9);
    assert_double_equal(st.main_power.median, 300.0, 1e-9);
    assert_double_equal(st.main_power.max, 300.0, 1e-9);
    assert_double_equal(st.total_power.min, 110.0, 1e-9);
    assert_double_equal(st.cpu_power.avg, 10.0, 1e-9);
    assert_double_equal(st.cpu_mem_mb.min, 1800.0, 1e-9);
    assert_double_equal(st.temperature_c.avg, 50.0, 1e-9);
    assert_int_equal(st.gpu_mem_mb.n, 0);
    struct ipw_energy w;
    assert_int_equal(ipw_attr_mean_power(&src, 500 * MS, 1500 * MS, &w, NULL), IPW_OK);
    assert_double_equal(w.joules[IPW_DOMAIN_GPU], 200.0, 1e-9);
    ipw_sampler_destroy(src.s[0]);
}

/* The reason boundary snapshots exist: on short queries the first/last-sample method of the
 * original tool misses up to a sampling period at each end. */
static void test_snapshots_beat_naive_on_short_queries(void **state)
{
    (void)state;
    double worst_naive = 0, worst_exact = 0;
    for (int k = 0; k < 20; k++) {
        int64_t t0 = 1200 * MS + k * 3 * MS + 1, t1 = t0 + 200 * MS; /* 0.2 s queries */
        int64_t snaps[2] = {t0, t1};
        struct ipw_energy_sources src = {.n = 1};
        src.s[0] = make_source(50 * MS, 3 * IPW_NS_PER_SEC, snaps, 2, 1.0);
        double truth = energy_at(t1) - energy_at(t0);
        struct ipw_energy e;
        assert_int_equal(ipw_attr_energy(&src, t0, t1, &e, NULL), IPW_OK);
        double naive;
        assert_int_equal(ipw_attr_naive_energy(src.s[0], IPW_DOMAIN_GPU, t0, t1, &naive, NULL),
                         IPW_OK);
        double en = ipw_test_rel_err(naive, truth), ee = ipw_test_rel_err(e.joules[0], truth);
        worst_naive = en > worst_naive ? en : worst_naive;
        worst_exact = ee > worst_exact ? ee : worst_exact;
        ipw_sampler_destroy(src.s[0]);
    }
    print_message("0.2 s queries at 50 ms: worst error naive %.1f %%, snapshots %.2e %%\n",
                  100 * worst_naive, 100 * worst_exact);
    assert_true(worst_exact < 1e-9);
    assert_true(worst_naive > 0.2); /* loses ~ a quarter of a 200 ms window */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_over_sources),
        cmocka_unit_test(test_shared_energy_adds_up),
        cmocka_unit_test(test_collect_order_does_not_matter),
        cmocka_unit_test(test_long_query_beside_many_short),
        cmocka_unit_test(test_long_query_alone),
        cmocka_unit_test(test_long_remote_query_is_pumped),
        cmocka_unit_test(test_identical_timestamps),
        cmocka_unit_test(test_empty_phases),
        cmocka_unit_test(test_deferred_and_late_events),
        cmocka_unit_test(test_gap_is_unknown),
        cmocka_unit_test(test_window_stats),
        cmocka_unit_test(test_snapshots_beat_naive_on_short_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
