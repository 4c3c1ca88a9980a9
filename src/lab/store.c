/* The lab's SQLite store (SPEC §5.4): runs, batches and benchmarks, with a schema version
 * (PRAGMA user_version) and migrations, WAL so that the command line and the web page can
 * write at once, and a busy timeout. A database this code cannot safely use (read-only, locked,
 * from a newer ipw, not a database) is reported in one line and left exactly as it was: nothing
 * is written before those checks pass. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <sqlite3.h>

#include "ipw/clock.h"
#include "ipw/fsutil.h"
#include "ipw/jsonutil.h"
#include "ipw/lab.h"
#include "ipw/reading.h"
#include "store_schema.h"

struct ipw_lab_store {
    sqlite3 *db;
    sqlite3_stmt *insert_run; /* prepared once: a run is saved after every measurement */
    pthread_mutex_t insert_lock; /* the engine and a web page's thread may both save runs */
    char path[4096];
};

static const char *const schema_v1 =
    "CREATE TABLE batches(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, model TEXT, client TEXT,"
    " runs_planned INTEGER, started_at REAL, finished_at REAL, summary_json TEXT);"
    "CREATE TABLE benchmarks(name TEXT PRIMARY KEY, source TEXT, description TEXT,"
    " c_in REAL NOT NULL, c_out REAL NOT NULL, updated_at INTEGER);";

void ipw_lab_store_default_path(char *out, size_t size)
{
    const char *env = getenv("IPW_LAB_DB");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (env && *env)
        snprintf(out, size, "%s", env);
    else if (xdg && *xdg)
        snprintf(out, size, "%s/ipw/lab.db", xdg);
    else
        snprintf(out, size, "%s/.local/share/ipw/lab.db", home && *home ? home : ".");
}

const char *ipw_lab_store_path(const struct ipw_lab_store *s) { return s->path; }

static ipw_err sql_fail(struct ipw_lab_store *s, ipw_errbuf *eb, int rc, const char *what)
{
    int ext = sqlite3_extended_errcode(s->db);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return ipw_fail(eb, IPW_E_IO,
                        "lab database %s is locked by another process (%s); wait for it to "
                        "finish or use another --db",
                        s->path, what);
    if (rc == SQLITE_READONLY || ext == SQLITE_READONLY)
        return ipw_fail(eb, IPW_E_PERM,
                        "lab database %s is read-only (%s); make it and its directory writable "
                        "or use another --db",
                        s->path, what);
    return ipw_fail(eb, IPW_E_IO, "lab database %s: %s: %s", s->path, what,
                    sqlite3_errmsg(s->db));
}

static int exec(struct ipw_lab_store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

static const char *col_type(enum lab_col_kind k)
{
    return k == COL_REAL ? "REAL" : k == COL_TEXT ? "TEXT" : "INTEGER";
}

/* CREATE TABLE runs with the columns of schema version v. */
static char *runs_create_sql(int v)
{
    size_t cap = 4096;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t len = (size_t)snprintf(sql, cap,
                                  "CREATE TABLE runs(id INTEGER PRIMARY KEY, batch_id INTEGER, "
                                  "prompt_text TEXT");
    for (size_t i = 0; i < lab_n_run_cols && len < cap; i++)
        if (lab_run_cols[i].since <= v)
            len += (size_t)snprintf(sql + len, cap - len, ", %s %s", lab_run_cols[i].name,
                                    col_type(lab_run_cols[i].kind));
    if (len + 3 >= cap) {
        free(sql);
        return NULL;
    }
    strcat(sql, ");");
    return sql;
}

/* Creates the current schema in an empty database (from 0), or brings an older one up to
 * IPW_LAB_SCHEMA_VERSION by adding the columns each later version brought, in one transaction. */
static ipw_err migrate(struct ipw_lab_store *s, int from, ipw_errbuf *eb)
{
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "starting the schema migration");
    if (from == 0) {
        char *sql = runs_create_sql(IPW_LAB_SCHEMA_VERSION);
        rc = sql ? exec(s, schema_v1) : SQLITE_NOMEM;
        if (rc == SQLITE_OK)
            rc = exec(s, sql);
        free(sql);
    } else {
        for (size_t i = 0; i < lab_n_run_cols && rc == SQLITE_OK; i++) {
            if (lab_run_cols[i].since <= from)
                continue;
            char sql[256];
            snprintf(sql, sizeof sql, "ALTER TABLE runs ADD COLUMN %s %s", lab_run_cols[i].name,
                     col_type(lab_run_cols[i].kind));
            rc = exec(s, sql);
        }
    }
    if (rc == SQLITE_OK)
        rc = exec(s, "CREATE INDEX IF NOT EXISTS runs_batch ON runs(batch_id)");
    char ver[64];
    snprintf(ver, sizeof ver, "PRAGMA user_version=%d", IPW_LAB_SCHEMA_VERSION);
    if (rc == SQLITE_OK)
        rc = exec(s, ver);
    if (rc == SQLITE_OK)
        rc = exec(s, "COMMIT");
    if (rc != SQLITE_OK) {
        ipw_err e = sql_fail(s, eb, rc, "migrating the schema");
        exec(s, "ROLLBACK");
        return e;
    }
    return IPW_OK;
}

