/* libcurl driver for the inference clients. One easy handle per call (so concurrent queries
 * share nothing), driven through a private multi handle so that the idle timeout is checked
 * on our own clock, to the millisecond, with no signals (CURLOPT_NOSIGNAL). */
#include "http_stream.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/clock.h"
#include "ipw/version.h"

#if LIBCURL_VERSION_NUM < 0x075000
#error "libcurl 7.80 or newer is needed (CURLOPT_PREREQFUNCTION times the request start)"
#endif

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

static void curl_init_once(void) { g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

struct call_state {
    const struct ipw_http_call *c;
    struct ipw_http_reply *r;
    CURL *h;
    struct ipw_linesplit ls;
    bool status_known;
    bool streaming; /* a 2xx reply handed to on_line */
    int64_t last_activity_ns;
    curl_off_t last_ul;
    ipw_err cb_err; /* why a callback stopped the transfer */
    ipw_errbuf cb_eb;
};

void ipw_http_display_url(const char *url, char *out, size_t size)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    size_t hostlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hostlen);
    if (!at) {
        snprintf(out, size, "%s", url);
        return;
    }
    snprintf(out, size, "%.*s***@%s", (int)(host - url), url, at + 1);
}

static ipw_err keep_body(struct call_state *st, const char *p, size_t n, size_t max)
{
    struct ipw_buf *b = &st->r->body;
    if (b->max == 0)
        ipw_buf_init(b, max); /* the status, and with it the limit, is known from the first piece */
    if (n > b->max - b->len) {
        st->r->body_truncated = true;
        n = b->max - b->len;
    }
    return ipw_buf_add(b, p, n);
}

static void learn_status(struct call_state *st)
{
    if (st->status_known)
        return;
    st->status_known = true;
    curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &st->r->status);
    char *ct = NULL;
    if (curl_easy_getinfo(st->h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        ipw_stream_clean(st->r->content_type, sizeof st->r->content_type, ct, strlen(ct));
    st->streaming = st->c->on_line && st->r->status >= 200 && st->r->status < 300;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct call_state *st = ud;
    size_t n = size * nmemb;
    st->last_activity_ns = ipw_mono_ns();
    st->r->bytes += n;
    st->r->reads++;
    learn_status(st);
    if (st->streaming) {
        ipw_err e = ipw_linesplit_feed(&st->ls, p, n, st->c->on_line, st->c->ud, &st->cb_eb);
        if (e != IPW_OK) {
            st->cb_err = e;
            return 0; /* stops the transfer with CURLE_WRITE_ERROR */
        }
        return n;
    }
    bool is_error = st->r->status < 200 || st->r->status >= 300;
    size_t max = is_error || st->c->max_body == 0 ? IPW_HTTP_MAX_ERROR_BODY : st->c->max_body;
    if (keep_body(st, p, n, max) != IPW_OK) {
        st->cb_err = ipw_fail(&st->cb_eb, IPW_E_NOMEM, "out of memory keeping a %zu-byte reply",
                              st->r->body.len + n);
        return 0;
    }
    if (st->r->body_truncated) {
        if (!is_error) {
            st->cb_err = ipw_fail(&st->cb_eb, IPW_E_RANGE,
                                  "the reply is larger than the %zu-byte limit for it", max);
            return 0;
        }
        /* enough of an error body to explain it; reading the rest is pointless */
        st->cb_err = IPW_OK;
        return 0;
    }
    return n;
}

static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    struct call_state *st = ud;
    int64_t now = ipw_mono_ns();
    st->r->sent = true;
    st->last_activity_ns = now;
    if (st->c->on_sent)
        st->c->on_sent(st->c->ud, now);
    return CURL_PREREQFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct call_state *st = ud;
    if (ulnow != st->last_ul) { /* a large request body still going out is not idleness */
        st->last_ul = ulnow;
        st->last_activity_ns = ipw_mono_ns();
    }
    return 0;
}

static ipw_err setup(struct call_state *st, struct curl_slist **hdrs, char *errbuf,
                     ipw_errbuf *eb)
{
    const struct ipw_http_call *c = st->c;
    CURL *h = st->h;
    char line[4096];
    *hdrs = NULL;
    if (c->accept) {
        snprintf(line, sizeof line, "Accept: %s", c->accept);
        *hdrs = curl_slist_append(*hdrs, line);
    }
    if (c->body)
        *hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip for larger prompts */
    *hdrs = curl_slist_append(*hdrs, "Expect:");
    if (c->bearer && *c->bearer) {
        if (strlen(c->bearer) > sizeof line - 32 || strpbrk(c->bearer, "\r\n"))
            return ipw_fail(eb, IPW_E_INVALID,
                            "the API key is not usable in an HTTP header (too long or has a line "
                            "break): check OPENAI_API_KEY / IPW_API_KEY");
        snprintf(line, sizeof line, "Authorization: Bearer %s", c->bearer);
        *hdrs = curl_slist_append(*hdrs, line);
        explicit_bzero(line, sizeof line);
    }
    if (!*hdrs)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory building HTTP headers");
    long connect_ms = (long)(c->connect_timeout_ns / IPW_NS_PER_MS);
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms > 0 ? connect_ms : 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ipw/" IPW_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, st);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, st);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (c->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    return IPW_OK;
}

