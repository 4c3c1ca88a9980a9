/* The model side of the simulator: the Hugging Face config (dimensions), the original's
 * per-layer tensor sizes (calculate_sizes) and weight total, and the architecture catalogue
 * that lists the layers one iteration runs and which profile table each is looked up in. */
#include <jansson.h>
#include <string.h>

#include "ss.h"

static ipw_err get_int(json_t *root, const char *path, const char *key, bool required, int64_t dflt,
                       int64_t *out, ipw_errbuf *eb)
{
    json_t *v = json_object_get(root, key);
    if (!v) {
        if (required)
            return ipw_fail(eb, IPW_E_INVALID, "%s: key '%s' is missing (a positive integer)", path,
                            key);
        *out = dflt;
        return IPW_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return ipw_fail(eb, IPW_E_INVALID, "%s: '%s' must be a positive integer", path, key);
    *out = json_integer_value(v);
    return IPW_OK;
}

ipw_err ss_model_load(const char *data_dir, const char *name, struct ss_model *m, ipw_errbuf *eb)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->path, sizeof m->path, "%s/configs/model/%s.json", data_dir, name);
    json_error_t je;
    json_t *root = json_load_file(m->path, 0, &je);
    if (!root)
        return ipw_fail(eb, IPW_E_NOTFOUND, "model config %s: %s (model_name '%s' is looked up as "
                        "configs/model/<model_name>.json under --data-dir)", m->path, je.text, name);
    ipw_err e = IPW_OK;
    if (!json_is_object(root)) {
        e = ipw_fail(eb, IPW_E_INVALID, "%s: not a JSON object", m->path);
        goto out;
    }
    if ((e = get_int(root, m->path, "hidden_size", true, 0, &m->hidden, eb)) ||
        (e = get_int(root, m->path, "num_hidden_layers", true, 0, &m->layers, eb)) ||
        (e = get_int(root, m->path, "num_attention_heads", true, 0, &m->heads, eb)) ||
        (e = get_int(root, m->path, "num_key_value_heads", false, m->heads, &m->kv_heads, eb)) ||
        (e = get_int(root, m->path, "head_dim", false, m->hidden / m->heads, &m->head_dim, eb)) ||
        (e = get_int(root, m->path, "vocab_size", true, 0, &m->vocab, eb)) ||
        (e = get_int(root, m->path, "intermediate_size", true, 0, &m->ffn, eb)) ||
        (e = get_int(root, m->path, "max_position_embeddings", true, 0, &m->max_pos, eb)))
        goto out;
    /* a mixture-of-experts model (the original's test: num_local_experts, else num_experts) */
    json_t *ne = json_object_get(root, "num_local_experts");
    if (!ne || json_is_null(ne))
        ne = json_object_get(root, "num_experts");
    if (json_is_integer(ne) && json_integer_value(ne) > 0) {
        e = ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: a mixture-of-experts model (%lld experts): MoE "
                     "is not simulated; no bundled profile has the moe.csv expert table and the "
                     "roofline model has no expert-layer cost (docs/sim-fidelity.md)", m->path,
                     (long long)json_integer_value(ne));
        goto out;
    }
    json_t *mt = json_object_get(root, "model_type");
    if (!json_is_string(mt)) {
        e = ipw_fail(eb, IPW_E_INVALID, "%s: 'model_type' (a string naming profiler/models/"
                     "<model_type>.yaml) is missing", m->path);
        goto out;
    }
    snprintf(m->model_type, sizeof m->model_type, "%s", json_string_value(mt));
    json_t *td = json_object_get(root, "torch_dtype");
    if (json_is_string(td))
        snprintf(m->torch_dtype, sizeof m->torch_dtype, "%s", json_string_value(td));
out:
    json_decref(root);
    return e;
}

