/* Fuzz target for what `ipw simulate --data-dir DIR` reads besides the cluster config and the
 * trace: the model config (configs/model/<name>.json), the architecture
 * (profiler/models/<type>.yaml), a profile bundle's meta.yaml and its tables (dense,
 * per-sequence and attention CSV). The first byte picks the file the rest of the input
 * becomes; the other files of a shipped bundle (data/sim, RTX4090 / Llama-3.1-8B) stand
 * beside it, linked. Any input loads or is refused with a message; nothing crashes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_scratch.h"
#include "sim/ss.h"

#define MODEL "meta-llama/Llama-3.1-8B"
#define BUNDLE "profiler/perf/RTX4090/" MODEL "/bf16"

/* the files an input can stand for, relative to the data dir */
static const char *const files[] = {
    "configs/model/" MODEL ".json", "profiler/models/llama.yaml", BUNDLE "/meta.yaml",
    BUNDLE "/tp1/dense.csv",        BUNDLE "/tp1/per_sequence.csv", BUNDLE "/tp1/attention.csv",
};
#define NFILES (sizeof files / sizeof files[0])

static char root[64];

static int mkdirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return 0;
}

/* A data dir (the scratch directory, tmpfs: fuzz_scratch.h) whose every file links to the
 * shipped one. */
static int setup(void)
{
    const char *dir = fuzz_scratch_dir();
    if (!dir)
        return -1;
    snprintf(root, sizeof root, "%s", dir);
    for (size_t i = 0; i < NFILES; i++) {
        char dst[512], src[512];
        snprintf(dst, sizeof dst, "%s/%s", root, files[i]);
        snprintf(src, sizeof src, "%s/data/sim/%s", IPW_SOURCE_DIR, files[i]);
        if (mkdirs(dst) != 0 || symlink(src, dst) != 0)
            return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        ready = setup() == 0 ? 1 : -1;
    if (ready < 0 || size < 1)
        return 0;
    size_t which = data[0] % NFILES;
    char path[512], src[512];
    snprintf(path, sizeof path, "%s/%s", root, files[which]);
    snprintf(src, sizeof src, "%s/data/sim/%s", IPW_SOURCE_DIR, files[which]);
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);

    ipw_errbuf eb = {0};
    struct ss_model m;
    if (ss_model_load(root, MODEL, &m, &eb) == IPW_OK) {
        struct ss_bundle b;
        if (ss_bundle_open(root, "RTX4090", &m, "bf16", &b, &eb) == IPW_OK)
            (void)ss_bundle_need_tp(&b, 1, "fuzz", "tp", &eb);
        ss_bundle_free(&b);
    }
    if (eb.code != IPW_OK && (!eb.msg[0] || strchr(eb.msg, '\n')))
        abort(); /* a refusal is one line that says something */
    /* the shipped file back, for the next input */
    unlink(path);
    if (symlink(src, path) != 0)
        abort();
    return 0;
}
