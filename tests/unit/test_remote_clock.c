/* The pure arithmetic of a remote monitor's stream (telemetry/remote_clock.c): clock mapping in
 * synced and arrival modes, restart detection from sequence numbers, energy rebasing. */
#include "ipw_test.h"

#include <string.h>

#include "ipw/remote.h"
#include "telemetry/remote_clock.h"

#define MS IPW_NS_PER_MS
#define S IPW_NS_PER_SEC

/* Clocks that agree: a reading is placed at its own time (never after its arrival). */
static void test_synced(void **state)
{
    (void)state;
    struct ipw_clock_map cm = {0};
    enum ipw_clock_event ev;
    int64_t off = 1000 * S; /* real - mono on this host */
    /* taken at mono 100 s, arrived 3 ms later */
    int64_t t = ipw_clock_map_time(&cm, 100 * S + off, 100 * S + 3 * MS, 100 * S + 3 * MS + off,
                                   true, &ev);
    assert_int_equal(ev, IPW_CLOCK_KEPT);
    assert_int_equal(cm.mode, IPW_REMOTE_CLOCK_SYNCED);
    assert_int_equal(t, 100 * S);
    assert_double_equal(cm.skew_ms, 3.0, 1e-9);
    /* a reading stamped 1 ms in our future (within tolerance) is placed at its arrival */
    t = ipw_clock_map_time(&cm, 101 * S + off + 1 * MS, 101 * S, 101 * S + off, false, &ev);
    assert_int_equal(ev, IPW_CLOCK_KEPT);
    assert_int_equal(t, 101 * S);
    /* one stamped 50 ms in our future: the monitor's clock was stepped, arrival mode on */
    t = ipw_clock_map_time(&cm, 102 * S + off + 50 * MS, 102 * S, 102 * S + off, false, &ev);
    assert_int_equal(ev, IPW_CLOCK_STEPPED);
    assert_int_equal(cm.mode, IPW_REMOTE_CLOCK_ARRIVAL);
    assert_double_equal(cm.reading_skew_ms, -50.0, 1e-9);
    assert_double_equal(cm.skew_ms, 3.0, 1e-9); /* the connection's skew is kept */
    assert_int_equal(t, 102 * S);
}

/* Clocks 10 s apart: arrival time less the smallest delay seen, creeping 100 ppm. */
static void test_arrival(void **state)
{
    (void)state;
    struct ipw_clock_map cm = {0};
    enum ipw_clock_event ev;
    int64_t off = 1000 * S, remote_off = off - 10 * S; /* the monitor is 10 s behind */
    int64_t t = ipw_clock_map_time(&cm, 100 * S + remote_off, 100 * S + 20 * MS,
                                   100 * S + 20 * MS + off, true, &ev);
    assert_int_equal(ev, IPW_CLOCK_CHOSE_ARRIVAL);
    assert_int_equal(cm.mode, IPW_REMOTE_CLOCK_ARRIVAL);
    assert_int_equal(t, 100 * S + 20 * MS); /* first reading: its arrival */
    /* the next one arrives after only 5 ms: the offset shrinks to that */
    t = ipw_clock_map_time(&cm, 101 * S + remote_off, 101 * S + 5 * MS, 101 * S + 5 * MS + off,
                           false, &ev);
    assert_int_equal(ev, IPW_CLOCK_KEPT);
    assert_int_equal(t, 101 * S + 5 * MS);
    /* a slower one (30 ms) keeps the best offset, plus 100 ppm of the 10 s since */
    t = ipw_clock_map_time(&cm, 111 * S + remote_off, 111 * S + 30 * MS, 111 * S + 30 * MS + off,
                           false, &ev);
    assert_int_equal(t, 111 * S + 5 * MS + (10 * S + 25 * MS) / 10000);
}

static void test_sequence_restart(void **state)
{
    (void)state;
    struct ipw_seq_track t = {0};
    assert_false(ipw_seq_restarted(&t, 1, 1 * S, true));
    for (uint64_t s = 2; s <= 10; s++) /* every 100 ms */
        assert_false(ipw_seq_restarted(&t, s, 1 * S + (int64_t)(s - 1) * 100 * MS, false));
    assert_double_equal(t.period_est_ns, 100.0 * MS, 1);
    /* within a connection, a step back is a restart */
    struct ipw_seq_track back = t;
    assert_true(ipw_seq_restarted(&back, 3, 2 * S + 100 * MS, false));
    /* reconnecting 60 s later at sequence 50: 600 were expected, so the monitor restarted
     * (although 50 has passed the old 10) */
    struct ipw_seq_track re = t;
    assert_true(ipw_seq_restarted(&re, 50, 1 * S + 900 * MS + 60 * S, true));
    /* reconnecting 2 s later at 30: about what was expected, the same monitor */
    struct ipw_seq_track same = t;
    assert_false(ipw_seq_restarted(&same, 30, 1 * S + 900 * MS + 2 * S, true));
    /* a monitor without sequence numbers never tells */
    assert_false(ipw_seq_restarted(&t, 0, 100 * S, true));
    assert_int_equal(t.last_seq, 10);
}

static void test_rebase(void **state)
{
    (void)state;
    struct ipw_rebase rb = {0};
    bool back = false;
    assert_double_equal(ipw_rebase_value(&rb, 100, false, &back), 100, 0);
    assert_double_equal(ipw_rebase_value(&rb, 150, false, &back), 150, 0);
    assert_false(back);
    /* the monitor restarted: its counter starts again near 0, the series continues */
    assert_double_equal(ipw_rebase_value(&rb, 5, false, &back), 155, 0);
    assert_true(back);
    back = false;
    assert_double_equal(ipw_rebase_value(&rb, 25, false, &back), 175, 0);
    assert_false(back);
    /* told by its sequence even when the value has passed the old one */
    assert_double_equal(ipw_rebase_value(&rb, 200, true, &back), 375, 0);
    assert_true(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synced),
        cmocka_unit_test(test_arrival),
        cmocka_unit_test(test_sequence_restart),
        cmocka_unit_test(test_rebase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
