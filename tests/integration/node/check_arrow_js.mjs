// Reads a run directory written by ipw with Apache Arrow's JavaScript implementation and checks
// the stream framing, buffer alignment, every value against records.jsonl, the schema against
// dataset_info.json's features, state.json, and hand-picked edge streams.
//   node check_arrow_js.mjs RUN_DIR
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { check, fail, loadRecords, modelNames, MODEL_METRICS } from './common.mjs';

let arrow, Message;
try {
  arrow = await import('apache-arrow');
  ({ Message } = await import('apache-arrow/ipc/metadata/message'));
} catch (e) {
  fail(`apache-arrow is not installed (${e.message}); run scripts/install-test-npm.sh`);
}
const { tableFromIPC, Type, MetadataVersion, Precision } = arrow;

const runDir = process.argv[2];
if (!runDir) fail('usage: node check_arrow_js.mjs RUN_DIR');

// ---- framing and alignment, walked independently of the table reader ----------------------------
function walkStream(buf, name) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  check(buf.length >= 8 && dv.getUint32(0, true) === 0xffffffff,
    `${name}: does not start with the continuation marker FF FF FF FF`);
  const tail = [...buf.subarray(buf.length - 8)];
  check(isDeepStrictEqual(tail, [255, 255, 255, 255, 0, 0, 0, 0]),
    `${name}: does not end with the end-of-stream marker FFFFFFFF 00000000`);
  let pos = 0;
  const kinds = [];
  let buffers = 0;
  for (;;) {
    check(pos % 8 === 0, `${name}: message at ${pos} is not 8-byte aligned`);
    check(dv.getUint32(pos, true) === 0xffffffff, `${name}: no continuation marker at ${pos}`);
    const len = dv.getInt32(pos + 4, true);
    if (len === 0) {
      pos += 8;
      break;
    }
    check(len > 0 && len % 8 === 0, `${name}: metadata length ${len} at ${pos} not a multiple of 8`);
    const msg = Message.decode(buf.subarray(pos + 8, pos + 8 + len));
    check(msg.version === MetadataVersion.V5, `${name}: message at ${pos} is not MetadataVersion V5`);
    const body = pos + 8 + len;
    check(body % 8 === 0, `${name}: body at ${body} is not 8-byte aligned`);
    check(msg.bodyLength % 8 === 0, `${name}: body length ${msg.bodyLength} is not padded to 8`);
    if (msg.isRecordBatch()) {
      const rb = msg.header();
      for (const b of rb.buffers) {
        check((body + b.offset) % 8 === 0,
          `${name}: buffer at file offset ${body + b.offset} is not 8-byte aligned`);
        check(b.offset + b.length <= msg.bodyLength, `${name}: buffer runs past its body`);
        buffers++;
      }
      kinds.push('batch');
    } else if (msg.isSchema()) {
      kinds.push('schema');
    } else {
      fail(`${name}: unexpected message type ${msg.headerType}`);
    }
    pos = body + msg.bodyLength;
  }
  check(pos === buf.length, `${name}: ${buf.length - pos} bytes after the end-of-stream marker`);
  check(kinds[0] === 'schema' && kinds.indexOf('schema', 1) < 0, `${name}: schema must come first, once`);
  return { batches: kinds.length - 1, buffers };
}

// ---- values -----------------------------------------------------------------------------------
function dtypeOf(type) {
  switch (type.typeId) {
    case Type.Utf8: return 'string';
    case Type.Bool: return 'bool';
    case Type.Null: return 'null';
    case Type.Int:
      check(type.bitWidth === 64 && type.isSigned, `int type ${type} is not int64`);
      return 'int64';
    case Type.Float:
      check(type.precision === Precision.DOUBLE, `float type ${type} is not float64`);
      return 'float64';
    case Type.Struct: return null;
    default: fail(`unexpected Arrow type ${type}`);
  }
}

// The value read by Arrow JS as plain JS (structs as objects, int64 as BigInt).
function plain(type, v) {
  if (v === null || v === undefined) return null;
  if (type.typeId === Type.Struct) {
    const o = {};
    for (const c of type.children) o[c.name] = plain(c.type, v[c.name]);
    return o;
  }
  return v;
}

