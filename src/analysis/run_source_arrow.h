/* The run reader's Arrow dataset source (see run_source_arrow.c). */
#ifndef IPW_ANALYSIS_RUN_SOURCE_ARROW_H
#define IPW_ANALYSIS_RUN_SOURCE_ARROW_H

#include "ipw/run_reader.h"

extern const struct ipw_run_source_ops ipw_run_source_arrow;
ipw_err ipw_run_source_arrow_open(const char *run_dir, void **state, ipw_errbuf *eb);

#endif
