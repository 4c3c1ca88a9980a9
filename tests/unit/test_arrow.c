/* Unit tests of the FlatBuffers layer and the Arrow IPC stream writer and reader: round trips
 * (nested structs with nulls at every level, empty/unicode/large strings, 0 rows, many batches),
 * framing and alignment, reader-only types, and hostile inputs rejected cleanly. */
#include "ipw_test.h"

#include <stdlib.h>
#include <string.h>

#include "results/arrow.h"
#include "results/arrow_format.h"
#include "results/flatbuf.h"

/* ---- helpers ------------------------------------------------------------------------------------ */

static json_t *jload(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &je);
    if (!j)
        fail_msg("bad JSON in test: %s (%s)", je.text, text);
    return j;
}

static void assert_json_eq(const json_t *got, const json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("JSON differs:\n got  %.600s\n want %.600s", g, w);
    }
}

/* What a row should read back as: every schema field present, missing values null. */
static json_t *shape(const struct ipw_arrow_field *f, const json_t *v)
{
    if (!v || json_is_null(v) || f->type == IPW_ARROW_NULL)
        return json_null();
    if (f->type != IPW_ARROW_STRUCT)
        return json_deep_copy(v);
    json_t *o = json_object();
    for (size_t i = 0; i < f->n_children; i++)
        json_object_set_new(o, f->children[i]->name,
                            shape(f->children[i], json_object_get(v, f->children[i]->name)));
    return o;
}

static struct ipw_arrow_field *nested_schema(void)
{
    struct ipw_arrow_field *s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(s, "s", IPW_ARROW_UTF8);
    ipw_arrow_field_add(s, "i", IPW_ARROW_INT);
    ipw_arrow_field_add(s, "f", IPW_ARROW_FLOAT);
    ipw_arrow_field_add(s, "b", IPW_ARROW_BOOL);
    ipw_arrow_field_add(s, "n", IPW_ARROW_NULL);
    struct ipw_arrow_field *a = ipw_arrow_field_add(s, "a", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(a, "x", IPW_ARROW_FLOAT);
    struct ipw_arrow_field *b = ipw_arrow_field_add(a, "b", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(b, "name", IPW_ARROW_UTF8);
    struct ipw_arrow_field *c = ipw_arrow_field_add(b, "c", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(c, "deep", IPW_ARROW_INT);
    ipw_arrow_field_add(c, "ok", IPW_ARROW_BOOL);
    ipw_arrow_field_add(a, "empty", IPW_ARROW_STRUCT);
    return s;
}

static void write_rows(const struct ipw_arrow_field *schema, const json_t *md, json_t *rows,
                       size_t batch_rows, struct ipw_arrow_mem *out)
{
    ipw_errbuf eb = {0};
    struct ipw_arrow_writer *w;
    struct ipw_arrow_writer_options opt = {.batch_rows = batch_rows};
    memset(out, 0, sizeof *out);
    assert_int_equal(ipw_arrow_writer_new(schema, md, &opt, ipw_arrow_mem_sink, out, &w, &eb),
                     IPW_OK);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (ipw_arrow_writer_append(w, r, &eb) != IPW_OK)
            fail_msg("append row %zu: %s", i, eb.msg);
    }
    assert_int_equal(ipw_arrow_writer_finish(w, &eb), IPW_OK);
    ipw_arrow_writer_free(w);
}

static json_t *read_back(const struct ipw_arrow_mem *m, ipw_err want)
{
    ipw_errbuf eb = {0};
    json_t *out = NULL;
    ipw_err e = ipw_arrow_read_json(m->data, m->len, NULL, &out, &eb);
    if (e != want)
        fail_msg("read: %s, expected %s (%s)", ipw_err_name(e), ipw_err_name(want), eb.msg);
    return out;
}

/* ---- flatbuffers --------------------------------------------------------------------------------- */

static void test_flatbuf_roundtrip(void **state)
{
    (void)state;
    struct fbb b;
    fbb_init(&b, 0);
    uint32_t s1 = fbb_string(&b, "héllo", strlen("héllo"));
    uint32_t s0 = fbb_string(&b, "", 0);
    uint8_t pairs[32];
    fb_wr64(pairs, 1);
    fb_wr64(pairs + 8, (uint64_t)-2);
    fb_wr64(pairs + 16, 3);
    fb_wr64(pairs + 24, 4);
    uint32_t structs = fbb_vector(&b, pairs, 2, 16, 8);
    fbb_table_start(&b);
    fbb_add_i32(&b, 0, -7);
    uint32_t child = fbb_table_end(&b);
    uint32_t kids[2] = {child, child};
    uint32_t kidvec = fbb_offset_vector(&b, kids, 2);
    fbb_table_start(&b);
    fbb_add_i64(&b, 5, INT64_MIN);
    fbb_add_offset(&b, 0, s1);
    fbb_add_u8(&b, 1, 200);
    fbb_add_i16(&b, 2, -300);
    fbb_add_offset(&b, 3, structs);
    fbb_add_offset(&b, 4, kidvec);
    fbb_add_offset(&b, 7, s0);
    uint32_t root = fbb_table_end(&b);
    const uint8_t *buf;
    size_t len;
    assert_true(fbb_finish(&b, root, &buf, &len));
    assert_int_equal(len % 8, 0);

    struct fb_table t, k;
    assert_int_equal(fb_root(buf, len, &t), 1);
    const char *s;
    uint32_t sl;
    assert_int_equal(fb_string(&t, 0, &s, &sl), 1);
    assert_int_equal(sl, strlen("héllo"));
    assert_string_equal(s, "héllo");
    assert_int_equal(fb_string(&t, 7, &s, &sl), 1);
    assert_int_equal(sl, 0);
    uint8_t u8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    assert_int_equal(fb_u8(&t, 1, 0, &u8), 1);
    assert_int_equal(u8, 200);
    assert_int_equal(fb_i16(&t, 2, 0, &i16), 1);
    assert_int_equal(i16, -300);
    assert_int_equal(fb_i64(&t, 5, 0, &i64), 1);
    assert_true(i64 == INT64_MIN);
    /* absent fields: id 6 inside the vtable, 12 beyond it */
    assert_int_equal(fb_i32(&t, 6, 99, &i32), 0);
    assert_int_equal(i32, 99);
    assert_int_equal(fb_i32(&t, 12, 98, &i32), 0);
    assert_int_equal(i32, 98);
    struct fb_vec v;
    assert_int_equal(fb_vector(&t, 3, 16, 8, &v), 1);
    assert_int_equal(v.n, 2);
    assert_int_equal((int64_t)fb_rd64(fb_vec_elem(&v, 0) + 8), -2);
    assert_int_equal(fb_rd64(fb_vec_elem(&v, 1) + 8), 4);
    assert_null(fb_vec_elem(&v, 2));
    assert_int_equal(fb_vector(&t, 4, 4, 4, &v), 1);
    assert_int_equal(v.n, 2);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(fb_vec_table(&v, i, &k), 1);
        assert_int_equal(fb_i32(&k, 0, 0, &i32), 1);
        assert_int_equal(i32, -7);
    }
    assert_int_equal(fb_vec_table(&v, 2, &k), -1);
    /* a wrong-typed access (a string read as a table) must not pass */
    struct fb_table bogus;
    int r = fb_table(&t, 0, &bogus);
    assert_true(r == -1 || r == 1); /* may look like a table; it must not read out of bounds */
    fbb_free(&b);
}

static void test_flatbuf_hostile(void **state)
{
    (void)state;
    struct fbb b;
    fbb_init(&b, 0);
    uint32_t s = fbb_string(&b, "abc", 3);
    fbb_table_start(&b);
    fbb_add_offset(&b, 0, s);
    fbb_add_i64(&b, 1, 42);
    uint32_t root = fbb_table_end(&b);
    const uint8_t *fin;
    size_t len;
    assert_true(fbb_finish(&b, root, &fin, &len));
    uint8_t *buf = malloc(len);
    struct fb_table t;
    assert_int_equal(fb_root(NULL, 0, &t), -1);
    assert_int_equal(fb_root(fin, 4, &t), -1);
    /* every single-byte corruption and every truncation: -1 or a value, never a bad read */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, fin, len);
            buf[i] ^= (uint8_t)(1u << bit);
            if (fb_root(buf, len, &t) == 1) {
                const char *str;
                uint32_t sl;
                int64_t x;
                fb_string(&t, 0, &str, &sl);
                fb_i64(&t, 1, 0, &x);
            }
        }
        uint8_t *cut = malloc(i ? i : 1);
        memcpy(cut, fin, i);
        if (fb_root(cut, i, &t) == 1) {
            const char *str;
            uint32_t sl;
            fb_string(&t, 0, &str, &sl);
        }
        free(cut);
    }
    /* root offset past the end */
    memcpy(buf, fin, len);
    fb_wr32(buf, (uint32_t)len);
    assert_int_equal(fb_root(buf, len, &t), -1);
    /* misaligned root */
    fb_wr32(buf, 2);
    assert_int_equal(fb_root(buf, len, &t), -1);
    free(buf);
    /* builder misuse is reported, not crashed on */
    fbb_reset(&b);
    fbb_table_start(&b);
    fbb_string(&b, "x", 1); /* strings cannot be made inside a table */
    assert_true(b.failed);
    fbb_free(&b);
    struct fbb small;
    fbb_init(&small, 64);
    fbb_string(&small, "0123456789012345678901234567890123456789012345678901234567890123", 64);
    assert_true(small.failed);
    const uint8_t *o;
    size_t ol;
    assert_false(fbb_finish(&small, 4, &o, &ol));
    fbb_free(&small);
}

