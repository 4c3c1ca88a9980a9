#!/usr/bin/env python3
"""`ipw plot`: every plot exists as a valid PNG (signature, IHDR chunk with its CRC, the 2x
canvas size, IEND) and as well-formed SVG (parsed by xml.etree) with the axis labels in it;
plots are drawn without regression.json (fits computed) and with it; a run with no successful
queries still gets its (empty) plots."""
import os
import shutil
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from common import check, ipw, load_jsonl, make_run, tmpdir  # noqa: E402

NAMES = ["ttft", "latency", "energy", "power", "completion_tokens_kde"]


def check_png(path):
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s: not a PNG signature" % path)
    length, ctype = struct.unpack(">I4s", data[8:16])
    check(ctype == b"IHDR" and length == 13, "%s: first chunk is not IHDR" % path)
    ihdr = data[16:29]
    crc = struct.unpack(">I", data[29:33])[0]
    check(zlib.crc32(b"IHDR" + ihdr) == crc, "%s: IHDR CRC mismatch" % path)
    w, h, depth, color = struct.unpack(">IIBB", ihdr[:10])
    check((w, h) == (1600, 1040), "%s: %dx%d, expected 1600x1040" % (path, w, h))
    check(depth == 8 and color in (2, 6), "%s: depth %d color type %d" % (path, depth, color))
    check(data[-12:-8] == b"\x00\x00\x00\x00" and data[-8:-4] == b"IEND", "%s: no IEND" % path)
    # walk every chunk: lengths and CRCs consistent up to IEND
    pos = 8
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        check(zlib.crc32(ctype + body) == crc, "%s: bad CRC in %r" % (path, ctype))
        pos += 12 + length
        if ctype == b"IEND":
            break
    check(pos == len(data), "%s: bytes after IEND" % path)


def check_svg(path, must_contain):
    tree = ET.parse(path)
    root = tree.getroot()
    check(root.tag == "{http://www.w3.org/2000/svg}svg", "%s: root is %s" % (path, root.tag))
    check(root.get("viewBox") == "0 0 800 520", "%s: viewBox %r" % (path, root.get("viewBox")))
    text = open(path).read()
    for s in must_contain:
        check(s in text, "%s: missing %r" % (path, s))


def main():
    work = tmpdir("ipw-plots-")
    try:
        run = make_run(os.path.join(work, "run"), "--records", 300, "--seed", 4)
        code, out, err = ipw("plot", run, check=0)
        for n in NAMES:
            check_png(os.path.join(run, "plots", n + ".png"))
            # cairo draws text as glyph outlines: look for the <path> glyph symbols instead
            check_svg(os.path.join(run, "plots", n + ".svg"), ["<symbol", "<path"])
        check(not os.path.exists(os.path.join(run, "analysis")), "ipw plot wrote analysis/")

        # with regression.json present, its fits are used: same files, still valid
        ipw("analyze", run, "--quiet", check=0)
        ipw("plot", run, "--format", "svg", "--output-dir", os.path.join(work, "svg"), check=0)
        check(sorted(os.listdir(os.path.join(work, "svg"))) == sorted(n + ".svg" for n in NAMES),
              "svg-only output: %r" % os.listdir(os.path.join(work, "svg")))

        # every query failed: empty plots with a note, not an error
        bad = make_run(os.path.join(work, "failed"), "--records", 3)
        recs = load_jsonl(os.path.join(bad, "records.jsonl"))
        with open(os.path.join(bad, "records.jsonl"), "w") as f:
            import json
            for r in recs:
                r["status"] = "failed"
                r["error"] = "HTTP 503"
                f.write(json.dumps(r) + "\n")
        ipw("plot", bad, "--format", "png", check=0)
        for n in NAMES:
            check_png(os.path.join(bad, "plots", n + ".png"))

        # errors: not a run directory
        code, out, err = ipw("plot", os.path.join(work, "nope"), check=1)
        check("does not exist" in err, "missing dir message: %r" % err)
        print("plots test passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
