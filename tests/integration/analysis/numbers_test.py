#!/usr/bin/env python3
"""`ipw analyze` against an independent computation on the same fixture: every regression with
numpy.polyfit (to 1e-9 relative), the figures of merit recomputed here from the records and the
verdicts in scores.jsonl, and the local scoring against the fixture generator's own truth."""
import math
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import check, ipw, load_json, load_jsonl, make_run, tmpdir  # noqa: E402

MODEL = "llama-3.1-8b-instruct"
REL = 1e-9


def close(a, b, what, rel=REL):
    if a is None or b is None:
        check(a is None and b is None, "%s: %r vs %r" % (what, a, b))
        return
    check(abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-300,
          "%s: ipw %r, independent %r (rel err %.3g)" % (what, a, b,
                                                         abs(a - b) / max(abs(a), abs(b))))


def num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and \
        math.isfinite(v) else None


def points(records):
    """The points of each fit, by the rules in docs/formats/analysis.md."""
    fits = {k: [] for k in ("input_tokens_vs_ttft", "total_tokens_vs_energy",
                            "total_tokens_vs_latency", "total_tokens_vs_power",
                            "total_tokens_vs_power_log", "output_tokens_vs_decode_energy",
                            "input_tokens_vs_prefill_energy")}
    for r in records:
        if r["status"] == "failed":
            continue
        m = r["model_metrics"][MODEL]
        tok, lat, en = m["token_metrics"], m["latency_metrics"], m["energy_metrics"]
        inp, out, tot = num(tok["input"]), num(tok["output"]), num(tok["total"])
        e = num(en["per_query_joules"])
        L = num(lat["total_query_seconds"])
        # SPEC §4.2: energy / latency when both are positive, else the window's average
        p = num(m["power_metrics"]["gpu"]["per_query_watts"]["avg"])
        if e is not None and e > 0 and L is not None and L > 0:
            p = e / L

        def add(k, x, y):
            if x is not None and y is not None:
                fits[k].append((x, y))
        add("input_tokens_vs_ttft", inp, num(lat["time_to_first_token_seconds"]))
        add("total_tokens_vs_energy", tot, e)
        add("total_tokens_vs_latency", tot, L)
        if p is not None and p != 0:
            add("total_tokens_vs_power", tot, p)
            if tot is not None and tot > 0:
                add("total_tokens_vs_power_log", math.log(tot), p)
        add("output_tokens_vs_decode_energy", out, num(en["decode_joules"]))
        add("input_tokens_vs_prefill_energy", inp, num(en["prefill_joules"]))
    return fits


def check_regressions(run, records):
    reg = load_json(os.path.join(run, "analysis", "regression.json"))["data"]["regressions"]
    for name, pts in points(records).items():
        got = reg[name]
        check(got["count"] == len(pts), "%s count %r vs %d" % (name, got["count"], len(pts)))
        x = np.array([p[0] for p in pts])
        y = np.array([p[1] for p in pts])
        slope, intercept = np.polyfit(x, y, 1)
        pred = slope * x + intercept
        r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
        close(got["slope"], float(slope), name + " slope")
        close(got["intercept"], float(intercept), name + " intercept")
        close(got["r2"], float(r2), name + " r2")
        close(got["avg_y"], float(y.mean()), name + " avg_y")