/* ---- writer -> reader round trips -------------------------------------------------------------- */

static void test_roundtrip_nested_nulls(void **state)
{
    (void)state;
    struct ipw_arrow_field *schema = nested_schema();
    char *big = malloc((5 << 20) + 1);
    for (size_t i = 0; i < (5u << 20); i++)
        big[i] = (char)('a' + i % 26);
    big[5 << 20] = '\0';
    json_t *rows = json_array();
    json_array_append_new(rows, jload("{\"s\":\"plain\",\"i\":1,\"f\":1.5,\"b\":true,"
                                      "\"a\":{\"x\":2.5,\"b\":{\"name\":\"n\",\"c\":{\"deep\":-3,"
                                      "\"ok\":false}},\"empty\":{}}}"));
    json_array_append_new(rows, jload("{}"));                     /* everything null */
    json_array_append_new(rows, jload("{\"a\":null,\"s\":\"\"}")); /* null struct */
    json_array_append_new(rows, jload("{\"a\":{}}"));             /* struct of nulls */
    json_array_append_new(rows, jload("{\"a\":{\"b\":null,\"x\":null}}"));
    json_array_append_new(rows, jload("{\"a\":{\"b\":{\"c\":null,\"name\":\"\"}}}"));
    json_array_append_new(rows, jload("{\"a\":{\"b\":{\"c\":{}}}}"));
    json_array_append_new(
        rows, jload("{\"s\":\"Ünïcödé ✓ 中文 🚀 \\u0000 embedded NUL\",\"i\":9223372036854775807,"
                    "\"f\":-0.0,\"b\":false,\"a\":{\"b\":{\"c\":{\"deep\":-9223372036854775808,"
                    "\"ok\":true}}}}"));
    json_array_append_new(rows, json_pack("{s:s, s:f, s:i}", "s", big, "f", 1e-300, "i", 0));
    json_array_append_new(rows, jload("{\"i\":3.0,\"f\":7,\"extra\":\"ignored\"}"));
    free(big);

    json_t *md = json_pack("{s:s, s:s}", "huggingface", "{\"info\":{}}", "k", "✓");
    struct ipw_arrow_mem m;
    write_rows(schema, md, rows, 3, &m);
    json_t *got = read_back(&m, IPW_OK);
    assert_int_equal(json_integer_value(json_object_get(got, "batches")), 4);
    assert_json_eq(json_object_get(got, "metadata"), md);
    json_t *want_schema = ipw_arrow_field_to_json(schema);
    assert_json_eq(json_object_get(got, "schema"), want_schema);
    json_t *got_rows = json_object_get(got, "rows");
    assert_int_equal(json_array_size(got_rows), json_array_size(rows));
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *want = shape(schema, json_array_get(rows, i));
        if (i == 9) /* int64 from an integral real, float64 from an integer */
            json_object_set_new(want, "i", json_integer(3)), json_object_set_new(want, "f", json_real(7));
        json_t *g = json_array_get(got_rows, i);
        if (i == 7) { /* -0.0 keeps its sign */
            double f = json_real_value(json_object_get(g, "f"));
            assert_true(f == 0.0 && signbit(f));
        }
        assert_json_eq(g, want);
        json_decref(want);
    }
    json_decref(want_schema);
    json_decref(got);
    json_decref(md);
    json_decref(rows);
    free(m.data);
    ipw_arrow_field_free(schema);
}

/* The writer looks each member up where it was in the previous row first: rows whose members
 * come in another order, with extra or absent members, a key that only starts like a column's
 * name (an embedded NUL), singletons shared by several members, and an object of more than 64
 * members must all read back as the plain lookup by name gives them. */
static void test_member_order_varies(void **state)
{
    (void)state;
    struct ipw_arrow_field *schema = nested_schema();
    json_t *rows = json_array();
    json_array_append_new(rows, jload("{\"s\":\"a\",\"i\":1,\"f\":1.5,\"b\":true,\"a\":{\"x\":1.25,"
                                      "\"b\":{\"name\":\"n\",\"c\":{\"deep\":1,\"ok\":true}}}}"));
    json_array_append_new(rows, jload("{\"a\":{\"b\":{\"c\":{\"ok\":false,\"deep\":2},\"name\":\"m\"},"
                                      "\"x\":2.25},\"b\":false,\"f\":2.5,\"i\":2,\"s\":\"b\"}"));
    json_t *nul = jload("{\"zz\":1,\"yy\":2,\"xx\":3,\"ww\":4}"); /* "s\0x" lands where "s" was */
    json_object_setn_new(nul, "s\0x", 3, json_string("not s"));
    json_object_set_new(nul, "i", json_integer(3));
    json_array_append_new(rows, nul);
    json_array_append_new(rows, jload("{\"s\":null,\"b\":null,\"i\":null,\"f\":null,\"a\":null}"));
    json_array_append_new(rows, jload("{\"i\":4,\"s\":\"c\",\"a\":{\"b\":null,\"x\":null}}"));
    json_t *wide = json_object();
    for (int k = 0; k < 80; k++) {
        char key[16];
        snprintf(key, sizeof key, "pad%d", k);
        json_object_set_new(wide, key, json_integer(k));
    }
    json_object_set_new(wide, "s", json_string("after 80 others"));
    json_object_set_new(wide, "i", json_integer(5));
    json_array_append_new(rows, wide);
    json_array_append_new(rows, jload("{\"s\":\"d\",\"i\":6,\"f\":6.5,\"b\":true,\"a\":{\"x\":6.25,"
                                      "\"b\":{\"name\":\"n\",\"c\":{\"deep\":6,\"ok\":true}}}}"));
    struct ipw_arrow_mem m;
    write_rows(schema, NULL, rows, 4, &m);
    json_t *got = read_back(&m, IPW_OK);
    json_t *got_rows = json_object_get(got, "rows");
    assert_int_equal(json_array_size(got_rows), json_array_size(rows));
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *want = shape(schema, json_array_get(rows, i));
        assert_json_eq(json_array_get(got_rows, i), want);
        json_decref(want);
    }
    assert_true(json_is_null(json_object_get(json_array_get(got_rows, 2), "s")));
    json_decref(got);
    json_decref(rows);
    free(m.data);
    ipw_arrow_field_free(schema);
}

