/* Rules and JSON shapes shared by the lab's two faces, the command line and the web page: the
 * calibration rule (c_in from prefill, c_out from decode energy, medians over the runs) and the
 * benchmark and estimate objects of SPEC §5.4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipw/jsonutil.h"
#include "ipw/lab.h"
#include "ipw/stats.h"

ipw_err ipw_lab_calibrate_benchmark(const struct ipw_lab_run *runs, size_t n, const char *model,
                                    const char *name, struct ipw_lab_benchmark *out,
                                    ipw_errbuf *eb)
{
    double *in = malloc((n + 1) * sizeof *in), *dec = malloc((n + 1) * sizeof *dec);
    if (!in || !dec) {
        free(in);
        free(dec);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory calibrating %s", model);
    }
    size_t ni = 0, no = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ipw_lab_run *r = &runs[i];
        if (r->error[0])
            continue;
        if (isfinite(r->prefill_wh_per_1000_input_tokens))
            in[ni++] = r->prefill_wh_per_1000_input_tokens;
        if (isfinite(r->decode_wh_per_1000_output_tokens))
            dec[no++] = r->decode_wh_per_1000_output_tokens;
    }
    ipw_err e = IPW_OK;
    if (ni == 0 || no == 0) {
        e = ipw_fail(eb, IPW_E_RANGE,
                     "no run of %s measured both prefill and decode energy with token counts; "
                     "nothing calibrated",
                     model);
    } else {
        *out = (struct ipw_lab_benchmark){.c_in = ipw_percentile(in, ni, 50),
                                          .c_out = ipw_percentile(dec, no, 50)};
        if (name && *name)
            snprintf(out->name, sizeof out->name, "%s", name);
        else
            ipw_lab_calibrated_name(model, out->name, sizeof out->name);
        snprintf(out->source, sizeof out->source, "calibration: median of %zu runs", no);
        snprintf(out->description, sizeof out->description,
                 "c_in from prefill energy, c_out from decode energy, measured");
    }
    free(in);
    free(dec);
    return e;
}

json_t *ipw_lab_benchmark_to_json(const struct ipw_lab_benchmark *b)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "name", b->name, "source", b->source,
                     "description", b->description, "c_in_wh_per_1000",
                     ipw_json_real_or_null(b->c_in, isfinite(b->c_in)), "c_out_wh_per_1000",
                     ipw_json_real_or_null(b->c_out, isfinite(b->c_out)), "updated_at",
                     b->updated_unix ? json_integer(b->updated_unix) : json_null(), "builtin",
                     b->builtin);
}

json_t *ipw_lab_estimate_to_json(const struct ipw_lab_benchmark *b, long input_tokens,
                                 long output_tokens, double grid_g_per_kwh)
{
    double wh = ipw_lab_estimate_wh(b, (double)input_tokens, (double)output_tokens);
    return json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:b}", "benchmark", b->name,
                     "input_tokens", (json_int_t)input_tokens, "output_tokens",
                     (json_int_t)output_tokens, "c_in_wh_per_1000", b->c_in,
                     "c_out_wh_per_1000", b->c_out, "wh", wh, "grid_g_per_kwh", grid_g_per_kwh,
                     "carbon_g", ipw_lab_carbon_g(wh, grid_g_per_kwh), "modelled", 1);
}