ipw_err ss_layer_sizes(const struct ss_model *m, const char *layer, int64_t len, int64_t kv_len,
                       int64_t parallel, int64_t fp, int64_t *in, int64_t *wt, int64_t *out)
{
    int64_t p = parallel > 1 ? parallel : 1;
    int64_t n = m->hidden, q = m->heads * m->head_dim, kv = m->kv_heads * m->head_dim;
    int64_t i = 0, w = 0, o = 0;
    if (strcmp(layer, "embedding") == 0) {
        i = len * fp * 2;
        w = (m->vocab / p) * n * fp;
        o = len * n * fp;
    } else if (!strcmp(layer, "layernorm") || !strcmp(layer, "final_layernorm") ||
               !strcmp(layer, "input_layernorm") || !strcmp(layer, "post_layernorm")) {
        i = len * n * fp;
        w = n * fp;
        o = len * n * fp;
    } else if (strcmp(layer, "rotary_emb") == 0) {
        i = o = ((m->heads / p) + (m->kv_heads / p)) * len * m->head_dim * fp;
    } else if (strcmp(layer, "attention") == 0) {
        i = (m->heads / p) * len * m->head_dim * fp + (m->kv_heads / p) * kv_len * m->head_dim * fp * 2;
        o = (m->heads / p) * len * m->head_dim * fp;
    } else if (strcmp(layer, "qkv_proj") == 0) {
        i = len * n * fp;
        w = n * ((q + 2 * kv) / p) * fp;
        o = len * ((q + 2 * kv) / p) * fp;
    } else if (strcmp(layer, "o_proj") == 0) {
        i = len * (q / p) * fp;
        w = (q / p) * n * fp;
        o = len * n * fp;
    } else if (strcmp(layer, "gate_up_proj") == 0) {
        i = len * n * fp;
        w = n * 2 * (m->ffn / p) * fp;
        o = len * 2 * (m->ffn / p) * fp;
    } else if (strcmp(layer, "act_fn") == 0) {
        i = len * 2 * (m->ffn / p) * fp;
        o = len * (m->ffn / p) * fp;
    } else if (strcmp(layer, "down_proj") == 0) {
        i = len * (m->ffn / p) * fp;
        w = (m->ffn / p) * n * fp;
        o = len * n * fp;
    } else if (strcmp(layer, "sampler") == 0) {
        i = len * (m->vocab / p) * fp;
        o = len * 4;
    } else if (strcmp(layer, "lm_head") == 0) {
        i = len * n * fp;
        w = n * (m->vocab / p) * fp;
        o = len * (m->vocab / p) * fp;
    } else {
        return IPW_E_NOTFOUND;
    }
    if (in)
        *in = i;
    if (wt)
        *wt = w;
    if (out)
        *out = o;
    return IPW_OK;
}

int64_t ss_model_weight_bytes(const struct ss_model *m, int64_t tp, int64_t pp, int64_t fp)
{
    int64_t w, total = 0, block = 0;
    ss_layer_sizes(m, "embedding", 1, 0, tp, fp, NULL, &w, NULL);
    total += w;
    ss_layer_sizes(m, "layernorm", 1, 0, tp, fp, NULL, &w, NULL);
    block += 2 * w;
    ss_layer_sizes(m, "qkv_proj", 1, 0, tp, fp, NULL, &w, NULL);
    block += w;
    ss_layer_sizes(m, "o_proj", 1, 0, tp, fp, NULL, &w, NULL);
    block += w;
    ss_layer_sizes(m, "gate_up_proj", 1, 0, tp, fp, NULL, &w, NULL);
    block += w;
    ss_layer_sizes(m, "down_proj", 1, 0, tp, fp, NULL, &w, NULL);
    block += w;
    total += block * (m->layers / (pp > 1 ? pp : 1));
    ss_layer_sizes(m, "final_layernorm", 1, 0, tp, fp, NULL, &w, NULL);
    total += w;
    ss_layer_sizes(m, "lm_head", 1, 0, tp, fp, NULL, &w, NULL);
    total += w;
    return total;
}

