// Shared by the Arrow reader checks: loading records.jsonl the way ipw defines it (later line of
// a record_index wins, rows in record_index order) and the ModelMetrics types of
// docs/formats/records.md, written out independently of the C code.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function loadRecords(runDir) {
  const text = readFileSync(path.join(runDir, 'records.jsonl'), 'utf8');
  const byIndex = new Map();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line);
    byIndex.set(r.record_index, r); // a later line supersedes an earlier one
  }
  return [...byIndex.keys()].sort((a, b) => a - b).map((k) => byIndex.get(k));
}

export function modelNames(records) {
  const s = new Set();
  for (const r of records) {
    for (const col of ['model_answers', 'model_metrics']) {
      for (const k of Object.keys(r[col] ?? {})) s.add(k);
    }
  }
  return s;
}

const STATS = { avg: 'float64', max: 'float64', median: 'float64', min: 'float64' };
export const MODEL_METRICS = {
  compute_metrics: { flops_per_request: 'float64', macs_per_request: 'float64' },
  energy_metrics: {
    per_query_joules: 'float64', total_joules: 'float64', gpu_joules: 'float64',
    cpu_joules: 'float64', dram_joules: 'float64', prefill_joules: 'float64',
    decode_joules: 'float64', active_joules: 'float64', idle_power_watts: 'float64',
    energy_source: 'string',
  },
  latency_metrics: {
    per_token_ms: 'float64', throughput_tokens_per_sec: 'float64',
    time_to_first_token_seconds: 'float64', total_query_seconds: 'float64',
    decode_seconds: 'float64',
  },
  memory_metrics: { cpu_mb: STATS, gpu_mb: STATS },
  power_metrics: {
    gpu: { per_query_watts: STATS, total_watts: STATS },
    cpu: { per_query_watts: STATS },
  },
  temperature_metrics: STATS,
  token_metrics: { input: 'int64', output: 'int64', total: 'int64' },
  gpu_info: {
    name: 'string', vendor: 'string', device_id: 'int64', device_type: 'string',
    backend: 'string',
  },
  system_info: {
    os_name: 'string', os_version: 'string', kernel_version: 'string', host_name: 'string',
    cpu_count: 'int64', cpu_brand: 'string',
  },
  lm_correctness: 'bool',
  lm_response: 'string',
};

// Tiny assertion helpers that name the path that failed.
export function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

export function check(cond, msg) {
  if (!cond) fail(msg);
}
