/* HuggingFace save_to_disk folders as dataset input: the Arrow stream files state.json names,
 * read by our own Arrow reader (src/results), each row handed on like a JSONL line. So the
 * original tool's own dataset folders (and any `Dataset.save_to_disk` output) can be profiled
 * without exporting them first. */
#include <stdio.h>
#include <unistd.h>

#include "datasets/rows_impl.h"
#include "ipw/hf_dataset.h"

ipw_err rows_read_hf_disk(const char *path, const struct ipw_rows_opts *opt,
                          const struct ipw_rows_sink *sink, ipw_errbuf *eb)
{
    (void)opt;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/dataset_dict.json", path);
    if (access(probe, F_OK) == 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s holds several splits (a DatasetDict): pass one split's folder, e.g. "
                        "%s/test",
                        path, path);
    snprintf(probe, sizeof probe, "%s/state.json", path);
    if (access(probe, F_OK) != 0)
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s is a directory but not a HuggingFace save_to_disk folder (it has no "
                        "state.json); pass a JSONL, JSON or CSV file, or such a folder",
                        path);
    json_t *rows = NULL;
    ipw_err e = ipw_hf_dataset_load(path, &rows, NULL, eb);
    if (e != IPW_OK)
        return e;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        /* "line" is the row's 1-based position: messages read "folder:17: ..." */
        e = sink->row(sink->ud, row, i, i + 1, eb);
        if (e != IPW_OK)
            break;
    }
    json_decref(rows);
    return e;
}
