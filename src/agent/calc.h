/* The calculator tool: arithmetic expressions (+ - * / % ^, parentheses, unary minus, decimal
 * and scientific numbers) evaluated in double precision, nesting bounded. */
#ifndef IPW_AGENT_CALC_H
#define IPW_AGENT_CALC_H

#include <stddef.h>

#include "ipw/err.h"

#define IPW_CALC_MAX_LEN 4096
#define IPW_CALC_MAX_DEPTH 64

ipw_err ipw_calc_eval(const char *expr, double *out, ipw_errbuf *eb);

#endif