/* Checks that must pass before anything is written: writable file and directory. (Root passes
 * access() on any file, so sqlite's own read-only error is still handled below.) */
static ipw_err check_writable(const char *path, bool exists, ipw_errbuf *eb)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    if (exists && access(path, W_OK) != 0)
        return ipw_fail(eb, IPW_E_PERM,
                        "lab database %s is read-only (%s); make it writable or use another --db",
                        path, strerror(errno));
    if (access(dir[0] ? dir : "/", W_OK) != 0)
        return ipw_fail(eb, IPW_E_PERM,
                        "lab database %s: its directory is not writable (%s), and SQLite needs "
                        "to create its journal there; fix the permissions or use another --db",
                        path, strerror(errno));
    return IPW_OK;
}

ipw_err ipw_lab_store_open(const char *path, int busy_timeout_ms, struct ipw_lab_store **out,
                           ipw_errbuf *eb)
{
    *out = NULL;
    struct ipw_lab_store *s = calloc(1, sizeof *s);
    if (!s)
        return ipw_fail(eb, IPW_E_NOMEM, "out of memory opening the lab database");
    if (path && *path)
        snprintf(s->path, sizeof s->path, "%s", path);
    else
        ipw_lab_store_default_path(s->path, sizeof s->path);
    struct stat st;
    bool exists = stat(s->path, &st) == 0;
    ipw_err e = IPW_OK;
    if (!exists) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", s->path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            ipw_errbuf me = {0};
            if (ipw_mkdir_p(dir, &me) != IPW_OK) /* the message names the database, not a bare dir */
                e = ipw_fail(eb, me.code, "lab database %s: %s; give a --db PATH in a writable "
                             "directory", s->path, me.msg);
        }
    } else if (!S_ISREG(st.st_mode)) {
        e = ipw_fail(eb, IPW_E_INVALID, "lab database %s is not a regular file; give a file path "
                                        "with --db", s->path);
    }
    if (e == IPW_OK)
        e = check_writable(s->path, exists, eb);
    if (e != IPW_OK) {
        free(s);
        return e;
    }
    int rc = sqlite3_open_v2(s->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        e = ipw_fail(eb, IPW_E_IO, "cannot open lab database %s: %s", s->path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, busy_timeout_ms > 0 ? busy_timeout_ms : 5000);
    sqlite3_stmt *q = NULL;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (version < 0) {
        if (rc == SQLITE_NOTADB)
            e = ipw_fail(eb, IPW_E_INVALID,
                         "%s is not an SQLite database (left untouched); give another --db",
                         s->path);
        else
            e = sql_fail(s, eb, rc, "reading the schema version");
        goto fail;
    }
    if (version > IPW_LAB_SCHEMA_VERSION) {
        e = ipw_fail(eb, IPW_E_UNSUPPORTED,
                     "lab database %s has schema version %d, newer than this ipw's %d (left "
                     "untouched); upgrade ipw or use another --db",
                     s->path, version, IPW_LAB_SCHEMA_VERSION);
        goto fail;
    }
    /* WAL lets the web page read while a batch writes; it persists in the file */
    rc = exec(s, "PRAGMA journal_mode=WAL");
    if (rc != SQLITE_OK) {
        e = sql_fail(s, eb, rc, "switching to WAL");
        goto fail;
    }
    /* NORMAL in WAL mode: a committed run survives the process being killed (the OS has it);
     * only a power cut can lose the last commits. FULL would fsync every run. */
    exec(s, "PRAGMA synchronous=NORMAL");
    if (version < IPW_LAB_SCHEMA_VERSION && (e = migrate(s, version, eb)) != IPW_OK)
        goto fail;
    pthread_mutex_init(&s->insert_lock, NULL);
    *out = s;
    return IPW_OK;
fail:
    sqlite3_close(s->db);
    free(s);
    return e;
}

