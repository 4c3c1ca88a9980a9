/* Published benchmark accuracies of the models the sim backend models (data/accuracy/
 * published.json, each figure with its source), and the deterministic modelled correctness
 * drawn from them. Nothing here is measured: every use is labelled "modelled accuracy". */
#ifndef IPW_PUBLISHED_ACCURACY_H
#define IPW_PUBLISHED_ACCURACY_H

#include <stdbool.h>
#include <stdint.h>

#include "ipw/err.h"

struct ipw_published_accuracy {
    double accuracy;        /* 0..1 */
    char benchmark[160];    /* what was measured, e.g. "MMLU, 5-shot, macro_avg/acc (...)" */
    char source[256];       /* where it is published */
};

/* The published accuracy of model spec `model` (its canonical name, e.g. "llama-3.1-8b") on the
 * benchmark standing for item kind `kind` ("mcq" or "exact"). IPW_E_NOTFOUND when the table has
 * none (open items never have one: they need a judge). */
ipw_err ipw_published_accuracy_get(const char *model, const char *kind,
                                   struct ipw_published_accuracy *out, ipw_errbuf *eb);

/* A deterministic draw for one item: true with probability p, the same for the same problem
 * text and seed on every machine and run. */
bool ipw_modelled_correct(const char *problem, uint64_t seed, double p);

#endif