static ipw_err explain(CURLcode rc, struct call_state *st, const char *errbuf, const char *url,
                       ipw_errbuf *eb)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const struct ipw_http_call *c = st->c;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        if (!st->r->sent)
            return ipw_fail(eb, IPW_E_TIMEOUT,
                            "connecting to %s timed out after %.1f s: check that the server is "
                            "running and reachable, or raise connect_timeout",
                            url, (double)c->connect_timeout_ns / 1e9);
        return ipw_fail(eb, IPW_E_TIMEOUT, "request to %s timed out (%s)", url, why);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return ipw_fail(eb, IPW_E_IO, "cannot connect to %s (%s)", url, why);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP2:
        if (st->r->sent)
            return ipw_fail(eb, IPW_E_LOST,
                            "the connection to %s closed before the response was complete (%s)",
                            url, why);
        return ipw_fail(eb, IPW_E_IO, "request to %s failed: %s", url, why);
    case CURLE_SEND_ERROR:
        return ipw_fail(eb, IPW_E_IO, "cannot send the request to %s: %s", url, why);
    default:
        return ipw_fail(eb, IPW_E_IO, "request to %s failed: %s", url, why);
    }
}

ipw_err ipw_http_call(const struct ipw_http_call *c, struct ipw_http_reply *r, ipw_errbuf *eb)
{
    memset(r, 0, sizeof *r);
    char url[1200];
    ipw_http_display_url(c->url, url, sizeof url);
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return ipw_fail(eb, IPW_E_INTERNAL, "cannot initialise libcurl: %s",
                        curl_easy_strerror(g_curl_init_rc));

    struct call_state st = {.c = c, .r = r, .cb_err = IPW_OK};
    ipw_errbuf_clear(&st.cb_eb);
    ipw_linesplit_init(&st.ls, c->max_line);
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    CURLM *m = curl_multi_init();
    st.h = curl_easy_init();
    ipw_err e = IPW_OK;
    if (!m || !st.h) {
        e = ipw_fail(eb, IPW_E_NOMEM, "cannot create a libcurl handle for %s", url);
        goto out;
    }
    e = setup(&st, &hdrs, errbuf, eb);
    if (e != IPW_OK)
        goto out;
    curl_multi_add_handle(m, st.h);

    const int64_t idle = c->idle_timeout_ns > 0 ? c->idle_timeout_ns : 300 * IPW_NS_PER_SEC;
    bool idle_out = false;
    int running = 1;
    for (;;) {
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            e = ipw_fail(eb, IPW_E_IO, "libcurl failed driving the request to %s: %s", url,
                         curl_multi_strerror(mc));
            break;
        }
        if (!running)
            break;
        int wait_ms = 1000;
        if (r->sent) {
            int64_t left = st.last_activity_ns + idle - ipw_mono_ns();
            if (left <= 0) {
                idle_out = true;
                break;
            }
            if (left / IPW_NS_PER_MS + 1 < wait_ms)
                wait_ms = (int)(left / IPW_NS_PER_MS) + 1;
        }
        mc = curl_multi_poll(m, NULL, 0, wait_ms, NULL);
        if (mc != CURLM_OK) {
            e = ipw_fail(eb, IPW_E_IO, "libcurl failed waiting on %s: %s", url,
                         curl_multi_strerror(mc));
            break;
        }
    }
    if (e == IPW_OK && idle_out) {
        e = ipw_fail(eb, IPW_E_TIMEOUT,
                     "no data from %s for %.1f s (idle timeout): the server stalled; raise "
                     "idle_timeout if it is just slow",
                     url, (double)idle / 1e9);
    } else if (e == IPW_OK) {
        CURLcode rc = CURLE_OK;
        int left;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE)
                rc = msg->data.result;
        if (!st.status_known && rc == CURLE_OK)
            learn_status(&st);
        if (rc == CURLE_WRITE_ERROR && st.cb_err == IPW_OK && r->body_truncated) {
            rc = CURLE_OK; /* we stopped reading an over-long error body on purpose */
        } else if (rc == CURLE_WRITE_ERROR && st.cb_err != IPW_OK) {
            e = st.cb_err;
            if (eb) {
                eb->code = e;
                memcpy(eb->msg, st.cb_eb.msg, sizeof eb->msg);
            }
            goto out;
        }
        if (rc != CURLE_OK) {
            e = explain(rc, &st, errbuf, url, eb);
        } else if (st.streaming) {
            e = ipw_linesplit_finish(&st.ls, c->on_line, c->ud, eb);
        }
    }
out:
    if (st.h) {
        if (m)
            curl_multi_remove_handle(m, st.h);
        curl_easy_cleanup(st.h);
    }
    if (m)
        curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    ipw_linesplit_free(&st.ls);
    return e;
}

void ipw_http_reply_free(struct ipw_http_reply *r)
{
    ipw_buf_free(&r->body);
}