void ipw_lab_store_close(struct ipw_lab_store *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->insert_run);
    pthread_mutex_destroy(&s->insert_lock);
    sqlite3_close(s->db);
    free(s);
}

ipw_err ipw_lab_store_begin_batch(struct ipw_lab_store *s, const char *kind, const char *model,
                                  const char *client, int runs_planned, int64_t *batch_id,
                                  ipw_errbuf *eb)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO batches(kind, model, client, runs_planned, "
                                "started_at) VALUES(?, ?, ?, ?, ?)",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "preparing a batch");
    sqlite3_bind_text(q, 1, kind ? kind : "run", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, client, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 4, runs_planned);
    sqlite3_bind_double(q, 5, (double)ipw_real_ns() / 1e9);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return sql_fail(s, eb, rc, "saving a batch");
    *batch_id = sqlite3_last_insert_rowid(s->db);
    return IPW_OK;
}

ipw_err ipw_lab_store_end_batch(struct ipw_lab_store *s, int64_t batch_id, const json_t *summary,
                                ipw_errbuf *eb)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(
        s->db, "UPDATE batches SET finished_at = ?, summary_json = ? WHERE id = ?", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "preparing a batch update");
    char *text = summary ? ipw_json_dumps(summary, JSON_COMPACT) : NULL;
    sqlite3_bind_double(q, 1, (double)ipw_real_ns() / 1e9);
    if (text)
        sqlite3_bind_text(q, 2, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, 2);
    sqlite3_bind_int64(q, 3, batch_id);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    free(text);
    if (rc != SQLITE_DONE)
        return sql_fail(s, eb, rc, "finishing a batch");
    return IPW_OK;
}

static void bind_col(sqlite3_stmt *q, int idx, const struct lab_col *c, const struct ipw_lab_run *r)
{
    const char *p = (const char *)r + c->off;
    switch (c->kind) {
    case COL_REAL: {
        double v = *(const double *)p;
        if (isfinite(v))
            sqlite3_bind_double(q, idx, v);
        else
            sqlite3_bind_null(q, idx);
        break;
    }
    case COL_LONG: {
        long v = *(const long *)p;
        if (v >= 0)
            sqlite3_bind_int64(q, idx, v);
        else
            sqlite3_bind_null(q, idx);
        break;
    }
    case COL_INT: sqlite3_bind_int(q, idx, *(const int *)p); break;
    case COL_BOOL: sqlite3_bind_int(q, idx, *(const bool *)p); break;
    case COL_I64: sqlite3_bind_int64(q, idx, *(const int64_t *)p); break;
    case COL_TEXT: sqlite3_bind_text(q, idx, p, -1, SQLITE_TRANSIENT); break;
    }
}