/* ---- rows refused half way, rows that start the next batch ----------------------------------- */

static uint64_t rnd(uint64_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return *r;
}

/* Sets o[key] to v, most often as o's last member (so that the row's other values come first). */
static void set_member(json_t *o, const char *key, json_t *v, uint64_t *r)
{
    if (rnd(r) % 4)
        json_object_del(o, key);
    json_object_set_new(o, key, v);
}

/* A row for nested_schema(): each value absent, null or present at random. */
static json_t *random_row(uint64_t *r)
{
    json_t *o = json_object(), *a = json_object(), *b = json_object(), *c = json_object();
    char s[24];
    snprintf(s, sizeof s, "%.*s", (int)(rnd(r) % 20), "abcdefghijklmnopqrstuvwxyz");
    json_t *vals[] = {json_string(s), json_integer((json_int_t)(rnd(r) % 1000) - 500),
                      json_real((double)(rnd(r) % 1000) / 8), json_boolean(rnd(r) % 2)};
    const char *keys[] = {"s", "i", "f", "b"};
    for (int k = 0; k < 4; k++) {
        int pick = (int)(rnd(r) % 6);
        if (pick == 0)
            json_decref(vals[k]);
        else
            set_member(o, keys[k], pick == 1 ? (json_decref(vals[k]), json_null()) : vals[k], r);
    }
    if (rnd(r) % 3 == 0)
        set_member(o, "n", json_null(), r);
    json_object_set_new(c, "deep", rnd(r) % 4 ? json_integer((json_int_t)rnd(r) % 99) : json_null());
    if (rnd(r) % 3)
        json_object_set_new(c, "ok", json_boolean(rnd(r) % 2));
    if (rnd(r) % 4)
        json_object_set_new(b, "name", json_string(s + (s[0] ? 1 : 0)));
    int pick = (int)(rnd(r) % 4);
    if (pick)
        json_object_set_new(b, "c", pick == 1 ? json_null() : json_incref(c));
    json_object_set_new(a, "x", rnd(r) % 3 ? json_real((double)(rnd(r) % 77)) : json_null());
    pick = (int)(rnd(r) % 4);
    if (pick)
        set_member(a, "b", pick == 1 ? json_null() : json_incref(b), r);
    if (rnd(r) % 2)
        json_object_set_new(a, "empty", json_object());
    pick = (int)(rnd(r) % 5);
    if (pick)
        set_member(o, "a", pick == 1 ? json_null() : json_incref(a), r);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    return o;
}

/* A row like random_row's with one value of the wrong type, placed at random depth. */
static json_t *refused_row(uint64_t *r)
{
    static const char *const bad[] = {
        "{\"s\":5}",         "{\"i\":\"x\"}",      "{\"i\":2.5}",           "{\"f\":\"1\"}",
        "{\"b\":0}",         "{\"n\":1}",          "{\"a\":[1]}",           "{\"a\":{\"x\":true}}",
        "{\"a\":{\"b\":\"s\"}}", "{\"a\":{\"b\":{\"name\":3}}}", "{\"a\":{\"empty\":5}}",
        "{\"a\":{\"b\":{\"c\":{\"deep\":1e30}}}}", "{\"a\":{\"b\":{\"c\":{\"ok\":\"true\"}}}}"};
    json_t *row = random_row(r), *patch = jload(bad[rnd(r) % (sizeof bad / sizeof *bad)]);
    /* merge the patch in: its objects are created where the row lacks them */
    json_t *dst = row, *src = patch;
    for (;;) {
        const char *k = json_object_iter_key(json_object_iter(src));
        json_t *v = json_object_get(src, k), *have = json_object_get(dst, k);
        if (!json_is_object(v) || !json_object_size(v)) {
            set_member(dst, k, json_incref(v), r);
            break;
        }
        if (!json_is_object(have)) {
            have = json_object();
            set_member(dst, k, have, r);
        }
        dst = have;
        src = v;
    }
    json_decref(patch);
    return row;
}

/* A row refused half way (some of its values already appended to their columns) must leave the
 * stream exactly as if it had never been offered: same bytes, batches, validity bitmaps and
 * null counts, wherever in a batch it falls. */
static void test_refused_rows_leave_no_trace(void **state)
{
    (void)state;
    struct ipw_arrow_field *schema = nested_schema();
    struct ipw_arrow_writer_options opt = {.batch_rows = 13};
    struct ipw_arrow_mem plain = {0}, offered = {0};
    struct ipw_arrow_writer *wp, *wo;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_arrow_writer_new(schema, NULL, &opt, ipw_arrow_mem_sink, &plain, &wp, &eb),
                     IPW_OK);
    assert_int_equal(
        ipw_arrow_writer_new(schema, NULL, &opt, ipw_arrow_mem_sink, &offered, &wo, &eb), IPW_OK);
    uint64_t r = 0x9E3779B97F4A7C15ull;
    int refused = 0;
    for (int i = 0; i < 400; i++) {
        while (rnd(&r) % 3 == 0) {
            json_t *bad = refused_row(&r);
            if (ipw_arrow_writer_append(wo, bad, &eb) != IPW_E_INVALID) {
                char *t = json_dumps(bad, JSON_COMPACT);
                fail_msg("row not refused: %s", t);
            }
            assert_non_null(strstr(eb.msg, "Arrow column"));
            json_decref(bad);
            refused++;
        }
        json_t *row = random_row(&r);
        assert_int_equal(ipw_arrow_writer_append(wp, row, &eb), IPW_OK);
        assert_int_equal(ipw_arrow_writer_append(wo, row, &eb), IPW_OK);
        json_decref(row);
    }
    assert_true(refused > 100);
    assert_int_equal(ipw_arrow_writer_finish(wp, &eb), IPW_OK);
    assert_int_equal(ipw_arrow_writer_finish(wo, &eb), IPW_OK);
    assert_int_equal(offered.len, plain.len);
    assert_memory_equal(offered.data, plain.data, plain.len);
    json_t *got = read_back(&plain, IPW_OK);
    assert_int_equal(json_array_size(json_object_get(got, "rows")), 400);
    json_decref(got);
    ipw_arrow_writer_free(wp);
    ipw_arrow_writer_free(wo);
    free(plain.data);
    free(offered.data);
    ipw_arrow_field_free(schema);
}

