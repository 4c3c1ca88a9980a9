/* The web layer's engine backed by the lab itself (ipw/lab.h): jobs run through
 * ipw_lab_engine_batch, everything shown is read from and written to the lab's SQLite store, so
 * `ipw lab history` sees the page's runs and the page sees the command line's. */
#ifndef IPW_LABWEB_LAB_H
#define IPW_LABWEB_LAB_H

#include "ipw/err.h"
#include "ipw/labweb.h"

extern const struct ipw_labweb_engine ipw_labweb_engine_lab;

struct ipw_labweb_lab_config {
    const char *db_path;   /* NULL: the lab's default store */
    const char *collector; /* default for jobs that name none; NULL: auto */
    const char *server_pid;/* "auto" (default), "none" or a pid, for E_llm */
    const char *const *monitors; /* remote energy monitors, HOST:PORT */
    size_t n_monitors;
    int64_t baseline_ns;   /* idle baseline before each run; 0: the lab's default */
};

struct ipw_labweb_lab;

/* Opens the store (errors name the file and the fix). The result is the engine's ud. */
ipw_err ipw_labweb_lab_open(const struct ipw_labweb_lab_config *cfg, struct ipw_labweb_lab **out,
                            ipw_errbuf *eb);
void ipw_labweb_lab_close(struct ipw_labweb_lab *l);

#endif
