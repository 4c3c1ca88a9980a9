/* A small, bounded reader of XML property lists (Apple's plist format), enough for powermetrics
 * samples: dict, key, array, string, real, integer, true, false, date, data, with the XML
 * entities and CDATA. The whole document becomes a tree of nodes addressed by index. */
#ifndef IPW_PLIST_H
#define IPW_PLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "ipw/err.h"

#define IPW_PLIST_MAX_INPUT ((size_t)8 << 20) /* bytes */
#define IPW_PLIST_MAX_NODES 200000
#define IPW_PLIST_MAX_DEPTH 64

enum ipw_plist_type {
    IPW_PLIST_DICT = 1,
    IPW_PLIST_ARRAY,
    IPW_PLIST_STRING,
    IPW_PLIST_REAL,
    IPW_PLIST_INTEGER,
    IPW_PLIST_TRUE,
    IPW_PLIST_FALSE,
    IPW_PLIST_DATE,
    IPW_PLIST_DATA
};

struct ipw_plist;

/* Parses one document (`<?xml ...?>`, an optional DOCTYPE, `<plist>` holding one value).
 * Anything else (a truncated document, unknown elements, trailing text) is IPW_E_PROTOCOL with
 * the byte offset and what was expected; limits give IPW_E_RANGE. */
ipw_err ipw_plist_parse(const char *text, size_t len, struct ipw_plist **out, ipw_errbuf *eb);
void ipw_plist_free(struct ipw_plist *p);

/* Node indices: the root value is ipw_plist_root(); -1 means "none" everywhere. */
int ipw_plist_root(const struct ipw_plist *p);
size_t ipw_plist_node_count(const struct ipw_plist *p);
enum ipw_plist_type ipw_plist_type(const struct ipw_plist *p, int node);
/* The value under key in a dict (the last one when a key repeats), or -1. */
int ipw_plist_dict_get(const struct ipw_plist *p, int dict, const char *key);
/* Children of a dict or array in document order. */
int ipw_plist_first(const struct ipw_plist *p, int container);
int ipw_plist_next(const struct ipw_plist *p, int node);
/* The key a dict member was stored under (NULL for array elements and the root). */
const char *ipw_plist_key(const struct ipw_plist *p, int node);
/* A real or integer as a double; false for other types. */
bool ipw_plist_number(const struct ipw_plist *p, int node, double *out);
/* Text of a string, date or data node (entities decoded, NUL-terminated), or NULL. */
const char *ipw_plist_text(const struct ipw_plist *p, int node);
const char *ipw_plist_type_name(enum ipw_plist_type t);

#endif
