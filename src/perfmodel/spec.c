/* Hardware and model spec files: parsing with validation that names the file and the field,
 * lookup of the bundled specs (data/hardware, data/models) by name or alias, and user files. */
#include "ipw/perfmodel.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ipw/embedded.h"
#include "ipw/fsutil.h"

bool ipw_dtype_bytes(const char *dtype, double *bytes)
{
    static const struct {
        const char *name;
        double bytes;
    } table[] = {
        {"bfloat16", 2},  {"bf16", 2},   {"float16", 2},          {"fp16", 2},
        {"half", 2},      {"fp8", 1},    {"float8", 1},           {"float8_e4m3fn", 1},
        {"int8", 1},      {"int4", 0.5}, {"q8_0", 8.5 / 8},       {"q4_k_m", 4.85 / 8},
        {"q4_0", 4.5 / 8},
    };
    if (!dtype)
        return false;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(dtype, table[i].name) == 0) {
            *bytes = table[i].bytes;
            return true;
        }
    return false;
}

/* ---- field access with errors naming origin and field --------------------------------- */

struct ctx {
    const json_t *obj;
    const char *origin;
    const char *kind; /* "hardware spec" / "model spec" */
    ipw_errbuf *eb;
};

static ipw_err bad(const struct ctx *c, const char *field, const char *want)
{
    return ipw_fail(c->eb, IPW_E_INVALID, "%s %s: field '%s' %s; fix the file (docs/sim.md)",
                    c->kind, c->origin, field, want);
}

static ipw_err get_str(const struct ctx *c, const char *field, bool required, char *out,
                       size_t size, const char *dflt)
{
    json_t *v = json_object_get(c->obj, field);
    if (!v) {
        if (required)
            return bad(c, field, "is missing");
        snprintf(out, size, "%s", dflt ? dflt : "");
        return IPW_OK;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return bad(c, field, "must be a non-empty string");
    if (strlen(s) >= size) {
        char want[64];
        snprintf(want, sizeof want, "is longer than %zu characters", size - 1);
        return bad(c, field, want);
    }
    snprintf(out, size, "%s", s);
    return IPW_OK;
}

/* A number in (lo, hi]; lo_inclusive allows lo itself. */
static ipw_err get_num(const struct ctx *c, const json_t *obj, const char *field, bool required,
                       double dflt, double lo, bool lo_inclusive, double hi, double *out)
{
    json_t *v = json_object_get(obj, field);
    if (!v) {
        if (required)
            return bad(c, field, "is missing");
        *out = dflt;
        return IPW_OK;
    }
    double x = json_number_value(v);
    if (!json_is_number(v) || !isfinite(x) || x > hi || x < lo || (!lo_inclusive && x == lo)) {
        char want[96];
        snprintf(want, sizeof want, "must be a number in %s%g, %g]", lo_inclusive ? "[" : "(", lo,
                 hi);
        return bad(c, field, want);
    }
    *out = x;
    return IPW_OK;
}

static ipw_err get_int(const struct ctx *c, const char *field, bool required, long dflt, long hi,
                       long *out)
{
    json_t *v = json_object_get(c->obj, field);
    if (!v) {
        if (required)
            return bad(c, field, "is missing");
        *out = dflt;
        return IPW_OK;
    }
    double x = json_number_value(v);
    if (!json_is_number(v) || !isfinite(x) || x != floor(x) || x < 1 || x > (double)hi) {
        char want[64];
        snprintf(want, sizeof want, "must be a whole number from 1 to %ld", hi);
        return bad(c, field, want);
    }
    *out = (long)x;
    return IPW_OK;
}

static ipw_err get_bool(const struct ctx *c, const char *field, bool dflt, bool *out)
{
    json_t *v = json_object_get(c->obj, field);
    if (!v) {
        *out = dflt;
        return IPW_OK;
    }
    if (!json_is_boolean(v))
        return bad(c, field, "must be true or false");
    *out = json_is_true(v);
    return IPW_OK;
}

static ipw_err get_aliases(const struct ctx *c, char (*out)[IPW_SPEC_NAME_MAX], unsigned *n)
{
    *n = 0;
    json_t *v = json_object_get(c->obj, "aliases");
    if (!v)
        return IPW_OK;
    if (!json_is_array(v))
        return bad(c, "aliases", "must be an array of strings");
    if (json_array_size(v) > IPW_SPEC_MAX_ALIASES) {
        char want[64];
        snprintf(want, sizeof want, "has more than %d entries", IPW_SPEC_MAX_ALIASES);
        return bad(c, "aliases", want);
    }
    size_t i;
    json_t *a;
    json_array_foreach(v, i, a)
    {
        const char *s = json_string_value(a);
        if (!s || !*s || strlen(s) >= IPW_SPEC_NAME_MAX)
            return bad(c, "aliases", "must hold non-empty strings shorter than 64 characters");
        snprintf(out[(*n)++], IPW_SPEC_NAME_MAX, "%s", s);
    }
    return IPW_OK;
}

static ipw_err check_keys(const struct ctx *c, const json_t *obj, const char *const *known,
                          const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = strncmp(key, "x_", 2) == 0;
        for (const char *const *k = known; !ok && *k; k++)
            ok = strcmp(key, *k) == 0;
        if (!ok)
            return ipw_fail(c->eb, IPW_E_INVALID,
                            "%s %s: unknown field '%s'%s%s; check its spelling (fields are "
                            "listed in docs/sim.md; prefix private fields with x_)",
                            c->kind, c->origin, key, where ? " in " : "", where ? where : "");
    }
    return IPW_OK;
}

