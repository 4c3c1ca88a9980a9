/* See plot_file.h. */
#include "plot_file.h"

#include <cairo-svg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

static cairo_status_t to_file(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS
                                                : CAIRO_STATUS_WRITE_ERROR;
}

static ipw_err write_one(const char *path, bool svg, double w, double h, ipw_plot_draw_fn draw,
                         const void *ud, ipw_errbuf *eb)
{
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return ipw_fail(eb, IPW_E_IO, "cannot write %s", tmp);
    cairo_surface_t *s = svg ? cairo_svg_surface_create_for_stream(to_file, f, w, h)
                             : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)w, (int)h);
    cairo_t *cr = cairo_create(s);
    draw(cr, ud);
    cairo_destroy(cr);
    cairo_status_t st =
        svg ? CAIRO_STATUS_SUCCESS : cairo_surface_write_to_png_stream(s, to_file, f);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    bool ok = st == CAIRO_STATUS_SUCCESS && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return ipw_fail(eb, IPW_E_IO, "cannot write %s", path);
    }
    return IPW_OK;
}

ipw_err ipw_plot_write_pair(const char *dir, const char *stem, double w, double h,
                            ipw_plot_draw_fn draw, const void *ud, ipw_errbuf *eb)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    ipw_err e = write_one(path, false, w, h, draw, ud, eb);
    if (e)
        return e;
    snprintf(path, sizeof path, "%s/%s.svg", dir, stem);
    return write_one(path, true, w, h, draw, ud, eb);
}
