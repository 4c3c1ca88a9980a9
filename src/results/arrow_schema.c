/* Arrow schemas as trees of fields, shared by the IPC writer and reader, and the two standard
 * output sinks (memory, stdio). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "results/arrow.h"
#include "ipw/buf.h"

struct ipw_arrow_field *ipw_arrow_field_new(const char *name, enum ipw_arrow_type type)
{
    struct ipw_arrow_field *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = strdup(name ? name : "");
    if (!f->name) {
        free(f);
        return NULL;
    }
    f->type = type;
    f->nullable = true;
    if (type == IPW_ARROW_INT) {
        f->bit_width = 64;
        f->is_signed = true;
    } else if (type == IPW_ARROW_FLOAT) {
        f->bit_width = 64;
    }
    return f;
}

void ipw_arrow_field_free(struct ipw_arrow_field *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_children; i++)
        ipw_arrow_field_free(f->children[i]);
    free(f->children);
    free(f->name);
    free(f);
}

ipw_err ipw_arrow_field_adopt(struct ipw_arrow_field *parent, struct ipw_arrow_field *child,
                              ipw_errbuf *eb)
{
    if (!parent || !child) {
        ipw_arrow_field_free(child);
        return ipw_fail(eb, IPW_E_INVALID, "cannot add a field: no parent or child given");
    }
    if (ipw_grow(&parent->children, &parent->cap_children, parent->n_children + 1,
                 sizeof *parent->children, SIZE_MAX) != IPW_OK) {
        ipw_arrow_field_free(child);
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory adding field to %s", parent->name);
    }
    parent->children[parent->n_children++] = child;
    return IPW_OK;
}

struct ipw_arrow_field *ipw_arrow_field_add(struct ipw_arrow_field *parent, const char *name,
                                            enum ipw_arrow_type type)
{
    struct ipw_arrow_field *c = ipw_arrow_field_new(name, type);
    if (!c || ipw_arrow_field_adopt(parent, c, NULL) != IPW_OK)
        return NULL;
    return c;
}

struct ipw_arrow_field *ipw_arrow_field_child(const struct ipw_arrow_field *f, const char *name)
{
    for (size_t i = 0; f && i < f->n_children; i++)
        if (!strcmp(f->children[i]->name, name))
            return f->children[i];
    return NULL;
}

struct ipw_arrow_field *ipw_arrow_field_copy(const struct ipw_arrow_field *f)
{
    struct ipw_arrow_field *c = ipw_arrow_field_new(f->name, f->type);
    if (!c)
        return NULL;
    c->bit_width = f->bit_width;
    c->is_signed = f->is_signed;
    c->nullable = f->nullable;
    for (size_t i = 0; i < f->n_children; i++) {
        struct ipw_arrow_field *cc = ipw_arrow_field_copy(f->children[i]);
        if (!cc || ipw_arrow_field_adopt(c, cc, NULL) != IPW_OK) {
            ipw_arrow_field_free(c);
            return NULL;
        }
    }
    return c;
}

size_t ipw_arrow_field_count(const struct ipw_arrow_field *f)
{
    size_t n = 1;
    for (size_t i = 0; i < f->n_children; i++)
        n += ipw_arrow_field_count(f->children[i]);
    return n;
}

const char *ipw_arrow_type_name(const struct ipw_arrow_field *f)
{
    switch (f->type) {
    case IPW_ARROW_NULL: return "null";
    case IPW_ARROW_BOOL: return "bool";
    case IPW_ARROW_INT:
        switch (f->bit_width) {
        case 8: return f->is_signed ? "int8" : "uint8";
        case 16: return f->is_signed ? "int16" : "uint16";
        case 32: return f->is_signed ? "int32" : "uint32";
        default: return f->is_signed ? "int64" : "uint64";
        }
    case IPW_ARROW_FLOAT:
        return f->bit_width == 16 ? "float16" : f->bit_width == 32 ? "float32" : "float64";
    case IPW_ARROW_UTF8: return "utf8";
    case IPW_ARROW_LARGE_UTF8: return "large_utf8";
    case IPW_ARROW_STRUCT: return "struct";
    case IPW_ARROW_LIST: return "list";
    case IPW_ARROW_LARGE_LIST: return "large_list";
    }
    return "unknown";
}

json_t *ipw_arrow_field_to_json(const struct ipw_arrow_field *f)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "name", json_string(f->name));
    json_object_set_new(j, "type", json_string(ipw_arrow_type_name(f)));
    json_object_set_new(j, "nullable", json_boolean(f->nullable));
    if (f->type == IPW_ARROW_STRUCT || f->type == IPW_ARROW_LIST ||
        f->type == IPW_ARROW_LARGE_LIST) {
        json_t *ch = json_array();
        for (size_t i = 0; i < f->n_children; i++)
            json_array_append_new(ch, ipw_arrow_field_to_json(f->children[i]));
        json_object_set_new(j, "children", ch);
    }
    return j;
}

bool ipw_arrow_field_equal(const struct ipw_arrow_field *a, const struct ipw_arrow_field *b)
{
    if (strcmp(a->name, b->name) || a->type != b->type || a->nullable != b->nullable ||
        a->n_children != b->n_children)
        return false;
    if ((a->type == IPW_ARROW_INT || a->type == IPW_ARROW_FLOAT) &&
        (a->bit_width != b->bit_width || a->is_signed != b->is_signed))
        return false;
    for (size_t i = 0; i < a->n_children; i++)
        if (!ipw_arrow_field_equal(a->children[i], b->children[i]))
            return false;
    return true;
}

ipw_err ipw_arrow_mem_sink(void *ctx, const void *data, size_t len, ipw_errbuf *eb)
{
    struct ipw_arrow_mem *m = ctx;
    if (len > SIZE_MAX - m->len || (m->max && m->len + len > m->max))
        return ipw_fail(eb, IPW_E_NOMEM,
                        "Arrow output exceeds its %zu-byte memory bound; write to a file instead",
                        m->max);
    if (ipw_grow(&m->data, &m->cap, m->len + len, 1, SIZE_MAX) != IPW_OK)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory buffering %zu bytes of Arrow output",
                        m->len + len);
    if (len)
        memcpy(m->data + m->len, data, len);
    m->len += len;
    return IPW_OK;
}

ipw_err ipw_arrow_file_sink(void *ctx, const void *data, size_t len, ipw_errbuf *eb)
{
    struct ipw_arrow_file_sink *s = ctx;
    if (len && fwrite(data, 1, len, s->f) != len) {
        int e = errno;
        return ipw_fail(eb, e == ENOSPC ? IPW_E_NOMEM : IPW_E_IO, "cannot write %s: %s",
                        s->path ? s->path : "Arrow output", strerror(e));
    }
    return IPW_OK;
}