static ipw_err parse_root(const char *text, size_t len, const char *origin, const char *kind,
                          const char *schema, json_t **out, ipw_errbuf *eb)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root)
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s %s is not valid JSON (line %d, column %d: %s); fix the file", kind,
                        origin, je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return ipw_fail(eb, IPW_E_INVALID, "%s %s must be a JSON object; see docs/sim.md", kind,
                        origin);
    }
    json_t *sv = json_object_get(root, "schema");
    const char *s = json_string_value(sv);
    if (sv && (!s || strcmp(s, schema) != 0)) {
        json_decref(root);
        return ipw_fail(eb, IPW_E_INVALID,
                        "%s %s: field 'schema' must be \"%s\"; this version of ipw reads no "
                        "other",
                        kind, origin, schema);
    }
    *out = root;
    return IPW_OK;
}

/* ---- hardware -------------------------------------------------------------------------- */

ipw_err ipw_hw_spec_parse(const char *text, size_t len, const char *origin,
                          struct ipw_hw_spec *hw, ipw_errbuf *eb)
{
    static const char *const known[] = {"schema",
                                        "name",
                                        "display_name",
                                        "vendor",
                                        "device_type",
                                        "aliases",
                                        "peak_dense_tflops_bf16",
                                        "peak_dense_tflops_fp8",
                                        "memory_bandwidth_gb_s",
                                        "memory_gib",
                                        "interconnect_gb_s",
                                        "idle_power_w",
                                        "active_power_w",
                                        "compute_efficiency",
                                        "bandwidth_efficiency",
                                        "power_util_compute_bound",
                                        "power_util_bandwidth_bound",
                                        "host_cpu",
                                        "standby_power_w",
                                        "layer_roofline",
                                        "multiprocessors",
                                        "sources",
                                        "notes",
                                        NULL};
    static const char *const cpu_known[] = {"idle_power_w", "active_power_w", "busy_util",
                                            NULL};
    static const char *const layer_known[] = {"compute_efficiency", "bandwidth_efficiency",
                                              "attention_efficiency", "kernel_overhead_us",
                                              "sharpness", "fitted_against", NULL};
    memset(hw, 0, sizeof *hw);
    json_t *root;
    ipw_err e = parse_root(text, len, origin, "hardware spec", "ipw.hardware/1", &root, eb);
    if (e != IPW_OK)
        return e;
    struct ctx c = {root, origin, "hardware spec", eb};
    double tflops, tflops8, bw, gib, link;
    if ((e = check_keys(&c, root, known, NULL)) != IPW_OK ||
        (e = get_str(&c, "name", true, hw->name, sizeof hw->name, NULL)) != IPW_OK ||
        (e = get_str(&c, "display_name", false, hw->display_name, sizeof hw->display_name,
                     hw->name)) != IPW_OK ||
        (e = get_str(&c, "vendor", false, hw->vendor, sizeof hw->vendor, "")) != IPW_OK ||
        (e = get_str(&c, "device_type", false, hw->device_type, sizeof hw->device_type,
                     "discrete")) != IPW_OK ||
        (e = get_aliases(&c, hw->aliases, &hw->naliases)) != IPW_OK ||
        (e = get_num(&c, root, "peak_dense_tflops_bf16", true, 0, 0.001, true, 1e6, &tflops)) !=
            IPW_OK ||
        (e = get_num(&c, root, "peak_dense_tflops_fp8", false, 0, 0, true, 1e6, &tflops8)) !=
            IPW_OK ||
        (e = get_num(&c, root, "memory_bandwidth_gb_s", true, 0, 0.01, true, 1e7, &bw)) != IPW_OK ||
        (e = get_num(&c, root, "memory_gib", true, 0, 0.001, true, 1e6, &gib)) != IPW_OK ||
        (e = get_num(&c, root, "interconnect_gb_s", false, 0, 0, true, 1e6, &link)) != IPW_OK ||
        (e = get_num(&c, root, "idle_power_w", true, 0, 0, true, 1e5, &hw->idle_w)) != IPW_OK ||
        (e = get_num(&c, root, "active_power_w", true, 0, 0, false, 1e5, &hw->active_w)) !=
            IPW_OK ||
        (e = get_num(&c, root, "compute_efficiency", false, 0.6, 0.01, true, 1,
                     &hw->eff_compute)) != IPW_OK ||
        (e = get_num(&c, root, "bandwidth_efficiency", false, 0.8, 0.01, true, 1, &hw->eff_bw)) !=
            IPW_OK ||
        (e = get_num(&c, root, "power_util_compute_bound", false, 0.9, 0, true, 1,
                     &hw->util_compute)) != IPW_OK ||
        (e = get_num(&c, root, "power_util_bandwidth_bound", false, 0.4, 0, true, 1,
                     &hw->util_bw)) != IPW_OK)
        goto out;
    if (strcmp(hw->device_type, "discrete") != 0 && strcmp(hw->device_type, "integrated") != 0) {
        e = bad(&c, "device_type", "must be \"discrete\" or \"integrated\"");
        goto out;
    }
    if (tflops8 != 0 && tflops8 < 0.001) {
        e = bad(&c, "peak_dense_tflops_fp8", "must be 0 (none) or at least 0.001");
        goto out;
    }
    if (link != 0 && link < 0.001) {
        e = bad(&c, "interconnect_gb_s", "must be 0 (none) or at least 0.001");
        goto out;
    }
    if (hw->active_w <= hw->idle_w) {
        e = bad(&c, "active_power_w", "must be larger than idle_power_w");
        goto out;
    }
    hw->cpu_idle_w = 60;
    hw->cpu_active_w = 350;
    hw->cpu_busy_util = 0.08;
    json_t *cpu = json_object_get(root, "host_cpu");
    if (cpu) {
        if (!json_is_object(cpu)) {
            e = bad(&c, "host_cpu", "must be an object");
            goto out;
        }
        if ((e = check_keys(&c, cpu, cpu_known, "host_cpu")) != IPW_OK ||
            (e = get_num(&c, cpu, "idle_power_w", true, 0, 0, true, 1e5, &hw->cpu_idle_w)) !=
                IPW_OK ||
            (e = get_num(&c, cpu, "active_power_w", true, 0, 0, true, 1e5, &hw->cpu_active_w)) !=
                IPW_OK ||
            (e = get_num(&c, cpu, "busy_util", true, 0, 0, true, 1, &hw->cpu_busy_util)) !=
                IPW_OK)
            goto out;
        if (hw->cpu_active_w < hw->cpu_idle_w) {
            e = bad(&c, "host_cpu.active_power_w", "must not be below host_cpu.idle_power_w");
            goto out;
        }
    }
    if ((e = get_num(&c, root, "standby_power_w", false, hw->idle_w + 0.25 * (hw->active_w -
                     hw->idle_w), 0, true, 1e5, &hw->standby_w)) != IPW_OK)
        goto out;
    if (hw->standby_w < hw->idle_w || hw->standby_w > hw->active_w) {
        e = bad(&c, "standby_power_w", "must lie between idle_power_w and active_power_w");
        goto out;
    }
    hw->layer_eff_compute = hw->eff_compute;
    hw->layer_eff_bw = hw->eff_bw;
    hw->layer_eff_attn = hw->eff_compute;
    hw->kernel_overhead_s = 0;
    hw->layer_sharpness = 2;
    long sms;
    if ((e = get_int(&c, "multiprocessors", false, 0, 100000, &sms)) != IPW_OK)
        goto out;
    hw->multiprocessors = (int)sms;
    json_t *lr = json_object_get(root, "layer_roofline");
    if (lr) {
        double us;
        if (!json_is_object(lr)) {
            e = bad(&c, "layer_roofline", "must be an object");
            goto out;
        }
        if ((e = check_keys(&c, lr, layer_known, "layer_roofline")) != IPW_OK ||
            (e = get_num(&c, lr, "compute_efficiency", true, 0, 0.01, true, 1,
                         &hw->layer_eff_compute)) != IPW_OK ||
            (e = get_num(&c, lr, "bandwidth_efficiency", true, 0, 0.01, true, 1,
                         &hw->layer_eff_bw)) != IPW_OK ||
            (e = get_num(&c, lr, "attention_efficiency", true, 0, 0.01, true, 1,
                         &hw->layer_eff_attn)) != IPW_OK ||
            (e = get_num(&c, lr, "kernel_overhead_us", true, 0, 0, true, 1e4, &us)) != IPW_OK ||
            (e = get_num(&c, lr, "sharpness", false, 2, 1, true, 16, &hw->layer_sharpness)) !=
                IPW_OK)
            goto out;
        hw->kernel_overhead_s = us * 1e-6;
        hw->layer_fitted = true;
    }
    hw->peak_flops_bf16 = tflops * 1e12;
    hw->peak_flops_fp8 = tflops8 * 1e12;
    hw->mem_bw = bw * 1e9;
    hw->mem_bytes = gib * 1073741824.0;
    hw->link_bw = link * 1e9;
    snprintf(hw->origin, sizeof hw->origin, "%s", origin);
out:
    json_decref(root);
    return e;
}