static ipw_err add_run_locked(struct ipw_lab_store *s, int64_t batch_id,
                              const struct ipw_lab_run *r, const char *prompt_text,
                              int64_t *run_id, ipw_errbuf *eb)
{
    int rc = SQLITE_OK;
    if (!s->insert_run) {
        char sql[4096];
        size_t len = (size_t)snprintf(sql, sizeof sql, "INSERT INTO runs(batch_id, prompt_text");
        for (size_t i = 0; i < lab_n_run_cols; i++)
            len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s", lab_run_cols[i].name);
        len += (size_t)snprintf(sql + len, sizeof sql - len, ") VALUES(?, ?");
        for (size_t i = 0; i < lab_n_run_cols; i++)
            len += (size_t)snprintf(sql + len, sizeof sql - len, ", ?");
        snprintf(sql + len, sizeof sql - len, ")");
        rc = sqlite3_prepare_v2(s->db, sql, -1, &s->insert_run, NULL);
        if (rc != SQLITE_OK)
            return sql_fail(s, eb, rc, "preparing a run");
    }
    sqlite3_stmt *q = s->insert_run;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (batch_id > 0)
        sqlite3_bind_int64(q, 1, batch_id);
    else
        sqlite3_bind_null(q, 1);
    sqlite3_bind_text(q, 2, prompt_text ? prompt_text : "", -1, SQLITE_TRANSIENT);
    for (size_t i = 0; i < lab_n_run_cols; i++)
        bind_col(q, (int)i + 3, &lab_run_cols[i], r);
    rc = sqlite3_step(q); /* autocommit: committed when this returns */
    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return sql_fail(s, eb, rc, "saving a run");
    if (run_id)
        *run_id = sqlite3_last_insert_rowid(s->db);
    return IPW_OK;
}

ipw_err ipw_lab_store_add_run(struct ipw_lab_store *s, int64_t batch_id,
                              const struct ipw_lab_run *r, const char *prompt_text,
                              int64_t *run_id, ipw_errbuf *eb)
{
    pthread_mutex_lock(&s->insert_lock);
    ipw_err e = add_run_locked(s, batch_id, r, prompt_text, run_id, eb);
    pthread_mutex_unlock(&s->insert_lock);
    return e;
}

static void read_col(sqlite3_stmt *q, int idx, const struct lab_col *c, struct ipw_lab_run *r)
{
    char *p = (char *)r + c->off;
    bool null = sqlite3_column_type(q, idx) == SQLITE_NULL;
    switch (c->kind) {
    case COL_REAL: *(double *)p = null ? NAN : sqlite3_column_double(q, idx); break;
    case COL_LONG: *(long *)p = null ? -1 : (long)sqlite3_column_int64(q, idx); break;
    case COL_INT: *(int *)p = sqlite3_column_int(q, idx); break;
    case COL_BOOL: *(bool *)p = sqlite3_column_int(q, idx) != 0; break;
    case COL_I64: *(int64_t *)p = sqlite3_column_int64(q, idx); break;
    case COL_TEXT: {
        const unsigned char *t = sqlite3_column_text(q, idx);
        snprintf(p, c->size, "%s", t ? (const char *)t : "");
        break;
    }
    }
}

ipw_err ipw_lab_store_runs(struct ipw_lab_store *s, size_t limit, struct ipw_lab_run **out,
                           int64_t **ids, size_t *n, ipw_errbuf *eb)
{
    *out = NULL;
    *n = 0;
    if (ids)
        *ids = NULL;
    char sql[4096];
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT id");
    for (size_t i = 0; i < lab_n_run_cols; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s", lab_run_cols[i].name);
    len += (size_t)snprintf(sql + len, sizeof sql - len, " FROM runs ORDER BY id DESC");
    if (limit)
        snprintf(sql + len, sizeof sql - len, " LIMIT %zu", limit);
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "reading runs");
    size_t cap = 0;
    struct ipw_lab_run *runs = NULL;
    int64_t *rid = NULL;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct ipw_lab_run *nr = realloc(runs, cap * sizeof *nr);
            int64_t *ni = realloc(rid, cap * sizeof *ni);
            if (nr)
                runs = nr;
            if (ni)
                rid = ni;
            if (!nr || !ni) {
                sqlite3_finalize(q);
                free(runs);
                free(rid);
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading runs");
            }
        }
        struct ipw_lab_run *r = &runs[*n];
        ipw_lab_run_init(r);
        rid[*n] = sqlite3_column_int64(q, 0);
        for (size_t i = 0; i < lab_n_run_cols; i++)
            read_col(q, (int)i + 1, &lab_run_cols[i], r);
        /* runs saved by schema 1 have no grid intensity: they get the one default */
        ipw_lab_run_derive(r, isfinite(r->grid_g_per_kwh) ? r->grid_g_per_kwh
                                                           : IPW_LAB_DEFAULT_GRID_G_PER_KWH);
        (*n)++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        free(runs);
        free(rid);
        *n = 0;
        return sql_fail(s, eb, rc, "reading runs");
    }
    *out = runs;
    if (ids)
        *ids = rid;
    else
        free(rid);
    return IPW_OK;
}

