/* Console-log helpers of the simulator (ss_log.c). */
#ifndef IPW_SS_LOG_H
#define IPW_SS_LOG_H

#include "ss.h"

void ss_emit(const struct ipw_ss_sink *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ss_rule(const struct ipw_ss_sink *k, const char *title);
void ss_center(const struct ipw_ss_sink *k, const char *text);
void ss_banner(const struct ipw_ss_sink *k, const struct ipw_ss_options *o);

#endif