/* ---- model ----------------------------------------------------------------------------- */

double ipw_model_spec_arch_params(const struct ipw_model_spec *m)
{
    double h = (double)m->hidden, q = (double)(m->heads * m->head_dim),
           kv = (double)(m->kv_heads * m->head_dim);
    double attn = h * q + 2 * h * kv + q * h;
    if (m->attention_bias)
        attn += q + 2 * kv;
    double mlp = (m->gated_mlp ? 3.0 : 2.0) * h * (double)m->intermediate;
    double layer = attn + mlp + 2 * h; /* two RMS norms */
    double embed = (double)m->vocab * h * (m->tied_embeddings ? 1 : 2);
    return embed + (double)m->layers * layer + h; /* final norm */
}

ipw_err ipw_model_spec_parse(const char *text, size_t len, const char *origin,
                             struct ipw_model_spec *m, ipw_errbuf *eb)
{
    static const char *const known[] = {
        "schema",         "name",          "display_name",        "family",
        "hf_id",          "aliases",       "params",              "num_layers",
        "hidden_size",    "num_attention_heads", "num_kv_heads",  "head_dim",
        "intermediate_size", "vocab_size", "tie_word_embeddings", "mlp",
        "attention_bias", "dtype",         "max_context",         "sources",
        "notes",          NULL};
    memset(m, 0, sizeof *m);
    json_t *root;
    ipw_err e = parse_root(text, len, origin, "model spec", "ipw.model/1", &root, eb);
    if (e != IPW_OK)
        return e;
    struct ctx c = {root, origin, "model spec", eb};
    char mlp[16];
    if ((e = check_keys(&c, root, known, NULL)) != IPW_OK ||
        (e = get_str(&c, "name", true, m->name, sizeof m->name, NULL)) != IPW_OK ||
        (e = get_str(&c, "display_name", false, m->display_name, sizeof m->display_name,
                     m->name)) != IPW_OK ||
        (e = get_str(&c, "family", false, m->family, sizeof m->family, "")) != IPW_OK ||
        (e = get_str(&c, "hf_id", false, m->hf_id, sizeof m->hf_id, "")) != IPW_OK ||
        (e = get_aliases(&c, m->aliases, &m->naliases)) != IPW_OK ||
        (e = get_num(&c, root, "params", true, 0, 0, false, 1e14, &m->params)) != IPW_OK ||
        (e = get_int(&c, "num_layers", true, 0, 10000, &m->layers)) != IPW_OK ||
        (e = get_int(&c, "hidden_size", true, 0, 1 << 20, &m->hidden)) != IPW_OK ||
        (e = get_int(&c, "num_attention_heads", true, 0, 1 << 14, &m->heads)) != IPW_OK ||
        (e = get_int(&c, "num_kv_heads", false, m->heads, 1 << 14, &m->kv_heads)) != IPW_OK ||
        (e = get_int(&c, "head_dim", false, m->hidden / m->heads ? m->hidden / m->heads : 1,
                     1 << 14, &m->head_dim)) != IPW_OK ||
        (e = get_int(&c, "intermediate_size", true, 0, 1 << 22, &m->intermediate)) != IPW_OK ||
        (e = get_int(&c, "vocab_size", true, 0, 1 << 24, &m->vocab)) != IPW_OK ||
        (e = get_bool(&c, "tie_word_embeddings", false, &m->tied_embeddings)) != IPW_OK ||
        (e = get_bool(&c, "attention_bias", false, &m->attention_bias)) != IPW_OK ||
        (e = get_str(&c, "mlp", false, mlp, sizeof mlp, "gated")) != IPW_OK ||
        (e = get_str(&c, "dtype", false, m->dtype, sizeof m->dtype, "bfloat16")) != IPW_OK ||
        (e = get_int(&c, "max_context", true, 0, 100000000, &m->max_context)) != IPW_OK)
        goto out;
    if (strcmp(mlp, "gated") != 0 && strcmp(mlp, "standard") != 0) {
        e = bad(&c, "mlp", "must be \"gated\" (SwiGLU, three matrices) or \"standard\" (two)");
        goto out;
    }
    m->gated_mlp = strcmp(mlp, "gated") == 0;
    if (m->kv_heads > m->heads || m->heads % m->kv_heads != 0) {
        e = bad(&c, "num_kv_heads", "must divide num_attention_heads");
        goto out;
    }
    if (!ipw_dtype_bytes(m->dtype, &m->dtype_bytes)) {
        e = bad(&c, "dtype", "must be one of bfloat16, float16, fp8, int8, int4, q8_0, q4_k_m, "
                             "q4_0");
        goto out;
    }
    /* The shape fields and the parameter count must tell the same story: a typo in either
     * would silently skew every modelled time. */
    double arch = ipw_model_spec_arch_params(m);
    if (fabs(arch - m->params) > 0.02 * m->params) {
        e = ipw_fail(eb, IPW_E_INVALID,
                     "model spec %s: field 'params' (%.4g) disagrees with the architecture "
                     "(%.4g computed from num_layers, hidden_size, heads, intermediate_size, "
                     "vocab_size, tie_word_embeddings); one of them is wrong",
                     origin, m->params, arch);
        goto out;
    }
    snprintf(m->origin, sizeof m->origin, "%s", origin);
out:
    json_decref(root);
    return e;
}