// The value expected from a JSON record, shaped by the same type.
function expected(type, v) {
  if (v === null || v === undefined) return null;
  if (type.typeId === Type.Struct) {
    const o = {};
    for (const c of type.children) o[c.name] = expected(c.type, v[c.name]);
    return o;
  }
  if (type.typeId === Type.Int) return BigInt(v);
  return v;
}

function firstDifference(a, b, where) {
  if (isDeepStrictEqual(a, b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], `${where}.${k}`);
      if (d) return d;
    }
  }
  const show = (x) => (typeof x === 'bigint' ? `${x}n` : JSON.stringify(x)?.slice(0, 80));
  return `${where}: read ${show(a)}, expected ${show(b)}`;
}

// ---- schema vs HF features ----------------------------------------------------------------------
function featuresOf(type) {
  if (type.typeId === Type.Struct) {
    const o = {};
    for (const c of type.children) o[c.name] = featuresOf(c.type);
    return o;
  }
  return { dtype: dtypeOf(type), _type: 'Value' };
}

function typeTree(type) {
  if (type.typeId !== Type.Struct) return dtypeOf(type);
  const o = {};
  for (const c of type.children) o[c.name] = typeTree(c.type);
  return o;
}

function sameKeyOrder(a, b, where) {
  if (!a || typeof a !== 'object' || '_type' in a) return;
  check(isDeepStrictEqual(Object.keys(a), Object.keys(b)), `${where}: field order differs`);
  for (const k of Object.keys(a)) sameKeyOrder(a[k], b[k], `${where}.${k}`);
}

// ---- the run ------------------------------------------------------------------------------------
const dataPath = path.join(runDir, 'data-00000-of-00001.arrow');
const buf = new Uint8Array(readFileSync(dataPath));
const frame = walkStream(buf, 'data-00000-of-00001.arrow');
const records = loadRecords(runDir);
const table = tableFromIPC(buf);
const schema = table.schema;

check(table.numRows === records.length, `read ${table.numRows} rows, records.jsonl has ${records.length}`);
check(frame.batches === Math.ceil(records.length / 1000), `expected ${Math.ceil(records.length / 1000)} record batches of 1000 rows, got ${frame.batches}`);
check(isDeepStrictEqual(schema.fields.map((f) => f.name),
  ['problem', 'answer', 'dataset_metadata', 'subject', 'model_answers', 'model_metrics']),
  `columns are ${schema.fields.map((f) => f.name)}`);
for (const f of schema.fields) check(f.nullable, `column ${f.name} is not nullable`);

const models = modelNames(records);
const answersType = schema.fields[4].type, metricsType = schema.fields[5].type;
for (const t of [answersType, metricsType]) {
  check(t.typeId === Type.Struct, 'model_answers/model_metrics must be Arrow Struct (never Map)');
  const names = t.children.map((c) => c.name);
  check(isDeepStrictEqual(new Set(names), models), `schema models ${names} differ from records' ${[...models]}`);
}
for (const c of answersType.children) check(c.type.typeId === Type.Utf8, `model_answers.${c.name} is not Utf8`);
for (const c of metricsType.children) {
  const d = firstDifference(typeTree(c.type), MODEL_METRICS, `model_metrics.${c.name}`);
  check(!d, `ModelMetrics type differs from docs/formats/records.md: ${d}`);
  sameKeyOrder(typeTree(c.type), MODEL_METRICS, `model_metrics.${c.name}`);
}

// every value
const cols = schema.fields.map((f) => [f, table.getChild(f.name)]);
for (let i = 0; i < records.length; i++) {
  const r = records[i];
  for (const [f, vec] of cols) {
    const got = plain(f.type, vec.get(i));
    let want;
    if (f.name === 'dataset_metadata') {
      want = r.dataset_metadata ?? null;
      const parsed = got === null ? null : JSON.parse(got);
      const d = firstDifference(parsed, want, `row ${i} (record ${r.record_index}).dataset_metadata`);
      check(!d, d);
      continue;
    }
    want = expected(f.type, r[f.name]);
    const d = firstDifference(got, want, `row ${i} (record ${r.record_index}).${f.name}`);
    check(!d, d);
  }
}

