/* The per-turn plot of an agent run: plots/agent_turns.png and .svg. */
#ifndef IPW_ANALYSIS_AGENT_PLOT_H
#define IPW_ANALYSIS_AGENT_PLOT_H

#include "ipw/agent_analysis.h"

ipw_err ipw_agent_plot_write(const char *run_dir, const struct ipw_agent_analysis *a,
                             ipw_errbuf *eb);

#endif