/* ---- lookup ---------------------------------------------------------------------------- */

/* Hardware names compare on letters and digits only, case-folded. */
static void norm_plain(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (; *in && n + 1 < size; in++)
        if (isalnum((unsigned char)*in))
            out[n++] = (char)tolower((unsigned char)*in);
    out[n] = 0;
}

static bool is_sep(char ch) { return ch == '-' || ch == '_' || ch == ':' || ch == ' '; }

/* Served model names carry an organisation ("meta-llama/"), a "Meta-" prefix, and suffixes
 * for the tuning and the quantisation ("-Instruct", ":8b-instruct-q4_K_M"); none of them
 * changes the shape, so the name is cut at the first such word. */
static void norm_model(const char *in, char *out, size_t size)
{
    static const char *const cut[] = {"instruct", "chat", "it",   "hf",   "base", "latest",
                                      "awq",      "gptq", "gguf", "fp16", "bf16", "fp8",
                                      "int4",     "int8", "mlx",  "4bit", "8bit", NULL};
    const char *s = strrchr(in, '/');
    s = s ? s + 1 : in;
    char low[256];
    size_t n = 0;
    for (; s[n] && n + 1 < sizeof low; n++)
        low[n] = (char)tolower((unsigned char)s[n]);
    low[n] = 0;
    char *p = low;
    if (strncmp(p, "meta", 4) == 0 && is_sep(p[4]))
        p += 5;
    for (char *q = p; *q; q++) {
        if (!is_sep(*q))
            continue;
        const char *tok = q + 1;
        size_t tl = 0;
        while (tok[tl] && !is_sep(tok[tl]))
            tl++;
        bool drop = tl >= 2 && tok[0] == 'q' && isdigit((unsigned char)tok[1]);
        for (const char *const *c = cut; !drop && *c; c++)
            drop = strlen(*c) == tl && strncmp(tok, *c, tl) == 0;
        if (drop) {
            *q = 0;
            break;
        }
    }
    norm_plain(p, out, size);
}

