/* Helpers shared by the C tests: temporary directories, files, and the paths CTest passes in. */
#ifndef IPW_TEST_H
#define IPW_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three above first */
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

/* cmocka 1.1's assert_float_equal works in float; tests of energies need double precision. */
#ifndef assert_double_equal
#define assert_double_equal(a, b, eps)                                                         \
    do {                                                                                       \
        double ipw_a_ = (a), ipw_b_ = (b);                                                     \
        if (!(fabs(ipw_a_ - ipw_b_) <= (eps)))                                                 \
            fail_msg("%s = %.17g, expected %.17g (within %g)", #a, ipw_a_, ipw_b_,             \
                     (double)(eps));                                                           \
    } while (0)
#endif

/* A fresh directory under $TMPDIR (or /tmp); removed by ipw_test_rmtree. Returns a static
 * buffer's copy the caller frees. */
char *ipw_test_mkdtemp(const char *prefix);
void ipw_test_rmtree(const char *path);
/* Write text to dir/rel, creating parent directories; aborts the test on failure. */
void ipw_test_write(const char *dir, const char *rel, const char *text);
/* $IPW_TEST_SOURCE_DIR / $IPW_TEST_BINARY_DIR (fall back to "." when run by hand). */
const char *ipw_test_source_dir(void);
const char *ipw_test_binary_dir(void);
/* Relative error |a-b|/|b| (absolute when b == 0). */
double ipw_test_rel_err(double a, double b);

#endif