static ipw_err copy_list(const struct ss_ynode *seq, const char *key, char dst[][32], int *n,
                         const char *path, ipw_errbuf *eb)
{
    const struct ss_ynode *k = ss_yaml_get(seq, key);
    *n = 0;
    if (!k)
        return IPW_OK;
    if (!k->is_list)
        return ipw_fail(eb, IPW_E_INVALID, "%s: sequence.%s must be a list of layer names", path, key);
    if (k->nlist > SS_ARCH_MAX)
        return ipw_fail(eb, IPW_E_RANGE, "%s: sequence.%s has more than %d layers", path, key,
                        SS_ARCH_MAX);
    for (size_t i = 0; i < k->nlist; i++)
        snprintf(dst[(*n)++], 32, "%s", k->list[i]);
    return IPW_OK;
}

ipw_err ss_arch_load(const char *path, struct ss_arch *a, ipw_errbuf *eb)
{
    memset(a, 0, sizeof *a);
    struct ss_ynode root;
    ipw_err e = ss_yaml_load(path, &root, eb);
    if (e)
        return e;
    const struct ss_ynode *seq = ss_yaml_get(&root, "sequence");
    const struct ss_ynode *cat = ss_yaml_get(&root, "catalog");
    if (!seq || !cat) {
        e = ipw_fail(eb, IPW_E_INVALID, "%s: needs the 'sequence' and 'catalog' sections", path);
        goto out;
    }
    if ((e = copy_list(seq, "prologue", a->prologue, &a->nprologue, path, eb)) ||
        (e = copy_list(seq, "pre_attn", a->pre_attn, &a->npre, path, eb)) ||
        (e = copy_list(seq, "post_attn", a->post_attn, &a->npost, path, eb)) ||
        (e = copy_list(seq, "mlp_dense", a->mlp, &a->nmlp, path, eb)) ||
        (e = copy_list(seq, "head", a->head, &a->nhead, path, eb)))
        goto out;
    const struct ss_ynode *moe = ss_yaml_get(seq, "mlp_moe");
    if (moe && moe->nlist) {
        e = ipw_fail(eb, IPW_E_UNSUPPORTED, "%s: MoE blocks (sequence.mlp_moe) are not simulated "
                     "by ipw simulate", path);
        goto out;
    }
    static const struct {
        const char *name;
        enum ss_cat c;
    } cats[] = {{"dense", SS_CAT_DENSE}, {"per_sequence", SS_CAT_PERSEQ}, {"attention", SS_CAT_ATTN}};
    for (size_t ci = 0; ci < 3; ci++) {
        const struct ss_ynode *sec = ss_yaml_get(cat, cats[ci].name);
        for (size_t i = 0; sec && i < sec->nkids && a->ncat < 64; i++) {
            snprintf(a->cat_name[a->ncat], 32, "%s", sec->kids[i].key);
            a->cat[a->ncat] = cats[ci].c;
            const struct ss_ynode *ts = ss_yaml_get(&sec->kids[i], "tp_stable");
            a->tp_stable[a->ncat] = ts && ts->scalar && strcmp(ts->scalar, "true") == 0;
            a->ncat++;
        }
    }
    /* every layer the sequence names must be in the catalogue (the original raises KeyError) */
    char (*lists[])[32] = {a->prologue, a->pre_attn, a->post_attn, a->mlp, a->head};
    int counts[] = {a->nprologue, a->npre, a->npost, a->nmlp, a->nhead};
    for (int li = 0; li < 5; li++)
        for (int i = 0; i < counts[li]; i++)
            if (ss_arch_category(a, lists[li][i], NULL) == SS_CAT_NONE) {
                e = ipw_fail(eb, IPW_E_INVALID, "%s: layer '%s' of the sequence is not declared in "
                             "the catalog (dense, per_sequence or attention)", path, lists[li][i]);
                goto out;
            }
out:
    ss_yaml_free(&root);
    return e;
}

enum ss_cat ss_arch_category(const struct ss_arch *a, const char *layer, bool *tp_stable)
{
    /* the original checks per_sequence, attention, then dense */
    static const enum ss_cat order[] = {SS_CAT_PERSEQ, SS_CAT_ATTN, SS_CAT_DENSE};
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < a->ncat; i++)
            if (a->cat[i] == order[o] && strcmp(a->cat_name[i], layer) == 0) {
                if (tp_stable)
                    *tp_stable = a->tp_stable[i];
                return a->cat[i];
            }
    return SS_CAT_NONE;
}
