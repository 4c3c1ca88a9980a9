/* Scaphandre as an E_llm source (SPEC §5.2 step 6): its Prometheus text parsed for the
 * per-process power lines that match the server, and the polled values integrated with the
 * right rectangle. The poller itself (curl, at most every 2 s) lives in the engine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/chatstream.h"
#include "ipw/lab.h"

#define METRIC "scaph_process_power_consumption_microwatts"

ipw_err ipw_lab_scaph_parse(const char *text, size_t len, const char *match, double *watts,
                            int *matched, ipw_errbuf *eb)
{
    *watts = 0;
    *matched = 0;
    size_t mlen = strlen(METRIC), match_len = match ? strlen(match) : 0;
    double sum_uw = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + 1;
        if (ll < mlen || memcmp(line, METRIC, mlen) != 0)
            continue;
        /* the metric name must end here: a label set or a space follows */
        if (ll > mlen && line[mlen] != '{' && line[mlen] != ' ')
            continue;
        if (match_len && !memmem(line, ll, match, match_len))
            continue;
        /* the value is the last whitespace-separated field, or the one before a timestamp:
         * after the closing brace of the labels */
        const char *rb = NULL;
        for (size_t i = ll; i-- > mlen;)
            if (line[i] == '}') {
                rb = line + i + 1;
                break;
            }
        const char *v = rb ? rb : line + mlen;
        char num[64];
        size_t vl = (size_t)(line + ll - v);
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        size_t tok = 0; /* the text is not NUL-terminated: scan within the line only */
        while (tok < vl && v[tok] != ' ' && v[tok] != '\t' && v[tok] != '\r')
            tok++;
        if (tok == 0 || tok >= sizeof num)
            continue;
        memcpy(num, v, tok);
        num[tok] = '\0';
        char *end;
        double uw = strtod(num, &end);
        if (*end || !isfinite(uw) || uw < 0)
            continue;
        sum_uw += uw;
        (*matched)++;
    }
    if (*matched == 0) {
        char shown[64]; /* the match comes from the environment: one clean line */
        ipw_stream_clean(shown, sizeof shown, match ? match : "", match_len);
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "Scaphandre reports no %s line matching '%s'; set SCAPHANDRE_OLLAMA_MATCH "
                        "to a word of the server's command line",
                        METRIC, shown);
    }
    *watts = sum_uw / 1e6;
    return IPW_OK;
}

void ipw_lab_scaph_add(struct ipw_lab_scaph_integral *it, int64_t t_ns, double watts)
{
    if (!it->primed) {
        it->primed = true;
        it->last_ns = t_ns;
        return;
    }
    if (t_ns > it->last_ns && isfinite(watts))
        it->joules += watts * (double)(t_ns - it->last_ns) / 1e9;
    it->last_ns = t_ns;
    it->polls++;
}
