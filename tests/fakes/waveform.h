/* A piecewise-constant power waveform and its exact integral. The fake GPU libraries report
 * power and energy from it, and the tests compute the truth from the same code and config. */
#ifndef IPW_FAKE_WAVEFORM_H
#define IPW_FAKE_WAVEFORM_H

#include <stddef.h>

#define WAVE_MAX_SEGMENTS 32

struct wave {
    unsigned n;
    double watts[WAVE_MAX_SEGMENTS];
    double start_s[WAVE_MAX_SEGMENTS];   /* segment k covers [start_s[k], start_s[k+1]) */
    double joules_at[WAVE_MAX_SEGMENTS]; /* energy from 0 to start_s[k] */
};

/* "100:1,300:2" = 100 W for 1 s, then 300 W for 2 s; the last level holds for ever after.
 * "250" = 250 W throughout. Returns 0, or -1 with a message in err. */
int wave_parse(const char *text, struct wave *w, char *err, size_t errsize);

/* Power in W at t seconds after the epoch; before the epoch, the first level. */
double wave_power(const struct wave *w, double t);
/* Energy in J from the epoch to t (negative for t < 0, continuing the first level). */
double wave_energy(const struct wave *w, double t);
/* Mean power over [t - window, t], as an averaging power sensor reports it. */
double wave_avg_power(const struct wave *w, double t, double window);

#endif
