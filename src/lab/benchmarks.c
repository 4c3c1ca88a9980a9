/* The built-in coefficient tables of `ipw lab estimate` (SPEC §5.3): the Energy Lab's six
 * presets, then one row per model of the external tables shipped in data/lab/benchmark_data
 * (Hugging Face AI Energy Score; Jegham et al. 2025), read once from the compiled-in files. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ipw/embedded.h"
#include "ipw/lab.h"

#define MAX_ROWS 256

static const struct {
    const char *name, *desc;
    double c_in, c_out;
} presets[] = {
    {"nvidia_a100", "NVIDIA A100 40GB, TDP 400 W", 0.2, 0.8},
    {"nvidia_rtx4090", "NVIDIA RTX 4090 24GB, 450 W", 0.3, 1.2},
    {"nvidia_rtx3080", "NVIDIA RTX 3080 10GB, 320 W", 0.4, 1.5},
    {"cpu_baseline", "CPU only (Intel i9 / AMD Ryzen 9)", 2.0, 5.0},
    {"conservative_estimate", "Conservative estimate (the Energy Lab's default)", 0.25, 1.0},
    {"hp_255_g10_measured", "HP 255 G10, Ryzen 7 7730U, 15 W, 60 tok/s (measured)", 0.01,
     0.0311},
};

static struct ipw_lab_benchmark g_rows[MAX_ROWS];
static size_t g_n;
static ipw_errbuf g_err;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void add(const char *name, const char *source, const char *desc, double c_in, double c_out)
{
    if (g_n == MAX_ROWS) {
        ipw_fail(&g_err, IPW_E_INTERNAL, "more than %d built-in benchmarks", MAX_ROWS);
        return;
    }
    struct ipw_lab_benchmark *b = &g_rows[g_n++];
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    snprintf(b->source, sizeof b->source, "%s", source);
    snprintf(b->description, sizeof b->description, "%s", desc);
    b->c_in = c_in;
    b->c_out = c_out;
    b->builtin = true;
}

/* An external table: each model's coefficients from the named keys. Hugging Face gives Wh per
 * 1000 input e-tokens only (its queries' whole energy over their input tokens), so c_out is 0.
 * Jegham et al. give Wh for one prompt of 1000 input + 1000 output tokens; the original stored
 * that number as both coefficients, which doubles it for that very prompt: half goes to each,
 * so the formula gives back the table's figure. */
static void load_table(const char *path, const char *source, bool split_half)
{
    const struct ipw_embedded_file *f = ipw_embedded_find(path);
    json_error_t je;
    json_t *j = f ? json_loadb((const char *)f->data, *f->len, 0, &je) : NULL;
    json_t *models = json_object_get(j, "models");
    if (!json_is_array(models)) {
        ipw_fail(&g_err, IPW_E_INTERNAL, "the built-in table %s is missing or malformed", path);
        json_decref(j);
        return;
    }
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "model_id"));
        json_t *in = json_object_get(m, "wh_per_1000_input_etokens");
        if (!id || !json_is_number(in))
            continue;
        double v = json_number_value(in);
        char desc[160];
        snprintf(desc, sizeof desc, "%s", split_half ? "1k in + 1k out per prompt, halved"
                                                     : "H100 80GB, per 1000 input e-tokens");
        add(id, source, desc, split_half ? v / 2 : v, split_half ? v / 2 : 0);
    }
    json_decref(j);
}

static void load(void)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        add(presets[i].name, "preset", presets[i].desc, presets[i].c_in, presets[i].c_out);
    load_table("lab/benchmark_data/hugging_face.json", "Hugging Face AI Energy Score", false);
    load_table("lab/benchmark_data/jegham_et_al.json", "Jegham et al. 2025", true);
}

ipw_err ipw_lab_builtin_benchmarks(const struct ipw_lab_benchmark **out, size_t *n,
                                   ipw_errbuf *eb)
{
    pthread_once(&g_once, load);
    *out = g_rows;
    *n = g_n;
    if (g_err.code != IPW_OK)
        return ipw_fail(eb, g_err.code, "%s", g_err.msg);
    return IPW_OK;
}

void ipw_lab_calibrated_name(const char *model, char *out, size_t size)
{
    snprintf(out, size, "rapl_calibrated_%s", model);
    for (char *p = out; *p; p++)
        if (*p == ':' || *p == ' ')
            *p = '_';
}
