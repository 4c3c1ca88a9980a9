/* Grid carbon intensity per country (SPEC §5.2 step 7): the Energy Lab's table, shipped as
 * data/lab/emissions.json and compiled in, parsed once. One default everywhere: 445 g/kWh. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ipw/embedded.h"
#include "ipw/lab.h"

#define TABLE "lab/emissions.json"
#define MAX_COUNTRIES 512

static struct ipw_lab_country g_rows[MAX_COUNTRIES];
static size_t g_n;
static json_t *g_json; /* keeps the strings g_rows point into; lives for the process */
static ipw_errbuf g_err;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void load(void)
{
    const struct ipw_embedded_file *f = ipw_embedded_find(TABLE);
    json_error_t je;
    g_json = f ? json_loadb((const char *)f->data, *f->len, 0, &je) : NULL;
    if (!json_is_array(g_json)) {
        ipw_fail(&g_err, IPW_E_INTERNAL, "the built-in table %s is missing or not a JSON array",
                 TABLE);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(g_json, i, row)
    {
        const char *code = json_string_value(json_object_get(row, "country_code"));
        const char *name = json_string_value(json_object_get(row, "country_name"));
        json_t *ef = json_object_get(row, "emission_factor");
        if (!code || !name || !json_is_number(ef) || g_n == MAX_COUNTRIES) {
            ipw_fail(&g_err, IPW_E_INTERNAL, "the built-in table %s: row %zu is malformed", TABLE,
                     i);
            g_n = 0;
            return;
        }
        /* kg CO2e per kWh in the file; g per kWh here */
        g_rows[g_n++] = (struct ipw_lab_country){
            code, name, json_number_value(ef) * 1000.0,
            (int)json_integer_value(json_object_get(row, "year"))};
    }
}

ipw_err ipw_lab_countries(const struct ipw_lab_country **out, size_t *n, ipw_errbuf *eb)
{
    pthread_once(&g_once, load);
    *out = g_rows;
    *n = g_n;
    if (g_n == 0)
        return ipw_fail(eb, g_err.code ? g_err.code : IPW_E_INTERNAL, "%s", g_err.msg);
    return IPW_OK;
}

/* Edit distance of two short strings, case-insensitive (for suggestions). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m)
                m = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + c < m)
                m = d[i - 1][j - 1] + c;
            d[i][j] = m;
        }
    return d[la][lb];
}

ipw_err ipw_lab_country_intensity(const char *code, double *g_per_kwh, ipw_errbuf *eb)
{
    const struct ipw_lab_country *rows;
    size_t n;
    ipw_err rc = ipw_lab_countries(&rows, &n, eb);
    if (rc != IPW_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(rows[i].code, code) == 0) {
            *g_per_kwh = rows[i].g_per_kwh;
            return IPW_OK;
        }
    /* suggestions: a country whose name starts with what was typed, else the codes one edit
     * away */
    char sugg[256] = "";
    size_t len = 0, shown = 0;
    for (int pass = 0; pass < 2 && shown == 0; pass++)
        for (size_t i = 0; i < n && shown < 5; i++) {
            bool hit = pass == 0 ? strncasecmp(rows[i].name, code, strlen(code)) == 0 &&
                                       strlen(code) >= 2
                                 : distance(rows[i].code, code) <= 1;
            if (!hit)
                continue;
            len += (size_t)snprintf(sugg + len, sizeof sugg - len, "%s%s (%s)", shown ? ", " : "",
                                    rows[i].code, rows[i].name);
            if (len >= sizeof sugg)
                break;
            shown++;
        }
    return ipw_fail(eb, IPW_E_NOTFOUND,
                    "unknown country code '%s'%s%s; give an ISO 3166 alpha-2 code (GLOBAL for the "
                    "world average) or --grid-intensity G_PER_KWH",
                    code, shown ? ": did you mean " : "", sugg);
}