static bool is_path(const char *arg)
{
    size_t n = strlen(arg);
    if (n >= 5 && strcmp(arg + n - 5, ".json") == 0)
        return true;
    struct stat st;
    return strchr(arg, '/') && stat(arg, &st) == 0 && S_ISREG(st.st_mode);
}

typedef ipw_err (*parse_fn)(const char *, size_t, const char *, void *, ipw_errbuf *);

static ipw_err load_file(const char *path, const char *kind, parse_fn parse, void *out,
                         ipw_errbuf *eb)
{
    char *text;
    size_t len;
    ipw_err e = ipw_read_file(path, IPW_SPEC_MAX_BYTES, &text, &len, eb);
    if (e != IPW_OK) {
        ipw_err_prefix(eb, "%s file", kind);
        return e;
    }
    e = parse(text, len, path, out, eb);
    free(text);
    return e;
}

static ipw_err parse_hw(const char *t, size_t l, const char *o, void *out, ipw_errbuf *eb)
{
    return ipw_hw_spec_parse(t, l, o, out, eb);
}

static ipw_err parse_model(const char *t, size_t l, const char *o, void *out, ipw_errbuf *eb)
{
    return ipw_model_spec_parse(t, l, o, out, eb);
}

static bool has_prefix_json(const char *path, const char *dir)
{
    size_t d = strlen(dir), n = strlen(path);
    return n > d + 5 && strncmp(path, dir, d) == 0 && strcmp(path + n - 5, ".json") == 0;
}

