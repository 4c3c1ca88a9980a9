/* The lab store's run columns, described once: the schema, the migrations, the insert and the
 * select are all derived from this table (lab/store.c, lab/export.c). Not a public interface. */
#ifndef IPW_LAB_STORE_SCHEMA_H
#define IPW_LAB_STORE_SCHEMA_H

#include <stddef.h>

#include "ipw/lab.h"

enum lab_col_kind { COL_REAL, COL_INT, COL_LONG, COL_BOOL, COL_TEXT, COL_I64 };

struct lab_col {
    const char *name;
    enum lab_col_kind kind;
    size_t off;  /* into struct ipw_lab_run */
    size_t size; /* COL_TEXT: the char array's size */
    int since;   /* schema version that added the column */
};

extern const struct lab_col lab_run_cols[];
extern const size_t lab_n_run_cols;

#endif
