// Loads a run's Arrow IPC stream into DuckDB (duckdb-wasm, node blocking bindings: its Arrow
// ingestion is Arrow C++ compiled to WebAssembly) and checks SQL over nested struct fields
// against sums computed here from records.jsonl.
//   node check_duckdb.cjs RUN_DIR
const fs = require('node:fs');
const path = require('node:path');

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

let duckdb;
try {
  duckdb = require('@duckdb/duckdb-wasm/dist/duckdb-node-blocking.cjs');
} catch (e) {
  fail(`@duckdb/duckdb-wasm is not installed (${e.message}); run scripts/install-test-npm.sh`);
}

const runDir = process.argv[2];
if (!runDir) fail('usage: node check_duckdb.cjs RUN_DIR');

function loadRecords() {
  const byIndex = new Map();
  for (const line of fs.readFileSync(path.join(runDir, 'records.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line);
    byIndex.set(r.record_index, r);
  }
  return [...byIndex.keys()].sort((a, b) => a - b).map((k) => byIndex.get(k));
}

const sqlString = (s) => `'${s.replace(/'/g, "''")}'`;
// struct_extract with string literals: model names may hold any character
const field = (col, ...names) => names.reduce((e, n) => `struct_extract(${e}, ${sqlString(n)})`, col);

function close(a, b) {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

(async () => {
  const dist = path.dirname(require.resolve('@duckdb/duckdb-wasm/dist/duckdb-node-blocking.cjs'));
  const bundles = {
    mvp: { mainModule: path.join(dist, 'duckdb-mvp.wasm'), mainWorker: path.join(dist, 'duckdb-node-mvp.worker.cjs') },
    eh: { mainModule: path.join(dist, 'duckdb-eh.wasm'), mainWorker: path.join(dist, 'duckdb-node-eh.worker.cjs') },
  };
  const db = await duckdb.createDuckDB(bundles, new duckdb.VoidLogger(), duckdb.NODE_RUNTIME);
  await db.instantiate(() => {});
  const conn = db.connect();
  const ipc = new Uint8Array(fs.readFileSync(path.join(runDir, 'data-00000-of-00001.arrow')));
  conn.insertArrowFromIPCStream(ipc, { name: 'run', create: true });

  const records = loadRecords();
  const models = new Set();
  for (const r of records) for (const k of Object.keys(r.model_metrics ?? {})) models.add(k);
  if (process.env.IPW_EXPECT_MODELS && models.size < Number(process.env.IPW_EXPECT_MODELS))
    fail(`the run should hold at least ${process.env.IPW_EXPECT_MODELS} models, found ${models.size}`);

  let checked = 0;
  const n = Number(conn.query('SELECT count(*)::BIGINT AS n FROM run').toArray()[0].n);
  if (n !== records.length) fail(`DuckDB counts ${n} rows, records.jsonl has ${records.length}`);

  for (const m of models) {
    // expected, from the JSON records
    let outTokens = 0n, outCount = 0, joules = 0, correct = 0, nullMetrics = 0, cpuCount = 0n;
    let maxGpuMb = -Infinity;
    for (const r of records) {
      const mm = r.model_metrics?.[m];
      if (mm == null) { nullMetrics++; continue; }
      const out = mm.token_metrics?.output;
      if (out != null) { outTokens += BigInt(out); outCount++; }
      const j = mm.energy_metrics?.per_query_joules;
      if (j != null) joules += j;
      if (mm.lm_correctness === true) correct++;
      if (mm.system_info?.cpu_count != null) cpuCount += BigInt(mm.system_info.cpu_count);
      const g = mm.memory_metrics?.gpu_mb?.max;
      if (g != null && g > maxGpuMb) maxGpuMb = g;
    }
    const mmExpr = field('model_metrics', m);
    const q = `SELECT
        sum(${field(mmExpr, 'token_metrics', 'output')})::BIGINT AS out_tokens,
        count(${field(mmExpr, 'token_metrics', 'output')})::BIGINT AS out_count,
        sum(${field(mmExpr, 'energy_metrics', 'per_query_joules')}) AS joules,
        count(*) FILTER (WHERE ${field(mmExpr, 'lm_correctness')})::BIGINT AS correct,
        count(*) FILTER (WHERE ${mmExpr} IS NULL)::BIGINT AS null_metrics,
        sum(${field(mmExpr, 'system_info', 'cpu_count')})::BIGINT AS cpu_count,
        max(${field(mmExpr, 'memory_metrics', 'gpu_mb', 'max')}) AS max_gpu_mb
      FROM run`;
    const row = conn.query(q).toArray()[0].toJSON();
    const got = (k) => row[k];
    if (BigInt(got('out_tokens')) !== outTokens) fail(`${m}: sum of output tokens ${got('out_tokens')} != ${outTokens}`);
    if (Number(got('out_count')) !== outCount) fail(`${m}: count of output tokens ${got('out_count')} != ${outCount}`);
    if (!close(got('joules'), joules)) fail(`${m}: sum of per_query_joules ${got('joules')} != ${joules}`);
    if (Number(got('correct')) !== correct) fail(`${m}: correct answers ${got('correct')} != ${correct}`);
    if (Number(got('null_metrics')) !== nullMetrics) fail(`${m}: null metrics ${got('null_metrics')} != ${nullMetrics}`);
    if (BigInt(got('cpu_count')) !== cpuCount) fail(`${m}: sum of cpu_count ${got('cpu_count')} != ${cpuCount}`);
    if (got('max_gpu_mb') !== maxGpuMb) fail(`${m}: max gpu_mb.max ${got('max_gpu_mb')} != ${maxGpuMb}`);
    checked += 7;
  }

  // strings: unicode text and the per-subject split survive exactly
  const subjects = new Map();
  for (const r of records) subjects.set(r.subject, (subjects.get(r.subject) ?? 0) + 1);
  for (const [s, c] of subjects) {
    const got = Number(conn.query(`SELECT count(*)::BIGINT AS n FROM run WHERE subject = ${sqlString(s)}`).toArray()[0].n);
    if (got !== c) fail(`subject ${s}: DuckDB counts ${got}, records ${c}`);
    checked++;
  }
  // a problem with characters beyond the BMP if the run has one (the sample run does), else
  // the first: either way it must come back byte for byte
  const uni = records.find((r) => /🚀/.test(r.problem ?? '')) ?? records[0];
  const got = Number(conn.query(`SELECT count(*)::BIGINT AS n FROM run WHERE problem = ${sqlString(uni.problem)}`).toArray()[0].n);
  const want = records.filter((r) => r.problem === uni.problem).length;
  if (got !== want) fail(`problem text: DuckDB counts ${got}, records ${want}`);
  const len = Number(conn.query('SELECT max(length(problem))::BIGINT AS n FROM run').toArray()[0].n);
  const wantLen = Math.max(...records.map((r) => [...(r.problem ?? '')].length));
  if (len !== wantLen) fail(`longest problem: DuckDB ${len} characters, records ${wantLen}`);
  // the metadata column is JSON text
  const meta = conn.query(`SELECT dataset_metadata FROM run WHERE dataset_metadata IS NOT NULL LIMIT 1`).toArray()[0].dataset_metadata;
  JSON.parse(meta);
  conn.close();
  console.log(`ok: DuckDB read ${n} rows; ${checked + 3} SQL checks over nested struct fields and strings agree with records.jsonl`);
})().catch((e) => fail(e.stack || String(e)));