/* Calls fn on each bundled spec of a kind (parsed into buf); stops when fn returns true.
 * A bundled file that fails to parse is a build defect: the unit tests load every one. */
static bool each_bundled(const char *dir, parse_fn parse, void *buf,
                         bool (*fn)(void *spec, void *ud), void *ud)
{
    for (const struct ipw_embedded_file *f = ipw_embedded_files; f->path; f++) {
        if (!has_prefix_json(f->path, dir))
            continue;
        char origin[256];
        snprintf(origin, sizeof origin, "embedded:%s", f->path);
        if (parse((const char *)f->data, *f->len, origin, buf, NULL) == IPW_OK && fn(buf, ud))
            return true;
    }
    return false;
}

struct match {
    const char *want; /* normalised */
    void (*norm)(const char *, char *, size_t);
    void *out;
};

static bool matches(const char *want, void (*norm)(const char *, char *, size_t),
                    const char *name, const char (*aliases)[IPW_SPEC_NAME_MAX], unsigned n)
{
    char buf[IPW_SPEC_NAME_MAX];
    norm(name, buf, sizeof buf);
    if (buf[0] && strcmp(buf, want) == 0)
        return true;
    for (unsigned i = 0; i < n; i++) {
        norm(aliases[i], buf, sizeof buf);
        if (buf[0] && strcmp(buf, want) == 0)
            return true;
    }
    return false;
}

static bool match_hw(void *spec, void *ud)
{
    struct match *m = ud;
    struct ipw_hw_spec *hw = spec;
    if (!matches(m->want, m->norm, hw->name, hw->aliases, hw->naliases))
        return false;
    *(struct ipw_hw_spec *)m->out = *hw;
    return true;
}

static bool match_model(void *spec, void *ud)
{
    struct match *m = ud;
    struct ipw_model_spec *ms = spec;
    if (!matches(m->want, m->norm, ms->name, ms->aliases, ms->naliases))
        return false;
    *(struct ipw_model_spec *)m->out = *ms;
    return true;
}

