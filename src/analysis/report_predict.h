/* The report's "measured vs predicted" tables (issue 14): one per prediction_<hw>.json that
 * `ipw simulate --from-run` left in the run directory. */
#ifndef IPW_REPORT_PREDICT_H
#define IPW_REPORT_PREDICT_H

#include "ipw/buf.h"

void ipw_report_predictions(struct ipw_buf *b, const char *run_dir);

#endif
