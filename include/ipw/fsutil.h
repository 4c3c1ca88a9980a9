/* Files that matter: atomic replacement (temp + fsync + rename), durable appends, bounded reads. */
#ifndef IPW_FSUTIL_H
#define IPW_FSUTIL_H

#include <stddef.h>

#include "ipw/err.h"

/* Write data to path atomically: path.tmp.<pid>, fsync, rename over path, fsync the directory. */
ipw_err ipw_write_file_atomic(const char *path, const void *data, size_t len, ipw_errbuf *eb);
/* Read a whole file (at most max_len bytes, else IPW_E_RANGE); *out is NUL-terminated. */
ipw_err ipw_read_file(const char *path, size_t max_len, char **out, size_t *len, ipw_errbuf *eb);
/* mkdir -p with mode 0755. */
ipw_err ipw_mkdir_p(const char *path, ipw_errbuf *eb);
/* Remove a directory tree (used by --overwrite). */
ipw_err ipw_remove_tree(const char *path, ipw_errbuf *eb);
/* Append one line (adds '\n') and fsync, so that a finished record survives a crash. */
ipw_err ipw_append_line_durable(int fd, const char *line, size_t len, const char *path_for_errors,
                                ipw_errbuf *eb);
int ipw_path_exists(const char *path);
int ipw_is_dir(const char *path);
/* dir + "/" + name into out; IPW_E_RANGE if it does not fit. */
ipw_err ipw_path_join(char *out, size_t size, const char *dir, const char *name, ipw_errbuf *eb);

#endif