static bool append_name(void *spec, void *ud)
{
    /* name is the first member of both spec structs */
    json_array_append_new(ud, json_string((const char *)spec));
    return false;
}

static void names_list(const char *dir, parse_fn parse, void *buf, char *out, size_t size)
{
    json_t *a = json_array();
    each_bundled(dir, parse, buf, append_name, a);
    size_t len = 0, i;
    json_t *v;
    out[0] = 0;
    json_array_foreach(a, i, v)
    {
        len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s", i ? ", " : "",
                                json_string_value(v));
        if (len >= size)
            break;
    }
    json_decref(a);
}

ipw_err ipw_hw_spec_load(const char *arg, struct ipw_hw_spec *out, ipw_errbuf *eb)
{
    if (!arg || !*arg)
        return ipw_fail(eb, IPW_E_INVALID, "no hardware named: give a name such as H100 or a "
                                           "path to a JSON spec file");
    if (is_path(arg))
        return load_file(arg, "hardware spec", parse_hw, out, eb);
    struct ipw_hw_spec *buf = malloc(sizeof *buf);
    if (!buf)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory loading hardware spec %s", arg);
    char want[IPW_SPEC_NAME_MAX * 2];
    norm_plain(arg, want, sizeof want);
    struct match m = {want, norm_plain, out};
    bool found = want[0] && each_bundled("hardware/", parse_hw, buf, match_hw, &m);
    ipw_err e = IPW_OK;
    if (!found) {
        char names[512];
        names_list("hardware/", parse_hw, buf, names, sizeof names);
        e = ipw_fail(eb, IPW_E_NOTFOUND,
                     "unknown hardware '%s': use one of %s, or a path to a JSON spec file "
                     "(docs/sim.md)",
                     arg, names);
    }
    free(buf);
    return e;
}

ipw_err ipw_model_spec_load(const char *arg, struct ipw_model_spec *out, ipw_errbuf *eb)
{
    if (!arg || !*arg)
        return ipw_fail(eb, IPW_E_INVALID, "no model named: give a name such as llama-3.1-8b "
                                           "or a path to a JSON spec file");
    if (is_path(arg))
        return load_file(arg, "model spec", parse_model, out, eb);
    if (ipw_model_spec_match(arg, out))
        return IPW_OK;
    struct ipw_model_spec *buf = malloc(sizeof *buf);
    if (!buf)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory loading model spec %s", arg);
    char names[512];
    names_list("models/", parse_model, buf, names, sizeof names);
    free(buf);
    return ipw_fail(eb, IPW_E_NOTFOUND,
                    "unknown model '%s': use one of %s, or a path to a JSON spec file "
                    "(docs/sim.md)",
                    arg, names);
}

bool ipw_model_spec_match(const char *served_name, struct ipw_model_spec *out)
{
    if (!served_name || !*served_name)
        return false;
    char want[IPW_SPEC_NAME_MAX * 2];
    norm_model(served_name, want, sizeof want);
    if (!want[0])
        return false;
    struct ipw_model_spec *buf = malloc(sizeof *buf);
    if (!buf)
        return false;
    struct match m = {want, norm_model, out};
    bool found = each_bundled("models/", parse_model, buf, match_model, &m);
    free(buf);
    return found;
}

bool ipw_model_spec_matches(const struct ipw_model_spec *m, const char *served_name)
{
    if (!served_name || !*served_name)
        return false;
    char want[IPW_SPEC_NAME_MAX * 2];
    norm_model(served_name, want, sizeof want);
    return want[0] && matches(want, norm_model, m->name, m->aliases, m->naliases);
}

json_t *ipw_hw_spec_names(void)
{
    json_t *a = json_array();
    struct ipw_hw_spec *buf = malloc(sizeof *buf);
    if (a && buf)
        each_bundled("hardware/", parse_hw, buf, append_name, a);
    free(buf);
    return a;
}

json_t *ipw_model_spec_names(void)
{
    json_t *a = json_array();
    struct ipw_model_spec *buf = malloc(sizeof *buf);
    if (a && buf)
        each_bundled("models/", parse_model, buf, append_name, a);
    free(buf);
    return a;
}
