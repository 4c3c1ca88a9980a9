/* Names and lifecycle of a run directory: profile_<hardware>_<model>_<dataset>/, refused when
 * it exists unless the user said --resume or --overwrite (never an interactive prompt). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ipw/profile.h"

/* Non-alphanumerics become '_', runs of them one '_', trimmed: "llama-3.2:1b" -> "llama_3_2_1b". */
void ipw_model_slug(const char *model, char *out, size_t size)
{
    size_t o = 0;
    int pending = 0;
    for (const char *p = model ? model : ""; *p && o + 2 < size; p++) {
        if (isalnum((unsigned char)*p)) {
            if (pending && o)
                out[o++] = '_';
            out[o++] = *p;
            pending = 0;
        } else {
            pending = 1;
        }
    }
    out[o] = '\0';
    if (!o && size > 8)
        snprintf(out, size, "model");
}

void ipw_run_dir_name(const char *hardware_label, const char *model, const char *dataset_id,
                      char *out, size_t size)
{
    char ms[256], ds[128];
    ipw_model_slug(model, ms, sizeof ms);
    ipw_model_slug(dataset_id, ds, sizeof ds);
    snprintf(out, size, "profile_%s_%s_%s", hardware_label, ms, ds);
}