ipw_err ipw_lab_store_totals(struct ipw_lab_store *s, struct ipw_lab_totals *out, ipw_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    struct ipw_lab_run *runs;
    size_t n;
    ipw_err rc = ipw_lab_store_runs(s, 0, &runs, NULL, &n, eb);
    if (rc != IPW_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct ipw_lab_run *r = &runs[i];
        if (r->error[0])
            continue;
        out->runs++;
        if (!strcmp(r->energy_source, ipw_energy_source_name(IPW_ENERGY_MODELED)))
            out->modelled_runs++;
        if (isfinite(r->total_wh))
            out->total_wh += r->total_wh;
        if (isfinite(r->total_active_wh))
            out->active_wh += r->total_active_wh;
        if (isfinite(r->carbon_g))
            out->carbon_g += r->carbon_g;
        out->input_tokens += r->input_tokens > 0 ? r->input_tokens : 0;
        out->output_tokens += r->output_tokens > 0 ? r->output_tokens : 0;
    }
    free(runs);
    return IPW_OK;
}

ipw_err ipw_lab_store_put_benchmark(struct ipw_lab_store *s, const struct ipw_lab_benchmark *b,
                                    ipw_errbuf *eb)
{
    sqlite3_stmt *q;
    /* REPLACE: re-calibrating overwrites (the original silently kept the old value) */
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT OR REPLACE INTO benchmarks(name, source, description, "
                                "c_in, c_out, updated_at) VALUES(?, ?, ?, ?, ?, ?)",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "preparing a benchmark");
    sqlite3_bind_text(q, 1, b->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, b->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, b->description, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(q, 4, b->c_in);
    sqlite3_bind_double(q, 5, b->c_out);
    sqlite3_bind_int64(q, 6, b->updated_unix ? b->updated_unix : ipw_real_ns() / IPW_NS_PER_SEC);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return sql_fail(s, eb, rc, "saving a benchmark");
    return IPW_OK;
}

ipw_err ipw_lab_store_remove_benchmark(struct ipw_lab_store *s, const char *name, ipw_errbuf *eb)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, "DELETE FROM benchmarks WHERE name = ?", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "preparing a removal");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return sql_fail(s, eb, rc, "removing a benchmark");
    if (sqlite3_changes(s->db) == 0)
        return ipw_fail(eb, IPW_E_NOTFOUND,
                        "no stored benchmark named '%s' (built-in ones cannot be removed); see "
                        "'ipw lab benchmarks list'",
                        name);
    return IPW_OK;
}

ipw_err ipw_lab_store_benchmarks(struct ipw_lab_store *s, struct ipw_lab_benchmark **out,
                                 size_t *n, ipw_errbuf *eb)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT name, source, description, c_in, c_out, updated_at FROM "
                                "benchmarks ORDER BY name",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "reading benchmarks");
    size_t cap = 0;
    struct ipw_lab_benchmark *v = NULL;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct ipw_lab_benchmark *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                sqlite3_finalize(q);
                *n = 0;
                return ipw_fail(eb, IPW_E_NOMEM, "out of memory reading benchmarks");
            }
            v = nv;
        }
        struct ipw_lab_benchmark *b = &v[(*n)++];
        memset(b, 0, sizeof *b);
        const unsigned char *t;
        snprintf(b->name, sizeof b->name, "%s", (t = sqlite3_column_text(q, 0)) ? (const char *)t : "");
        snprintf(b->source, sizeof b->source, "%s", (t = sqlite3_column_text(q, 1)) ? (const char *)t : "");
        snprintf(b->description, sizeof b->description, "%s",
                 (t = sqlite3_column_text(q, 2)) ? (const char *)t : "");
        b->c_in = sqlite3_column_double(q, 3);
        b->c_out = sqlite3_column_double(q, 4);
        b->updated_unix = sqlite3_column_int64(q, 5);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        free(v);
        *n = 0;
        return sql_fail(s, eb, rc, "reading benchmarks");
    }
    *out = v;
    return IPW_OK;
}

