/* Names of run directories: profile_<hardware>_<model>_<dataset>/ (SPEC §3.4), or the user's
 * --run-name. Names must differ whenever the runs do: a jsonl dataset adds its file's stem, and a
 * model name with non-ASCII characters (or too long for one path component) adds a hash of the
 * whole name, so two such models never share a directory. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ipw/profile.h"

/* Longest slug kept before the hash: with the hardware label and dataset the name stays well
 * under NAME_MAX (255). */
#define SLUG_KEEP 64

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

/* FNV-1a: a stable, dependency-free 32-bit digest of a name. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slug, cut to SLUG_KEEP, plus "_h<hash>" when the slug alone would lose part of the name:
 * non-ASCII letters ("模型-7b" and "模型-8b" would both be "7b"/"8b" or "model") or a cut. */
static void unique_slug(const char *name, char *out, size_t size)
{
    char full[512];
    ipw_model_slug(name, full, sizeof full);
    bool lossy = strlen(full) > SLUG_KEEP;
    for (const char *p = name ? name : ""; *p && !lossy; p++)
        lossy = (unsigned char)*p >= 0x80;
    if (!lossy) {
        snprintf(out, size, "%s", full);
        return;
    }
    snprintf(out, size, "%.*s_h%08x", SLUG_KEEP, full, (unsigned)fnv1a(name ? name : ""));
}

/* "data/My Prompts.v2.jsonl" -> "My_Prompts_v2" */
static void file_stem(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char stem[256];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    unique_slug(stem, out, size);
}

void ipw_run_dir_name(const char *hardware_label, const char *model, const char *dataset_id,
                      const char *dataset_path, char *out, size_t size)
{
    char ms[128], ds[128];
    unique_slug(model, ms, sizeof ms);
    ipw_model_slug(dataset_id, ds, sizeof ds);
    if (dataset_path && *dataset_path && dataset_id && strcmp(dataset_id, "jsonl") == 0) {
        /* two jsonl files are two datasets: their runs need two directories */
        char stem[128];
        file_stem(dataset_path, stem, sizeof stem);
        size_t n = strlen(ds);
        snprintf(ds + n, sizeof ds - n, "_%s", stem);
    }
    snprintf(out, size, "profile_%s_%s_%s", hardware_label, ms, ds);
}

ipw_err ipw_run_name_check(const char *name, ipw_errbuf *eb)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "--run-name '%.80s' is not a directory name: give 1 to 200 characters "
                        "without '/'",
                        name);
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7F)
            return ipw_fail(eb, IPW_E_INVALID,
                            "--run-name '%.80s' contains a control character", name);
    return IPW_OK;
}
