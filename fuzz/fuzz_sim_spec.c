/* Fuzz target for the sim backend's parsers: hardware and model spec JSON (with all their
 * validation), the prompt-token estimator and the served-model-name matcher, on arbitrary
 * bytes. The first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/perfmodel.h"
#include "ipw/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    switch (data[0] % 4) {
    case 0: {
        struct ipw_hw_spec hw;
        ipw_errbuf eb = {0};
        if (ipw_hw_spec_parse(text, size - 1, "fuzz", &hw, &eb) == IPW_OK) {
            /* a spec that parses must give finite, positive model figures */
            struct ipw_model_spec m;
            struct ipw_perf pm;
            if (ipw_model_spec_load("llama-3.2-1b", &m, NULL) == IPW_OK &&
                ipw_perf_init(&pm, &hw, &m, NULL, NULL) == IPW_OK) {
                struct ipw_perf_request rq;
                ipw_perf_request(&pm, 100, 3, &rq);
                if (!(rq.total_s > 0) || !(rq.prefill_j >= 0))
                    abort();
            }
        }
        break;
    }
    case 1: {
        struct ipw_model_spec m;
        struct ipw_hw_spec hw;
        struct ipw_perf pm;
        if (ipw_model_spec_parse(text, size - 1, "fuzz", &m, NULL) == IPW_OK &&
            ipw_hw_spec_load("H100", &hw, NULL) == IPW_OK &&
            ipw_perf_init(&pm, &hw, &m, NULL, NULL) == IPW_OK) {
            struct ipw_perf_step st;
            ipw_perf_decode_step(&pm, 10, &st);
            if (!(st.time_s > 0))
                abort();
        }
        break;
    }
    case 2:
        if (ipw_sim_estimate_tokens(text) < 0)
            abort();
        break;
    default: {
        struct ipw_model_spec m;
        (void)ipw_model_spec_match(text, &m);
        break;
    }
    }
    free(text);
    return 0;
}