/* {k: int, v: utf8, st: {b: bool}}: the schema of the batching tests. */
static struct ipw_arrow_field *kv_schema(void)
{
    struct ipw_arrow_field *s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(s, "k", IPW_ARROW_INT);
    ipw_arrow_field_add(s, "v", IPW_ARROW_UTF8);
    struct ipw_arrow_field *st = ipw_arrow_field_add(s, "st", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(st, "b", IPW_ARROW_BOOL);
    return s;
}

/* batch_bytes: a row that would take the buffered batch past the bound starts the next batch.
 * A row counts 8 bytes per column it reaches (the children of a null struct are not reached)
 * plus its strings' bytes; a batch is also emitted as soon as it reaches the bound. */
static void test_batch_bytes(void **state)
{
    (void)state;
    struct ipw_arrow_field *s = kv_schema();
    const size_t bound = 200;
    struct ipw_arrow_writer_options opt = {.batch_rows = 1000, .batch_bytes = bound};
    struct ipw_arrow_mem m = {0};
    struct ipw_arrow_writer *w;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_arrow_writer_new(s, NULL, &opt, ipw_arrow_mem_sink, &m, &w, &eb), IPW_OK);
    json_t *want = json_array(); /* the batch sizes the rule gives */
    size_t buf = 0, rows = 0;
    const int n = 500;
    for (int i = 0; i < n; i++) {
        size_t len = i % 50 == 7 ? 300 : (size_t)(i * 37) % 90;
        char *v = malloc(len + 1);
        memset(v, 'a' + i % 26, len);
        v[len] = '\0';
        json_t *row = json_pack("{s:i, s:s}", "k", i, "v", v);
        bool has_st = i % 3 != 0;
        if (has_st)
            json_object_set_new(row, "st", json_pack("{s:b}", "b", i % 2));
        if (i % 11 == 0) {
            json_object_set_new(row, "v", json_null());
            len = 0;
        }
        free(v);
        size_t bytes = 3 * 8 + (has_st ? 8 : 0) + len;
        if (rows && buf + bytes > bound) {
            json_array_append_new(want, json_integer((json_int_t)rows));
            buf = rows = 0;
        }
        buf += bytes;
        rows++;
        if (buf >= bound) {
            json_array_append_new(want, json_integer((json_int_t)rows));
            buf = rows = 0;
        }
        assert_int_equal(ipw_arrow_writer_append(w, row, &eb), IPW_OK);
        json_decref(row);
    }
    if (rows)
        json_array_append_new(want, json_integer((json_int_t)rows));
    assert_int_equal(ipw_arrow_writer_finish(w, &eb), IPW_OK);
    ipw_arrow_writer_free(w);

    struct ipw_arrow_reader *r;
    assert_int_equal(ipw_arrow_reader_open(m.data, m.len, NULL, &r, &eb), IPW_OK);
    json_t *got = json_array();
    int k = 0;
    for (;;) {
        struct ipw_arrow_batch *b;
        assert_int_equal(ipw_arrow_reader_next(r, &b, &eb), IPW_OK);
        if (!b)
            break;
        json_array_append_new(got, json_integer(ipw_arrow_batch_rows(b)));
        for (int64_t i = 0; i < ipw_arrow_batch_rows(b); i++, k++) {
            json_t *row;
            assert_int_equal(ipw_arrow_batch_row(b, i, &row, &eb), IPW_OK);
            assert_int_equal(json_integer_value(json_object_get(row, "k")), k);
            const char *v = json_string_value(json_object_get(row, "v"));
            if (k % 11 == 0)
                assert_null(v);
            else
                assert_int_equal(strlen(v), k % 50 == 7 ? 300 : (k * 37) % 90);
            assert_int_equal(json_is_null(json_object_get(row, "st")), k % 3 == 0);
            json_decref(row);
        }
        ipw_arrow_batch_free(b);
    }
    ipw_arrow_reader_free(r);
    assert_int_equal(k, n);
    assert_true(json_array_size(want) > 50);
    assert_json_eq(got, want);
    json_decref(got);
    json_decref(want);
    free(m.data);
    ipw_arrow_field_free(s);
}

static void test_zero_rows_and_markers(void **state)
{
    (void)state;
    struct ipw_arrow_field *schema = nested_schema();
    struct ipw_arrow_mem m;
    json_t *rows = json_array();
    write_rows(schema, NULL, rows, 0, &m);
    assert_true(m.len >= 16);
    static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    assert_memory_equal(m.data, eos, 4);
    assert_memory_equal(m.data + m.len - 8, eos, 8);
    ipw_errbuf eb = {0};
    struct ipw_arrow_reader *r;
    assert_int_equal(ipw_arrow_reader_open(m.data, m.len, NULL, &r, &eb), IPW_OK);
    assert_true(ipw_arrow_field_equal(ipw_arrow_reader_schema(r), schema));
    assert_int_equal(json_object_size(ipw_arrow_reader_metadata(r)), 0);
    struct ipw_arrow_batch *b;
    assert_int_equal(ipw_arrow_reader_next(r, &b, &eb), IPW_OK);
    assert_null(b);
    assert_true(ipw_arrow_reader_saw_eos(r));
    ipw_arrow_reader_free(r);
    /* an explicit flush with nothing buffered writes no empty batch */
    json_decref(rows);
    free(m.data);
    /* a schema without columns is legal too */
    struct ipw_arrow_field *none = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    rows = json_array();
    json_array_append_new(rows, json_object());
    write_rows(none, NULL, rows, 0, &m);
    json_t *got = read_back(&m, IPW_OK);
    assert_int_equal(json_array_size(json_object_get(got, "rows")), 1);
    json_decref(got);
    json_decref(rows);
    free(m.data);
    ipw_arrow_field_free(none);
    ipw_arrow_field_free(schema);
}

static void test_many_batches(void **state)
{
    (void)state;
    struct ipw_arrow_field *s = kv_schema();
    ipw_errbuf eb = {0};
    struct ipw_arrow_mem m = {0};
    struct ipw_arrow_writer *w;
    struct ipw_arrow_writer_options opt = {.batch_rows = 7};
    assert_int_equal(ipw_arrow_writer_new(s, NULL, &opt, ipw_arrow_mem_sink, &m, &w, &eb), IPW_OK);
    const int n = 10007;
    for (int i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%d", i);
        json_t *row = json_pack("{s:i, s:s, s:{s:b}}", "k", i, "v", v, "st", "b", i % 3 == 0);
        if (i % 5 == 0)
            json_object_set_new(row, "v", json_null());
        assert_int_equal(ipw_arrow_writer_append(w, row, &eb), IPW_OK);
        json_decref(row);
    }
    assert_int_equal(ipw_arrow_writer_finish(w, &eb), IPW_OK);
    struct ipw_arrow_writer_stats ws;
    ipw_arrow_writer_stats(w, &ws);
    assert_int_equal(ws.rows, n);
    assert_int_equal(ws.batches, (n + 6) / 7);
    assert_int_equal(ws.bytes, m.len);
    /* the writer refuses rows after finishing */
    json_t *late = json_object();
    assert_int_equal(ipw_arrow_writer_append(w, late, &eb), IPW_E_INVALID);
    json_decref(late);
    ipw_arrow_writer_free(w);

    struct ipw_arrow_reader *r;
    assert_int_equal(ipw_arrow_reader_open(m.data, m.len, NULL, &r, &eb), IPW_OK);
    int seen = 0, batches = 0;
    for (;;) {
        struct ipw_arrow_batch *b;
        assert_int_equal(ipw_arrow_reader_next(r, &b, &eb), IPW_OK);
        if (!b)
            break;
        batches++;
        for (int64_t i = 0; i < ipw_arrow_batch_rows(b); i++, seen++) {
            json_t *row;
            assert_int_equal(ipw_arrow_batch_row(b, i, &row, &eb), IPW_OK);
            assert_int_equal(json_integer_value(json_object_get(row, "k")), seen);
            if (seen % 5 == 0)
                assert_true(json_is_null(json_object_get(row, "v")));
            else
                assert_int_equal(atoi(json_string_value(json_object_get(row, "v")) + 1), seen);
            assert_int_equal(json_is_true(json_object_get(json_object_get(row, "st"), "b")),
                             seen % 3 == 0);
            json_decref(row);
        }
        json_t *x;
        assert_int_equal(ipw_arrow_batch_row(b, ipw_arrow_batch_rows(b), &x, &eb), IPW_E_RANGE);
        ipw_arrow_batch_free(b);
    }
    assert_int_equal(seen, n);
    assert_int_equal(batches, (n + 6) / 7);
    ipw_arrow_reader_free(r);
    free(m.data);
    ipw_arrow_field_free(s);
}

