"""Helpers for the energy monitor's integration tests: start the real binary on free ports,
generate Python stubs from our proto with Debian's grpcio tools, read /metrics, and speak raw
HTTP/2 for the tests that must send what no well-behaved client would."""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.environ.get("IPW_TEST_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IPW_TEST_BINARY_DIR", ".")
MONITOR = os.environ.get("IPW_ENERGY_MONITOR") or os.path.join(BIN, "energy-monitor")


_monitors = []
_tmpdirs = []


def tmpdir(prefix):
    """A temporary directory removed by cleanup()."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def cleanup():
    for m in _monitors:
        if m.proc.poll() is None:
            m.proc.kill()
            m.proc.wait()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


def fail(msg):
    """Report, stop every monitor this test started, and leave at once (grpcio's threads must
    not keep a failed test hanging)."""
    print("FAIL: " + msg, flush=True)
    for m in _monitors:
        if m.proc.poll() is None:
            print("--- energy-monitor stderr:\n" + m.stderr(), flush=True)
    cleanup()
    sys.stdout.flush()
    os._exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def load_stubs():
    """energy_pb2/_grpc and health_pb2/_grpc generated now from proto/*.proto. The messages come
    from protoc (matching the installed protobuf runtime), the service stubs from grpc_tools."""
    out = tempfile.mkdtemp(prefix="ipw-stubs-", dir=BIN if os.path.isdir(BIN) else None)
    _tmpdirs.append(out)
    protos = [os.path.join(SRC, "proto", p) for p in ("energy.proto", "health.proto")]
    inc = "-I" + os.path.join(SRC, "proto")
    subprocess.run(["protoc", inc, "--python_out=" + out] + protos, check=True)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", inc, "--grpc_python_out=" + out]
                   + protos, check=True)
    sys.path.insert(0, out)
    import energy_pb2, energy_pb2_grpc, health_pb2, health_pb2_grpc  # noqa: E401
    return energy_pb2, energy_pb2_grpc, health_pb2, health_pb2_grpc


class Monitor:
    """The energy-monitor binary on free ports (learned from --port-file). port: a fixed gRPC
    port (a monitor restarted where its clients expect it); metrics_port -1 turns the
    Prometheus endpoint off; env: variables added to this process's (fake hardware)."""

    def __init__(self, *extra, collector="null", interval_ms=50, port=0, metrics_port=0,
                 env=None, timeout=10):
        self.dir = tmpdir("ipw-mon-")
        self.port_file = os.path.join(self.dir, "ports")
        args = [MONITOR, "--collector", collector, "--port", str(port), "--metrics-port",
                str(metrics_port), "--collection-interval-ms", str(interval_ms), "--port-file",
                self.port_file, "--log-level", "warn"] + list(extra)
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=e)
        _monitors.append(self)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.port_file):
                kv = dict(line.split("=", 1) for line in open(self.port_file).read().split())
                self.port = int(kv["grpc_port"])
                self.metrics_port = int(kv.get("metrics_port", "-1"))
                self.target = "127.0.0.1:%d" % self.port
                return
            if self.proc.poll() is not None:
                fail("energy-monitor exited early: " + self.stderr())
            time.sleep(0.02)
        fail("energy-monitor did not write its port file")

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def metrics(self, path="/metrics"):
        url = "http://127.0.0.1:%d%s" % (self.metrics_port, path)
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode("utf-8"), r.headers.get("Content-Type")

    def metric(self, name):
        text, _ = self.metrics()
        m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else None

    def wait_metric(self, name, want, timeout=3.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.metric(name) == want:
                return True
            time.sleep(0.05)
        return self.metric(name) == want

    def rss_kib(self):
        for line in open("/proc/%d/status" % self.proc.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return -1

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def terminate(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("energy-monitor did not exit within %d s of SIGTERM" % timeout)


# ---- raw HTTP/2 -------------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def settings(pairs=()):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


CONTINUATION = 9


def _hpack_int(n, prefix_bits=7):
    top = (1 << prefix_bits) - 1
    if n < top:
        return bytes([n])
    out, n = [top], n - top
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def _hpack_str(s):
    s = s.encode() if isinstance(s, str) else s
    return _hpack_int(len(s)) + s


def headers(sid, fields, end_stream=False, max_frame=16384):
    """HEADERS (plus CONTINUATION frames when the block is large) with every field a literal
    without indexing, so no HPACK state is needed."""
    block = b"".join(b"\x00" + _hpack_str(n) + _hpack_str(v) for n, v in fields)
    first, rest = block[:max_frame], block[max_frame:]
    es = END_STREAM if end_stream else 0
    if not rest:
        return frame(HEADERS, END_HEADERS | es, sid, first)
    out = frame(HEADERS, es, sid, first)
    while rest:
        chunk, rest = rest[:max_frame], rest[max_frame:]
        out += frame(CONTINUATION, 0 if rest else END_HEADERS, sid, chunk)
    return out


def grpc_request_headers(sid, path, content_type="application/grpc", extra=()):
    return headers(sid, [(":method", "POST"), (":scheme", "http"), (":path", path),
                         (":authority", "localhost"), ("content-type", content_type),
                         ("te", "trailers")] + list(extra))


def grpc_message(payload=b""):
    return b"\x00" + struct.pack(">I", len(payload)) + payload


def raw_connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_frames(sock, until=None, timeout=3.0):
    """Frames read until `until(frame)` is true, EOF, or the timeout; returns (frames, eof)."""
    sock.settimeout(0.2)
    buf, frames, deadline = b"", [], time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return frames, True
        if not chunk:
            return frames, True
        buf += chunk
        while len(buf) >= 9:
            n = int.from_bytes(buf[0:3], "big")
            if len(buf) < 9 + n:
                break
            f = (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n])
            frames.append(f)
            buf = buf[9 + n:]
            if until and until(f):
                return frames, False
    return frames, False


def has_grpc_status(block, code):
    """Whether a header block carries grpc-status `code`. A status value not yet sent on the
    connection goes out as a literal, and nghttp2 never Huffman-codes one or two digits (that
    is not shorter), so the value is its length byte and digits."""
    v = str(code).encode()
    return bytes([len(v)]) + v in block


STATIC_STATUS = {8: "200", 9: "204", 10: "206", 11: "304", 12: "400", 13: "404", 14: "500"}


def first_status(block):
    """:status of a response header block (nghttp2 puts it first)."""
    b = block[0]
    if b & 0x80:
        return STATIC_STATUS.get(b & 0x7F)
    idx = b & (0x3F if b & 0x40 else 0x0F)
    if idx not in STATIC_STATUS:
        return None
    ln = block[1]
    if ln & 0x80:
        return None  # Huffman-coded: never for three digits (not shorter)
    return block[2:2 + ln].decode()
