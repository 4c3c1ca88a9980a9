/* What a simulation was made from (issue 14): the cluster config, the dataset and, for each
 * profile bundle the run loaded, whether its layer times are the profiled tables or the
 * roofline model and which hardware spec that used. Written into the --summary JSON so that
 * a summary read later (ipw report, a sweep) says which performance model produced it. */
#include <stdio.h>
#include <string.h>

#include "ipw/servesim.h"
#include "sim/predict/roof.h"
#include "sim/ss.h"

void ipw_ss_describe(const struct ipw_ss_sim *s, struct ipw_ss_inputs *in)
{
    memset(in, 0, sizeof *in);
    snprintf(in->cluster_config, sizeof in->cluster_config, "%s", s->c.path);
    snprintf(in->dataset, sizeof in->dataset, "%s", s->opt.dataset ? s->opt.dataset : "");
    snprintf(in->data_dir, sizeof in->data_dir, "%s", s->data_dir);
    for (int i = 0; i < s->nbundles && in->nperf < IPW_SS_MAX_PERF; i++) {
        const struct ss_bundle *b = &s->bundles[i];
        struct ipw_ss_perf_source *p = &in->perf[in->nperf++];
        snprintf(p->hardware, sizeof p->hardware, "%s", b->hardware);
        snprintf(p->variant, sizeof p->variant, "%s", b->variant);
        /* a bundle belongs to the model whose name its root contains (as the loader pairs
         * them); the longest match wins should one name contain another */
        size_t best = 0;
        for (int m = 0; m < s->nmodels; m++) {
            size_t n = strlen(s->models[m].name);
            if (n > best && strstr(b->root, s->models[m].name)) {
                best = n;
                snprintf(p->model, sizeof p->model, "%s", s->models[m].name);
            }
        }
        p->roofline = b->roof != NULL;
        if (b->roof) {
            p->spec_file = strncmp(b->roof->hw.origin, "embedded:", 9) != 0;
            snprintf(p->source, sizeof p->source, "%s", b->roof->hw.origin);
            snprintf(p->spec, sizeof p->spec, "%s", b->roof->hw.name);
        } else {
            snprintf(p->source, sizeof p->source, "%s", b->root);
        }
    }
}