ipw_err ipw_lab_benchmark_find(struct ipw_lab_store *s, const char *name,
                               struct ipw_lab_benchmark *out, ipw_errbuf *eb)
{
    const struct ipw_lab_benchmark *bi;
    size_t nbi;
    ipw_err rc = ipw_lab_builtin_benchmarks(&bi, &nbi, eb);
    if (rc != IPW_OK)
        return rc;
    struct ipw_lab_benchmark *st = NULL;
    size_t nst = 0;
    if (s && (rc = ipw_lab_store_benchmarks(s, &st, &nst, eb)) != IPW_OK)
        return rc;
    /* stored first: a calibration may deliberately shadow a built-in name */
    for (size_t i = 0; i < nst; i++)
        if (strcmp(st[i].name, name) == 0) {
            *out = st[i];
            free(st);
            return IPW_OK;
        }
    for (size_t i = 0; i < nbi; i++)
        if (strcmp(bi[i].name, name) == 0) {
            *out = bi[i];
            free(st);
            return IPW_OK;
        }
    char list[400] = "";
    size_t len = 0;
    for (size_t i = 0; i < nst && len + 2 < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", st[i].name);
    for (size_t i = 0; i < nbi && i < 6 && len + 2 < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", bi[i].name);
    free(st);
    return ipw_fail(eb, IPW_E_NOTFOUND,
                    "no benchmark named '%s' (some: %s, …; 'ipw lab benchmarks list' shows all "
                    "%zu)",
                    name, list, nbi + nst);
}

/* ---- batch rows, for the web page's results table (src/labweb) ---------------------------- */

ipw_err ipw_lab_store_batches(struct ipw_lab_store *s, size_t limit, json_t **rows,
                              ipw_errbuf *eb)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT id, kind, model, client, runs_planned, started_at, "
                                "finished_at, summary_json FROM batches ORDER BY id DESC LIMIT ?",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "preparing the batch list");
    sqlite3_bind_int64(q, 1, limit ? (sqlite3_int64)limit : -1);
    json_t *arr = json_array();
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *text[3];
        for (int i = 0; i < 3; i++)
            text[i] = (const char *)sqlite3_column_text(q, 1 + i);
        const char *sj = (const char *)sqlite3_column_text(q, 7);
        json_t *summary = sj ? json_loads(sj, 0, NULL) : NULL;
        json_t *o = json_pack("{s:I, s:s, s:o, s:o, s:I, s:f, s:o, s:o}", "id",
                              (json_int_t)sqlite3_column_int64(q, 0), "kind",
                              text[0] ? text[0] : "run", "model",
                              ipw_json_string_lossy(text[1] ? text[1] : ""), "client",
                              json_string(text[2] ? text[2] : ""), "runs_planned",
                              (json_int_t)sqlite3_column_int64(q, 4), "created_at",
                              sqlite3_column_double(q, 5), "finished_at",
                              sqlite3_column_type(q, 6) == SQLITE_NULL
                                  ? json_null()
                                  : json_real(sqlite3_column_double(q, 6)),
                              "summary", summary ? summary : json_null());
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return sql_fail(s, eb, rc, "reading the batch list");
    }
    *rows = arr;
    return IPW_OK;
}

ipw_err ipw_lab_store_remove_batch(struct ipw_lab_store *s, int64_t id, ipw_errbuf *eb)
{
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, eb, rc, "starting to remove a batch");
    static const char *const sql[] = {"DELETE FROM runs WHERE batch_id = ?",
                                      "DELETE FROM batches WHERE id = ?"};
    int removed = 0;
    for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
        sqlite3_stmt *q;
        rc = sqlite3_prepare_v2(s->db, sql[i], -1, &q, NULL);
        if (rc != SQLITE_OK)
            break;
        sqlite3_bind_int64(q, 1, id);
        rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
        removed = sqlite3_changes(s->db);
        sqlite3_finalize(q);
    }
    if (rc != SQLITE_OK) {
        ipw_err e = sql_fail(s, eb, rc, "removing a batch");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return e;
    }
    if (removed == 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return ipw_fail(eb, IPW_E_NOTFOUND, "no batch %lld in %s", (long long)id, s->path);
    }
    rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ipw_err e = sql_fail(s, eb, rc, "removing a batch");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return e;
    }
    return IPW_OK;
}
