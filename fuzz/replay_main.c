/* Runs a fuzz target without libFuzzer: every file of the corpus directories given, then
 * deterministic mutations of them (bit flips, truncations, splices, random bytes). It is how CI
 * keeps every parser fuzzed on each run; crashes surface under the ASan build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    uint8_t *data;
    size_t size;
};

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int load_dir(const char *dir, struct input **v, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (len < 0 || len > (1 << 22)) {
            fclose(f);
            continue;
        }
        uint8_t *buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
            *v = realloc(*v, (*n + 1) * sizeof **v);
            (*v)[(*n)++] = (struct input){buf, (size_t)len};
        } else {
            free(buf);
        }
        fclose(f);
    }
    closedir(d);
    return 1;
}

int main(int argc, char **argv)
{
    struct input *in = NULL;
    size_t n = 0;
    for (int i = 1; i < argc; i++)
        load_dir(argv[i], &in, &n);
    const char *iters_env = getenv("IPW_FUZZ_REPLAY_ITERATIONS");
    long iters = iters_env ? atol(iters_env) : 3000;
    for (size_t i = 0; i < n; i++)
        LLVMFuzzerTestOneInput(in[i].data, in[i].size);
    uint8_t *buf = malloc(1 << 16);
    for (long it = 0; it < iters; it++) {
        size_t len;
        if (n == 0 || next_rand() % 8 == 0) {
            len = next_rand() % 512;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)next_rand();
        } else {
            const struct input *src = &in[next_rand() % n];
            len = src->size > (1 << 16) ? (1 << 16) : src->size;
            memcpy(buf, src->data, len);
            int muts = 1 + (int)(next_rand() % 4);
            for (int m = 0; m < muts && len; m++) {
                switch (next_rand() % 5) {
                case 0: buf[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8)); break;
                case 1: buf[next_rand() % len] = (uint8_t)next_rand(); break;
                case 2: len = next_rand() % (len + 1); break;
                case 3: { /* splice a piece of another input in */
                    const struct input *o = &in[next_rand() % n];
                    if (o->size) {
                        size_t at = next_rand() % (len + 1), from = next_rand() % o->size;
                        size_t cnt = next_rand() % (o->size - from + 1);
                        if (at + cnt > (1 << 16))
                            cnt = (1 << 16) - at;
                        memcpy(buf + at, o->data + from, cnt);
                        if (at + cnt > len)
                            len = at + cnt;
                    }
                    break;
                }
                default: { /* duplicate a slice */
                    size_t at = next_rand() % len, cnt = next_rand() % (len - at + 1);
                    if (len + cnt <= (1 << 16)) {
                        memmove(buf + at + cnt, buf + at, len - at);
                        len += cnt;
                    }
                }
                }
            }
        }
        uint8_t *exact = malloc(len ? len : 1); /* exact-size copy so ASan sees overreads */
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    free(buf);
    for (size_t i = 0; i < n; i++)
        free(in[i].data);
    free(in);
    printf("replayed %zu corpus inputs and %ld mutations\n", n, iters);
    return 0;
}