def figures(records, scores):
    """SPEC §4.2 recomputed: accuracy, IPJ, IPW on three bases, phases, percentiles."""
    correct = incorrect = 0
    bases = {"main": ([], []), "total": ([], []), "active": ([], [])}
    imputed = 0
    lat, ttft = [], []
    prefill = decode = 0.0
    for r, s in zip(records, scores):
        if r["status"] == "failed":
            continue
        m = r["model_metrics"][MODEL]
        en, la, pw = m["energy_metrics"], m["latency_metrics"], m["power_metrics"]
        L = num(la["total_query_seconds"])
        if L is not None and L > 0:
            lat.append(L)
        t = num(la["time_to_first_token_seconds"])
        if t is not None and t >= 0:
            ttft.append(t)
        pj, dj = num(en["prefill_joules"]), num(en["decode_joules"])
        if pj is not None and dj is not None and pj >= 0 and dj >= 0:
            prefill += pj
            decode += dj
        if s["verdict"] not in ("correct", "incorrect"):
            continue
        correct += s["verdict"] == "correct"
        incorrect += s["verdict"] == "incorrect"
        for basis, ekey, pval in (("main", "per_query_joules", pw["gpu"]["per_query_watts"]["avg"]),
                                  ("total", "total_joules", pw["gpu"]["total_watts"]["avg"]),
                                  ("active", "active_joules", None)):
            e, p = num(en[ekey]), num(pval)
            energies, powers = bases[basis]
            if basis == "active":
                if e is not None and e >= 0:
                    energies.append(e)
                    if L is not None and L > 0:
                        powers.append(e / L)
                continue
            if e is None or e <= 0:
                e = p * L if p is not None and p > 0 and L is not None and L > 0 else None
                if e is not None and basis == "main":
                    imputed += 1
            if e is not None:
                energies.append(e)
            if e is not None and L is not None and L > 0:
                powers.append(e / L)
            elif p is not None and p > 0:
                powers.append(p)
    acc = correct / (correct + incorrect)
    out = {"correct": correct, "incorrect": incorrect, "accuracy": acc,
           "imputed_energy_count": imputed}
    for basis, (ipj, ipwk, ekey, pkey) in {
            "main": ("intelligence_per_joule", "intelligence_per_watt",
                     "avg_per_query_energy_joules", "avg_per_query_power_watts"),
            "total": ("ipj_total", "ipw_total", "avg_per_query_total_energy_joules",
                      "avg_per_query_total_power_watts"),
            "active": ("ipj_active", "ipw_active", "avg_per_query_active_energy_joules",
                       "avg_per_query_active_power_watts")}.items():
        energies, powers = bases[basis]
        out[ekey] = float(np.mean(energies))
        out[pkey] = float(np.mean(powers))
        out[ipj] = acc / out[ekey]
        out[ipwk] = acc / out[pkey]
    out["energy_sample_count"] = len(bases["main"][0])
    out["power_sample_count"] = len(bases["main"][1])
    out["latency_p50_seconds"] = float(np.percentile(lat, 50))
    out["latency_p95_seconds"] = float(np.percentile(lat, 95))
    out["ttft_p50_seconds"] = float(np.percentile(ttft, 50))
    out["ttft_p95_seconds"] = float(np.percentile(ttft, 95))
    out["prefill_energy_share"] = prefill / (prefill + decode)
    return out


def main():
    work = tmpdir("ipw-numbers-")
    try:
        run = make_run(os.path.join(work, "run"), "--records", 800, "--seed", 11)
        ipw("analyze", run, "--quiet", check=0)
        records = load_jsonl(os.path.join(run, "records.jsonl"))
        scores = load_jsonl(os.path.join(run, "analysis", "scores.jsonl"))
        check(len(scores) == len(records), "scores.jsonl has %d lines" % len(scores))
        check_regressions(run, records)

        summary = load_json(os.path.join(run, "analysis", "accuracy.json"))["summary"]
        want = figures(records, scores)
        for k, v in want.items():
            if isinstance(v, int):
                check(summary[k] == v, "%s: ipw %r, independent %r" % (k, summary[k], v))
            else:
                close(summary[k], v, k, rel=1e-12)
        check(want["imputed_energy_count"] > 0, "the fixture exercised no imputation")
        check(summary["failed_queries"] == sum(r["status"] == "failed" for r in records),
              "failed_queries")
        open_ok = sum(r["kind"] == "open" and r["status"] == "ok" and r["answer"] != ""
                      for r in records)
        check(summary["unevaluated"] == open_ok, "open answers without a judge must stay "
              "unevaluated: %r vs %d" % (summary["unevaluated"], open_ok))

        # the local scoring agrees with the generator's truth on every mcq and exact item
        wrong = [(r["kind"], r["answer"], r["model_answers"][MODEL], s)
                 for r, s in zip(records, scores)
                 if r["kind"] in ("mcq", "exact") and r["status"] == "ok" and
                 s["lm_correctness"] != r["dataset_metadata"]["fixture_correct"]]
        check(not wrong, "local scoring disagrees with the fixture on %d items: %r" %
              (len(wrong), wrong[:5]))

        # inline records equal scores.jsonl
        acc = load_json(os.path.join(run, "analysis", "accuracy.json"))
        check(acc["data"]["records"] == scores, "accuracy.json data.records != scores.jsonl")

        # --analysis regression alone writes regression.json only
        run2 = os.path.join(work, "run2")
        shutil.copytree(run, run2)
        shutil.rmtree(os.path.join(run2, "analysis"))
        ipw("analyze", run2, "--analysis", "regression", "--quiet", check=0)
        check(sorted(os.listdir(os.path.join(run2, "analysis"))) == ["regression.json"],
              "regression-only wrote %r" % os.listdir(os.path.join(run2, "analysis")))
        check_regressions(run2, records)
        print("numbers test passed: %d records" % len(records))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