// schema vs dataset_info.json features vs the schema's huggingface metadata
const info = JSON.parse(readFileSync(path.join(runDir, 'dataset_info.json'), 'utf8'));
check(isDeepStrictEqual(Object.keys(info).sort(), ['citation', 'description', 'features', 'homepage', 'license']),
  `dataset_info.json keys: ${Object.keys(info)}`);
const fromSchema = {};
for (const f of schema.fields) fromSchema[f.name] = featuresOf(f.type);
let d = firstDifference(fromSchema, info.features, 'features');
check(!d, `Arrow schema and dataset_info.json features differ: ${d}`);
sameKeyOrder(fromSchema, info.features, 'features');
const hf = JSON.parse(schema.metadata.get('huggingface'));
d = firstDifference(hf, { info: { features: info.features } }, 'huggingface metadata');
check(!d, d);

const state = JSON.parse(readFileSync(path.join(runDir, 'state.json'), 'utf8'));
check(isDeepStrictEqual(Object.keys(state).sort(), ['_data_files', '_fingerprint', '_format_columns',
  '_format_kwargs', '_format_type', '_output_all_columns', '_split']), `state.json keys: ${Object.keys(state)}`);
check(isDeepStrictEqual(state._data_files, [{ filename: 'data-00000-of-00001.arrow' }]), 'state.json _data_files');
check(/^[0-9a-f]{16}$/.test(state._fingerprint), 'state.json _fingerprint is not 16 hex digits');
check(state._format_columns === null && state._format_type === null && state._split === null &&
  state._output_all_columns === false && isDeepStrictEqual(state._format_kwargs, {}), 'state.json values');

// ---- edge streams (written by write_sample_run; a profiler run directory has none) ------------
const hasEdges = existsSync(path.join(runDir, 'edge.arrow'));
if (hasEdges) {
const edgeBuf = new Uint8Array(readFileSync(path.join(runDir, 'edge.arrow')));
const edgeFrame = walkStream(edgeBuf, 'edge.arrow');
check(edgeFrame.batches === 3, `edge.arrow: ${edgeFrame.batches} batches, expected 3`);
const edge = tableFromIPC(edgeBuf);
check(edge.schema.metadata.get('note') === 'edge ✓' && edge.schema.metadata.get('empty') === '',
  'edge.arrow metadata');
const deep = (leafRow) => {
  let v = leafRow;
  for (let k = 0; k < 10; k++) v = { d: v };
  return v;
};
const E = [
  { i64: -9223372036854775808n, f64: -0, s: '', b: true, n: null, empty: {}, deep: deep({ leaf: 42n }) },
  { i64: 9223372036854775807n, f64: 1.7976931348623157e308, s: '\u0000nul', b: false, n: null, empty: null, deep: { d: null } },
  { i64: null, f64: 5e-324, s: null, b: null, n: null, empty: null, deep: null },
  { i64: 0n, f64: 0.1, s: '𝄞 clef', b: null, n: null, empty: null, deep: { d: { d: { d: null } } } },
  { i64: null, f64: 123456789.125, s: null, b: null, n: null, empty: null, deep: null },
];
check(edge.numRows === E.length, `edge.arrow: ${edge.numRows} rows`);
for (let i = 0; i < E.length; i++) {
  const row = {};
  for (const f of edge.schema.fields) row[f.name] = plain(f.type, edge.getChild(f.name).get(i));
  const dd = firstDifference(row, E[i], `edge.arrow row ${i}`);
  check(!dd, dd);
}
const emptyBuf = new Uint8Array(readFileSync(path.join(runDir, 'empty.arrow')));
const emptyFrame = walkStream(emptyBuf, 'empty.arrow');
const empty = tableFromIPC(emptyBuf);
check(emptyFrame.batches === 0 && empty.numRows === 0 && empty.schema.fields.length === 7,
  'empty.arrow: a schema with 7 columns and no rows');
}

console.log(`ok: ${records.length} rows in ${frame.batches} batches (${frame.buffers} buffers, all ` +
  `8-byte aligned), ${models.size} models` + (hasEdges ? '; edge and empty streams read exactly' : ''));
