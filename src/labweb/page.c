/* GET /: the lab's one page (data/web/lab.html, compiled into the library), with this
 * process's token written into it. The page reads the token from its own markup, which no
 * other origin can read; its Content-Security-Policy lets it talk to this server only. */
#include <stdlib.h>
#include <string.h>

#include "ipw/embedded.h"
#include "labweb/server.h"

#define LW_PAGE "web/lab.html"
#define LW_TOKEN_MARK "__IPW_TOKEN__"

lw_result lw_serve_page(struct lw_req *r)
{
    const struct ipw_embedded_file *f = ipw_embedded_find(LW_PAGE);
    if (!f)
        return lw_reply_error(r->conn, 500, "this build has no lab page (%s missing)", LW_PAGE);
    const char *src = (const char *)f->data;
    const char *mark = strstr(src, LW_TOKEN_MARK);
    if (!mark)
        return lw_reply_error(r->conn, 500, "the lab page has no token placeholder");
    size_t head = (size_t)(mark - src), mlen = strlen(LW_TOKEN_MARK);
    size_t tlen = strlen(r->w->token), len = *f->len - mlen + tlen;
    char *out = malloc(len + 1);
    if (!out)
        return MHD_NO;
    memcpy(out, src, head);
    memcpy(out + head, r->w->token, tlen);
    memcpy(out + head + tlen, mark + mlen, *f->len - head - mlen);
    out[len] = '\0';
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, out, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(out);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
                            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    lw_result res = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return res;
}
