/* Piecewise-constant power and its exact integral (see waveform.h). */
#include "waveform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wave_parse(const char *text, struct wave *w, char *err, size_t errsize)
{
    memset(w, 0, sizeof *w);
    const char *p = text;
    double t = 0, e = 0;
    while (*p) {
        char *end;
        double watts = strtod(p, &end);
        double dur = 1e300;
        if (end == p || watts < 0) {
            snprintf(err, errsize, "bad power level at '%s' in waveform '%s'", p, text);
            return -1;
        }
        p = end;
        if (*p == ':') {
            dur = strtod(p + 1, &end);
            if (end == p + 1 || dur <= 0) {
                snprintf(err, errsize, "bad duration at '%s' in waveform '%s'", p, text);
                return -1;
            }
            p = end;
        }
        if (w->n == WAVE_MAX_SEGMENTS) {
            snprintf(err, errsize, "waveform '%s' has more than %d segments", text,
                     WAVE_MAX_SEGMENTS);
            return -1;
        }
        w->watts[w->n] = watts;
        w->start_s[w->n] = t;
        w->joules_at[w->n] = e;
        w->n++;
        e += watts * dur;
        t += dur;
        if (*p == ',')
            p++;
        else if (*p) {
            snprintf(err, errsize, "unexpected '%c' in waveform '%s'", *p, text);
            return -1;
        }
    }
    if (w->n == 0) {
        snprintf(err, errsize, "empty waveform");
        return -1;
    }
    return 0;
}

static unsigned segment(const struct wave *w, double t)
{
    unsigned k = 0;
    while (k + 1 < w->n && t >= w->start_s[k + 1])
        k++;
    return k;
}

double wave_power(const struct wave *w, double t)
{
    return t < 0 ? w->watts[0] : w->watts[segment(w, t)];
}

double wave_energy(const struct wave *w, double t)
{
    if (t < 0)
        return w->watts[0] * t;
    unsigned k = segment(w, t);
    return w->joules_at[k] + w->watts[k] * (t - w->start_s[k]);
}

double wave_avg_power(const struct wave *w, double t, double window)
{
    return (wave_energy(w, t) - wave_energy(w, t - window)) / window;
}
