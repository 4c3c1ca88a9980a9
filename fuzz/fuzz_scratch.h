/* A scratch directory for the fuzz targets whose parser reads files by path (records,
 * servesim_inputs, servesim_tables). It is made once per process, on tmpfs (/dev/shm) when the
 * machine has one, so that writing each input costs no disk: on ext4 a file created and
 * removed per input (and the fsync the records repair does) cost more than the parse. The
 * parsers still open, read and (records) repair a real file, exactly as before. */
#ifndef IPW_FUZZ_SCRATCH_H
#define IPW_FUZZ_SCRATCH_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_scratch_root[64];

static int fuzz_scratch_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fuzz_scratch_cleanup(void)
{
    nftw(fuzz_scratch_root, fuzz_scratch_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directory (no trailing slash), or NULL when none could be made. */
static const char *fuzz_scratch_dir(void)
{
    if (fuzz_scratch_root[0])
        return fuzz_scratch_root;
    const char *bases[] = {"/dev/shm", "/tmp"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        snprintf(fuzz_scratch_root, sizeof fuzz_scratch_root, "%s/ipw-fuzz-XXXXXX", bases[i]);
        if (access(bases[i], W_OK) == 0 && mkdtemp(fuzz_scratch_root)) {
            atexit(fuzz_scratch_cleanup);
            return fuzz_scratch_root;
        }
    }
    fuzz_scratch_root[0] = '\0';
    return NULL;
}

#endif