/* Walks a stream with the flatbuffer reader and checks the framing and every buffer's alignment. */
static void test_alignment(void **state)
{
    (void)state;
    struct ipw_arrow_field *schema = nested_schema();
    json_t *rows = json_array();
    for (int i = 0; i < 50; i++) {
        char s[64];
        snprintf(s, sizeof s, "%.*s", i % 13, "abcdefghijklmnop"); /* odd lengths */
        json_array_append_new(rows, json_pack("{s:s, s:i, s:{s:{s:s}}}", "s", s, "i", i, "a",
                                              "b", "name", s + (i % 3)));
        if (i % 4 == 0)
            json_object_set_new(json_array_get(rows, (size_t)i), "b", json_boolean(i % 8 == 0));
    }
    struct ipw_arrow_mem m;
    write_rows(schema, NULL, rows, 9, &m);
    size_t pos = 0, messages = 0, buffers = 0;
    for (;;) {
        assert_int_equal(pos % 8, 0);
        assert_true(pos + 8 <= m.len);
        assert_int_equal(fb_rd32(m.data + pos), ARROW_CONTINUATION);
        uint32_t len = fb_rd32(m.data + pos + 4);
        if (len == 0) {
            pos += 8;
            break;
        }
        assert_int_equal(len % 8, 0);
        struct fb_table msg, hdr;
        assert_int_equal(fb_root(m.data + pos + 8, len, &msg), 1);
        int16_t version;
        uint8_t type;
        int64_t body;
        fb_i16(&msg, MESSAGE_VERSION, 0, &version);
        fb_u8(&msg, MESSAGE_HEADER_TYPE, 0, &type);
        fb_i64(&msg, MESSAGE_BODY_LENGTH, -1, &body);
        assert_int_equal(version, ARROW_V5);
        assert_int_equal(body % 8, 0);
        assert_int_equal(fb_table(&msg, MESSAGE_HEADER, &hdr), 1);
        size_t body_at = pos + 8 + len;
        if (messages == 0) {
            assert_int_equal(type, ARROW_MSG_SCHEMA);
        } else {
            assert_int_equal(type, ARROW_MSG_RECORD_BATCH);
            struct fb_vec bufs;
            assert_int_equal(fb_vector(&hdr, BATCH_BUFFERS, 16, 8, &bufs), 1);
            for (uint32_t i = 0; i < bufs.n; i++) {
                int64_t off = (int64_t)fb_rd64(fb_vec_elem(&bufs, i));
                int64_t bl = (int64_t)fb_rd64(fb_vec_elem(&bufs, i) + 8);
                assert_int_equal((body_at + (size_t)off) % 8, 0);
                assert_true(off + bl <= body);
                buffers++;
            }
        }
        messages++;
        pos = body_at + (size_t)body;
    }
    assert_int_equal(pos, m.len);
    assert_int_equal(messages, 1 + 6);
    assert_true(buffers > 0);
    json_decref(rows);
    free(m.data);
    ipw_arrow_field_free(schema);
}

