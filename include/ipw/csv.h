/* Writing CSV fields the way Python's csv.writer does by default (QUOTE_MINIMAL): a field is
 * quoted only when it holds the delimiter, a quote or a line break, and quotes inside are
 * doubled (RFC 4180). Shared by the lab's export and the simulator's per-request CSV. */
#ifndef IPW_CSV_H
#define IPW_CSV_H

#include <stdio.h>

void ipw_csv_put_field(FILE *f, const char *s);

#endif
