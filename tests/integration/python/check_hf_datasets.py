"""Opens a run directory written by ipw with pyarrow and HuggingFace `datasets` and checks it
against records.jsonl: datasets.load_from_disk(dir) must work, its features must match
dataset_info.json, and every value must equal the record's.

    python3 check_hf_datasets.py RUN_DIR

Needs pyarrow and datasets (not packaged by Debian 12; registered as a test only where the
configured Python can import them)."""
import json
import math
import os
import sys


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def load_records(run_dir):
    by_index = {}
    with open(os.path.join(run_dir, "records.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                by_index[r["record_index"]] = r
    return [by_index[k] for k in sorted(by_index)]


def shaped(feature, value):
    """The value `datasets` should return for a record's JSON value of this feature."""
    if value is None:
        return None
    if isinstance(feature, dict) and "_type" not in feature:
        return {k: shaped(f, value.get(k)) for k, f in feature.items()}
    return value


def first_difference(got, want, where):
    if isinstance(got, dict) and isinstance(want, dict):
        if list(got) != list(want):
            return f"{where}: keys {list(got)} != {list(want)}"
        for k in got:
            d = first_difference(got[k], want[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(got, float) and isinstance(want, (int, float)):
        same = got == want and math.copysign(1, got) == math.copysign(1, want)
        return None if same else f"{where}: {got!r} != {want!r}"
    if type(got) is not type(want) and not (got is None and want is None):
        return f"{where}: {got!r} ({type(got).__name__}) != {want!r} ({type(want).__name__})"
    return None if got == want else f"{where}: {got!r} != {want!r}"


def main():
    if len(sys.argv) != 2:
        fail("usage: check_hf_datasets.py RUN_DIR")
    run_dir = sys.argv[1]
    try:
        import datasets
        import pyarrow as pa
    except ImportError as e:
        fail(f"pyarrow/datasets are not importable: {e}")

    # pyarrow on its own: stream format, full validation of every buffer
    with pa.memory_map(os.path.join(run_dir, "data-00000-of-00001.arrow")) as src:
        reader = pa.ipc.open_stream(src)
        table = reader.read_all()
    table.validate(full=True)
    for name in ("model_answers", "model_metrics"):
        if not pa.types.is_struct(table.schema.field(name).type):
            fail(f"{name} is {table.schema.field(name).type}, not a struct")

    ds = datasets.load_from_disk(run_dir)
    records = load_records(run_dir)
    if len(ds) != len(records):
        fail(f"load_from_disk gives {len(ds)} rows, records.jsonl has {len(records)}")
    with open(os.path.join(run_dir, "dataset_info.json"), encoding="utf-8") as f:
        info = json.load(f)
    if ds.features.to_dict() != info["features"]:
        fail("the loaded features differ from dataset_info.json's")
    features = info["features"]
    for i, (row, rec) in enumerate(zip(ds, records)):
        for col, feature in features.items():
            if col == "dataset_metadata":
                got = None if row[col] is None else json.loads(row[col])
                want = rec.get(col)
            else:
                got, want = row[col], shaped(feature, rec.get(col))
            d = first_difference(got, want, f"row {i} (record {rec['record_index']}).{col}")
            if d:
                fail(d)
    print(f"ok: datasets {datasets.__version__} / pyarrow {pa.__version__} loaded {len(ds)} rows; "
          f"features and every value match records.jsonl")


if __name__ == "__main__":
    main()