static void test_writer_refuses(void **state)
{
    (void)state;
    struct ipw_arrow_field *s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(s, "i", IPW_ARROW_INT);
    struct ipw_arrow_field *st = ipw_arrow_field_add(s, "st", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(st, "f", IPW_ARROW_FLOAT);
    ipw_arrow_field_add(s, "n", IPW_ARROW_NULL);
    ipw_errbuf eb = {0};
    struct ipw_arrow_mem m = {0};
    struct ipw_arrow_writer *w;
    assert_int_equal(ipw_arrow_writer_new(s, NULL, NULL, ipw_arrow_mem_sink, &m, &w, &eb), IPW_OK);
    const char *bad[] = {"{\"i\":\"12\"}", "{\"i\":3.5}", "{\"i\":1e30}", "{\"st\":[1]}",
                         "{\"st\":{\"f\":\"x\"}}", "{\"n\":0}", "{\"st\":{\"f\":true}}"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        json_t *r = jload(bad[k]);
        assert_int_equal(ipw_arrow_writer_append(w, r, &eb), IPW_E_INVALID);
        assert_non_null(strstr(eb.msg, "Arrow column"));
        json_decref(r);
    }
    assert_non_null(strstr(eb.msg, "st.f"));
    json_t *arr = json_array();
    assert_int_equal(ipw_arrow_writer_append(w, arr, &eb), IPW_E_INVALID);
    json_decref(arr);
    json_t *ok = jload("{\"i\":2,\"st\":{\"f\":1}}");
    assert_int_equal(ipw_arrow_writer_append(w, ok, &eb), IPW_OK);
    json_decref(ok);
    assert_int_equal(ipw_arrow_writer_finish(w, &eb), IPW_OK);
    ipw_arrow_writer_free(w);
    json_t *got = read_back(&m, IPW_OK);
    /* refused rows left nothing behind */
    json_t *want = jload("[{\"i\":2,\"st\":{\"f\":1.0},\"n\":null}]");
    assert_json_eq(json_object_get(got, "rows"), want);
    json_decref(want);
    json_decref(got);
    free(m.data);
    memset(&m, 0, sizeof m);

    /* types the writer does not write; metadata must hold strings */
    struct ipw_arrow_field *l = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    struct ipw_arrow_field *lst = ipw_arrow_field_add(l, "l", IPW_ARROW_LIST);
    ipw_arrow_field_add(lst, "item", IPW_ARROW_INT);
    assert_int_equal(ipw_arrow_writer_new(l, NULL, NULL, ipw_arrow_mem_sink, &m, &w, &eb),
                     IPW_E_UNSUPPORTED);
    json_t *md = json_pack("{s:i}", "k", 1);
    assert_int_equal(ipw_arrow_writer_new(s, md, NULL, ipw_arrow_mem_sink, &m, &w, &eb),
                     IPW_E_INVALID);
    json_decref(md);
    assert_int_equal(ipw_arrow_writer_new(lst, NULL, NULL, ipw_arrow_mem_sink, &m, &w, &eb),
                     IPW_E_INVALID);
    free(m.data);
    /* a sink that fails leaves the writer refusing further work */
    struct ipw_arrow_mem tiny = {.max = 64};
    assert_int_equal(ipw_arrow_writer_new(s, NULL, NULL, ipw_arrow_mem_sink, &tiny, &w, &eb),
                     IPW_E_NOMEM);
    free(tiny.data);
    ipw_arrow_field_free(l);
    ipw_arrow_field_free(s);
}

/* ---- streams crafted by hand: reader-only types and hostile inputs ----------------------------- */

static uint32_t craft_field(struct fbb *b, const struct ipw_arrow_field *f, int dict)
{
    uint32_t kids[8];
    for (size_t i = 0; i < f->n_children; i++)
        kids[i] = craft_field(b, f->children[i], 0);
    uint32_t children = fbb_offset_vector(b, kids, f->n_children);
    uint32_t name = fbb_string(b, f->name, strlen(f->name));
    uint8_t tag = 0;
    fbb_table_start(b);
    switch (f->type) {
    case IPW_ARROW_NULL: tag = ARROW_T_NULL; break;
    case IPW_ARROW_BOOL: tag = ARROW_T_BOOL; break;
    case IPW_ARROW_UTF8: tag = ARROW_T_UTF8; break;
    case IPW_ARROW_LARGE_UTF8: tag = ARROW_T_LARGE_UTF8; break;
    case IPW_ARROW_STRUCT: tag = ARROW_T_STRUCT; break;
    case IPW_ARROW_LIST: tag = ARROW_T_LIST; break;
    case IPW_ARROW_LARGE_LIST: tag = ARROW_T_LARGE_LIST; break;
    case IPW_ARROW_INT:
        tag = ARROW_T_INT;
        fbb_add_i32(b, INT_BIT_WIDTH, f->bit_width);
        fbb_add_u8(b, INT_IS_SIGNED, f->is_signed);
        break;
    case IPW_ARROW_FLOAT:
        tag = ARROW_T_FLOATING_POINT;
        fbb_add_i16(b, FLOATING_PRECISION,
                    f->bit_width == 16 ? ARROW_HALF : f->bit_width == 32 ? ARROW_SINGLE
                                                                         : ARROW_DOUBLE);
        break;
    }
    uint32_t type = fbb_table_end(b);
    uint32_t dictionary = 0;
    if (dict) {
        fbb_table_start(b);
        fbb_add_i64(b, 0, 1);
        dictionary = fbb_table_end(b);
    }
    fbb_table_start(b);
    fbb_add_offset(b, FIELD_NAME, name);
    fbb_add_u8(b, FIELD_NULLABLE, 1);
    fbb_add_u8(b, FIELD_TYPE_TYPE, tag);
    fbb_add_offset(b, FIELD_TYPE, type);
    if (dictionary)
        fbb_add_offset(b, FIELD_DICTIONARY, dictionary);
    fbb_add_offset(b, FIELD_CHILDREN, children);
    return fbb_table_end(b);
}

static void put_message(struct ipw_arrow_mem *m, struct fbb *b, uint8_t type, uint32_t header,
                        int64_t body_len, int16_t version)
{
    fbb_table_start(b);
    fbb_add_i64(b, MESSAGE_BODY_LENGTH, body_len);
    fbb_add_offset(b, MESSAGE_HEADER, header);
    fbb_add_i16(b, MESSAGE_VERSION, version);
    fbb_add_u8(b, MESSAGE_HEADER_TYPE, type);
    uint32_t root = fbb_table_end(b);
    const uint8_t *fb;
    size_t len;
    assert_true(fbb_finish(b, root, &fb, &len));
    uint8_t prefix[8];
    fb_wr32(prefix, ARROW_CONTINUATION);
    fb_wr32(prefix + 4, (uint32_t)len);
    ipw_arrow_mem_sink(m, prefix, 8, NULL);
    ipw_arrow_mem_sink(m, fb, len, NULL);
}

static void craft_schema(struct ipw_arrow_mem *m, const struct ipw_arrow_field *schema, int dict,
                         int16_t endianness)
{
    struct fbb b;
    fbb_init(&b, 0);
    uint32_t cols[16];
    for (size_t i = 0; i < schema->n_children; i++)
        cols[i] = craft_field(&b, schema->children[i], dict);
    uint32_t fields = fbb_offset_vector(&b, cols, schema->n_children);
    fbb_table_start(&b);
    fbb_add_i16(&b, SCHEMA_ENDIANNESS, endianness);
    fbb_add_offset(&b, SCHEMA_FIELDS, fields);
    uint32_t sch = fbb_table_end(&b);
    put_message(m, &b, ARROW_MSG_SCHEMA, sch, 0, ARROW_V5);
    fbb_free(&b);
}

/* nodes: (length, null_count) pairs; bufs: (offset, length) pairs. */
static void craft_batch(struct ipw_arrow_mem *m, int64_t length, const int64_t *nodes, size_t nn,
                        const int64_t *bufs, size_t nb, const void *body, size_t body_len,
                        int compressed)
{
    struct fbb b;
    fbb_init(&b, 0);
    uint8_t raw[16 * 32];
    for (size_t i = 0; i < 2 * nn; i++)
        fb_wr64(raw + 8 * i, (uint64_t)nodes[i]);
    uint32_t nv = fbb_vector(&b, raw, nn, 16, 8);
    for (size_t i = 0; i < 2 * nb; i++)
        fb_wr64(raw + 8 * i, (uint64_t)bufs[i]);
    uint32_t bv = fbb_vector(&b, raw, nb, 16, 8);
    uint32_t comp = 0;
    if (compressed) {
        fbb_table_start(&b);
        fbb_add_u8(&b, 0, 1);
        comp = fbb_table_end(&b);
    }
    fbb_table_start(&b);
    fbb_add_i64(&b, BATCH_LENGTH, length);
    fbb_add_offset(&b, BATCH_NODES, nv);
    fbb_add_offset(&b, BATCH_BUFFERS, bv);
    if (comp)
        fbb_add_offset(&b, BATCH_COMPRESSION, comp);
    uint32_t hdr = fbb_table_end(&b);
    put_message(m, &b, ARROW_MSG_RECORD_BATCH, hdr, (int64_t)body_len, ARROW_V5);
    ipw_arrow_mem_sink(m, body, body_len, NULL);
    fbb_free(&b);
}

static void craft_eos(struct ipw_arrow_mem *m)
{
    static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    ipw_arrow_mem_sink(m, eos, 8, NULL);
}

/* list<utf8>, int32, uint8, float32, float16, large_utf8: what pyarrow writes for HF datasets. */
static struct ipw_arrow_field *foreign_schema(void)
{
    struct ipw_arrow_field *s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    struct ipw_arrow_field *l = ipw_arrow_field_add(s, "options", IPW_ARROW_LIST);
    ipw_arrow_field_add(l, "item", IPW_ARROW_UTF8);
    struct ipw_arrow_field *i32 = ipw_arrow_field_add(s, "i32", IPW_ARROW_INT);
    i32->bit_width = 32;
    struct ipw_arrow_field *u8 = ipw_arrow_field_add(s, "u8", IPW_ARROW_INT);
    u8->bit_width = 8;
    u8->is_signed = false;
    struct ipw_arrow_field *f32 = ipw_arrow_field_add(s, "f32", IPW_ARROW_FLOAT);
    f32->bit_width = 32;
    struct ipw_arrow_field *f16 = ipw_arrow_field_add(s, "f16", IPW_ARROW_FLOAT);
    f16->bit_width = 16;
    ipw_arrow_field_add(s, "ls", IPW_ARROW_LARGE_UTF8);
    return s;
}

/* Two rows: options [["a","bc"], null], i32 [-5, 7], u8 [255, null], f32 [1.5, -2],
 * f16 [1.0, -0.5], ls ["x", ""]. Returns the body; sets nodes and buffers. */
static size_t foreign_body(uint8_t *body, int64_t *nodes, int64_t *bufs)
{
    memset(body, 0, 256);
    size_t at = 0, nb = 0;
#define BUF(len)                                                                               \
    do {                                                                                       \
        bufs[2 * nb] = (int64_t)at;                                                            \
        bufs[2 * nb + 1] = (len);                                                              \
        nb++;                                                                                  \
        at += ((size_t)(len) + 7) & ~(size_t)7;                                                \
    } while (0)
    /* options: validity 0b01, offsets [0,2,2], child utf8: no nulls, offsets [0,1,3], "abc" */
    body[at] = 0x01;
    BUF(1);
    fb_wr32(body + at, 0), fb_wr32(body + at + 4, 2), fb_wr32(body + at + 8, 2);
    BUF(12);
    BUF(0);
    fb_wr32(body + at, 0), fb_wr32(body + at + 4, 1), fb_wr32(body + at + 8, 3);
    BUF(12);
    memcpy(body + at, "abc", 3);
    BUF(3);
    /* i32 */
    BUF(0);
    fb_wr32(body + at, (uint32_t)-5), fb_wr32(body + at + 4, 7);
    BUF(8);
    /* u8: validity 0b01 */
    body[at] = 0x01;
    BUF(1);
    body[at] = 255;
    BUF(2);
    /* f32 */
    BUF(0);
    float fa[2] = {1.5f, -2.0f};
    memcpy(body + at, fa, 8);
    BUF(8);
    /* f16: 1.0 = 0x3C00, -0.5 = 0xB800 */
    BUF(0);
    body[at] = 0x00, body[at + 1] = 0x3C, body[at + 2] = 0x00, body[at + 3] = 0xB8;
    BUF(4);
    /* large utf8 */
    BUF(0);
    fb_wr64(body + at, 0), fb_wr64(body + at + 8, 1), fb_wr64(body + at + 16, 1);
    BUF(24);
    body[at] = 'x';
    BUF(1);
#undef BUF
    int64_t n[] = {2, 1, 2, 0, 2, 0, 2, 1, 2, 0, 2, 0, 2, 0};
    memcpy(nodes, n, sizeof n);
    return at;
}

static void test_reader_foreign_types(void **state)
{
    (void)state;
    struct ipw_arrow_field *s = foreign_schema();
    uint8_t body[256];
    int64_t nodes[14], bufs[2 * 16];
    size_t body_len = foreign_body(body, nodes, bufs);
    struct ipw_arrow_mem m = {0};
    craft_schema(&m, s, 0, 0);
    craft_batch(&m, 2, nodes, 7, bufs, 16, body, body_len, 0);
    craft_eos(&m);
    json_t *got = read_back(&m, IPW_OK);
    json_t *want = jload("[{\"options\":[\"a\",\"bc\"],\"i32\":-5,\"u8\":255,\"f32\":1.5,"
                         "\"f16\":1.0,\"ls\":\"x\"},{\"options\":null,\"i32\":7,\"u8\":null,"
                         "\"f32\":-2.0,\"f16\":-0.5,\"ls\":\"\"}]");
    assert_json_eq(json_object_get(got, "rows"), want);
    json_decref(want);
    json_decref(got);

    /* the same stream inside the IPC file format */
    struct ipw_arrow_mem f = {0};
    ipw_arrow_mem_sink(&f, "ARROW1\0\0", 8, NULL);
    ipw_arrow_mem_sink(&f, m.data, m.len, NULL);
    uint8_t footer[12] = {1, 2, 3, 4, 5, 6, 7, 8};
    fb_wr32(footer + 8, 8);
    ipw_arrow_mem_sink(&f, footer, 12, NULL);
    ipw_arrow_mem_sink(&f, "ARROW1", 6, NULL);
    got = read_back(&f, IPW_OK);
    assert_int_equal(json_array_size(json_object_get(got, "rows")), 2);
    /* IPW_ARROW_CORPUS_OUT=fuzz/corpus/arrow_reader regenerates these two fuzz seeds */
    const char *seed_dir = getenv("IPW_ARROW_CORPUS_OUT");
    if (seed_dir) {
        char p[4096];
        snprintf(p, sizeof p, "%s/foreign_types.arrow", seed_dir);
        FILE *out = fopen(p, "wb");
        fwrite(m.data, 1, m.len, out);
        fclose(out);
        snprintf(p, sizeof p, "%s/file_format.arrow", seed_dir);
        out = fopen(p, "wb");
        fwrite(f.data, 1, f.len, out);
        fclose(out);
    }
    json_decref(got);
    free(f.data);
    free(m.data);
    ipw_arrow_field_free(s);
}

static ipw_err read_status(const struct ipw_arrow_mem *m, ipw_errbuf *eb)
{
    json_t *out = NULL;
    struct ipw_arrow_read_limits lim = {.max_batch_rows = 1000, .max_cells = 100000};
    ipw_err e = ipw_arrow_read_json(m->data, m->len, &lim, &out, eb);
    json_decref(out);
    return e;
}

/* One batch of the foreign schema with a single corruption applied. */
static ipw_err foreign_with(void (*mutate)(uint8_t *, int64_t *, int64_t *, int64_t *),
                            ipw_errbuf *eb)
{
    struct ipw_arrow_field *s = foreign_schema();
    uint8_t body[256];
    int64_t nodes[14], bufs[32], length = 2;
    size_t body_len = foreign_body(body, nodes, bufs);
    mutate(body, nodes, bufs, &length);
    struct ipw_arrow_mem m = {0};
    craft_schema(&m, s, 0, 0);
    craft_batch(&m, length, nodes, 7, bufs, 16, body, body_len, 0);
    craft_eos(&m);
    ipw_err e = read_status(&m, eb);
    free(m.data);
    ipw_arrow_field_free(s);
    return e;
}

static void m_null_count(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { n[1] = 3; }
static void m_null_mismatch(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { n[1] = 0; }
static void m_offsets_down(uint8_t *b, int64_t *n, int64_t *f, int64_t *l)
{
    fb_wr32(b + f[2 * 3] + 4, 5); /* child utf8 offsets [0,5,3] */
}
static void m_offsets_past(uint8_t *b, int64_t *n, int64_t *f, int64_t *l)
{
    fb_wr32(b + f[2 * 3] + 8, 4); /* past the 3 data bytes */
}
static void m_bad_utf8(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { b[f[2 * 4] + 1] = 0xC0; }
static void m_unaligned(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { f[2 * 6] += 4; }
static void m_past_body(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { f[2 * 6 + 1] = 4096; }
static void m_negative(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { f[2 * 6 + 1] = -8; }
static void m_short_values(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { f[2 * 6 + 1] = 4; }
static void m_batch_len(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { *l = 3; }
static void m_huge_len(uint8_t *b, int64_t *n, int64_t *f, int64_t *l)
{
    *l = INT64_MAX;
    n[0] = INT64_MAX;
}
static void m_list_child_short(uint8_t *b, int64_t *n, int64_t *f, int64_t *l)
{
    fb_wr32(b + f[2 * 1] + 8, 3); /* list offsets reach 3 but the child has 2 values */
    fb_wr32(b + f[2 * 1] + 4, 3);
}
static void m_negative_null(uint8_t *b, int64_t *n, int64_t *f, int64_t *l) { n[5] = -1; }

static void test_reader_rejects(void **state)
{
    (void)state;
    ipw_errbuf eb = {0};
    static const struct {
        void (*fn)(uint8_t *, int64_t *, int64_t *, int64_t *);
        const char *why;
    } cases[] = {
        {m_null_count, "null count"},         {m_null_mismatch, "disagrees"},
        {m_offsets_down, "offsets"},          {m_offsets_past, "offsets"},
        {m_bad_utf8, "UTF-8"},                {m_unaligned, "aligned"},
        {m_past_body, "outside"},             {m_negative, "outside"},
        {m_short_values, "shorter"},          {m_batch_len, "length differs"},
        {m_huge_len, "limit"},                {m_list_child_short, "offsets"},
        {m_negative_null, "null count"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ipw_errbuf_clear(&eb);
        ipw_err e = foreign_with(cases[i].fn, &eb);
        if (e == IPW_OK || !strstr(eb.msg, cases[i].why))
            fail_msg("case %zu (%s): %s: %s", i, cases[i].why, ipw_err_name(e), eb.msg);
    }

    struct ipw_arrow_field *s = foreign_schema();
    uint8_t body[256];
    int64_t nodes[14], bufs[32];
    size_t body_len = foreign_body(body, nodes, bufs);
    struct ipw_arrow_mem m = {0};
    /* fewer nodes, more buffers */
    craft_schema(&m, s, 0, 0);
    craft_batch(&m, 2, nodes, 6, bufs, 16, body, body_len, 0);
    assert_int_equal(read_status(&m, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "fewer field nodes"));
    m.len = 0;
    craft_schema(&m, s, 0, 0);
    int64_t more[34];
    memcpy(more, bufs, sizeof bufs);
    more[32] = 0, more[33] = 0;
    craft_batch(&m, 2, nodes, 7, more, 17, body, body_len, 0);
    assert_int_equal(read_status(&m, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "more field nodes or buffers"));
    /* compression, dictionaries, big-endian, another schema, no schema */
    m.len = 0;
    craft_schema(&m, s, 0, 0);
    craft_batch(&m, 2, nodes, 7, bufs, 16, body, body_len, 1);
    assert_int_equal(read_status(&m, &eb), IPW_E_UNSUPPORTED);
    assert_non_null(strstr(eb.msg, "compressed"));
    m.len = 0;
    craft_schema(&m, s, 1, 0);
    assert_int_equal(read_status(&m, &eb), IPW_E_UNSUPPORTED);
    assert_non_null(strstr(eb.msg, "dictionary"));
    m.len = 0;
    craft_schema(&m, s, 0, 1);
    assert_int_equal(read_status(&m, &eb), IPW_E_UNSUPPORTED);
    m.len = 0;
    craft_schema(&m, s, 0, 0);
    craft_schema(&m, s, 0, 0);
    assert_int_equal(read_status(&m, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "second Schema"));
    m.len = 0;
    craft_batch(&m, 2, nodes, 7, bufs, 16, body, body_len, 0);
    assert_int_equal(read_status(&m, &eb), IPW_E_INVALID);
    m.len = 0;
    assert_int_equal(read_status(&m, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "no schema"));

    /* framing: no continuation marker, unaligned or huge metadata length, truncation */
    uint8_t junk[16] = {0x10, 0, 0, 0, 1, 2, 3, 4};
    struct ipw_arrow_mem jm = {junk, 16, 16, 0};
    assert_int_equal(read_status(&jm, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "continuation"));
    fb_wr32(junk, ARROW_CONTINUATION);
    fb_wr32(junk + 4, 5);
    assert_int_equal(read_status(&jm, &eb), IPW_E_INVALID);
    fb_wr32(junk + 4, 0x7FFFFFF8);
    assert_int_equal(read_status(&jm, &eb), IPW_E_RANGE);
    fb_wr32(junk + 4, 8);
    assert_int_equal(read_status(&jm, &eb), IPW_E_INVALID);

    /* every truncation of a valid stream: an error or (at a message boundary) fewer rows */
    m.len = 0;
    craft_schema(&m, s, 0, 0);
    craft_batch(&m, 2, nodes, 7, bufs, 16, body, body_len, 0);
    craft_eos(&m);
    for (size_t cut = 0; cut < m.len; cut++) {
        struct ipw_arrow_mem t = {m.data, cut, cut, 0};
        read_status(&t, &eb);
    }
    /* every single-bit flip: never a crash (ASan checks the reads) */
    uint8_t *copy = malloc(m.len);
    for (size_t i = 0; i < m.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, m.data, m.len);
            copy[i] ^= (uint8_t)(1u << bit);
            struct ipw_arrow_mem t = {copy, m.len, m.len, 0};
            read_status(&t, &eb);
        }
    }
    free(copy);
    free(m.data);
    ipw_arrow_field_free(s);
}

static void test_reader_limits(void **state)
{
    (void)state;
    /* nesting deeper than the limit */
    struct ipw_arrow_field *s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    struct ipw_arrow_field *d = s;
    for (int i = 0; i < IPW_ARROW_MAX_DEPTH + 2; i++)
        d = ipw_arrow_field_add(d, "d", IPW_ARROW_STRUCT);
    struct ipw_arrow_mem m = {0};
    craft_schema(&m, s, 0, 0);
    ipw_errbuf eb = {0};
    assert_int_equal(read_status(&m, &eb), IPW_E_RANGE);
    assert_non_null(strstr(eb.msg, "deeper"));
    struct ipw_arrow_writer *w;
    assert_int_equal(ipw_arrow_writer_new(s, NULL, NULL, ipw_arrow_mem_sink, &m, &w, &eb),
                     IPW_E_RANGE);
    free(m.data);
    ipw_arrow_field_free(s);

    /* the JSON cell budget: a wide batch of nulls is refused, not expanded without bound */
    s = ipw_arrow_field_new("", IPW_ARROW_STRUCT);
    ipw_arrow_field_add(s, "n", IPW_ARROW_NULL);
    memset(&m, 0, sizeof m);
    craft_schema(&m, s, 0, 0);
    int64_t node[2] = {900, 900};
    craft_batch(&m, 900, node, 1, NULL, 0, NULL, 0, 0);
    json_t *out;
    struct ipw_arrow_read_limits lim = {.max_cells = 500};
    assert_int_equal(ipw_arrow_read_json(m.data, m.len, &lim, &out, &eb), IPW_E_RANGE);
    lim.max_cells = 0;
    assert_int_equal(ipw_arrow_read_json(m.data, m.len, &lim, &out, &eb), IPW_OK);
    assert_int_equal(json_array_size(json_object_get(out, "rows")), 900);
    assert_false(json_is_true(json_object_get(out, "eos")));
    json_decref(out);
    free(m.data);
    ipw_arrow_field_free(s);

    /* files: missing, empty, not a stream */
    char *dir = ipw_test_mkdtemp("ipw-arrow");
    char path[4096];
    snprintf(path, sizeof path, "%s/missing.arrow", dir);
    assert_int_equal(ipw_arrow_read_file_json(path, NULL, &out, &eb), IPW_E_NOTFOUND);
    ipw_test_write(dir, "empty.arrow", "");
    snprintf(path, sizeof path, "%s/empty.arrow", dir);
    assert_int_equal(ipw_arrow_read_file_json(path, NULL, &out, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "empty"));
    ipw_test_write(dir, "text.arrow", "{\"not\": \"arrow\"}\n");
    snprintf(path, sizeof path, "%s/text.arrow", dir);
    assert_int_equal(ipw_arrow_read_file_json(path, NULL, &out, &eb), IPW_E_INVALID);
    assert_non_null(strstr(eb.msg, "text.arrow"));
    ipw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatbuf_roundtrip),
        cmocka_unit_test(test_flatbuf_hostile),
        cmocka_unit_test(test_member_order_varies),
        cmocka_unit_test(test_roundtrip_nested_nulls),
        cmocka_unit_test(test_refused_rows_leave_no_trace),
        cmocka_unit_test(test_batch_bytes),
        cmocka_unit_test(test_zero_rows_and_markers),
        cmocka_unit_test(test_many_batches),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_writer_refuses),
        cmocka_unit_test(test_reader_foreign_types),
        cmocka_unit_test(test_reader_rejects),
        cmocka_unit_test(test_reader_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
