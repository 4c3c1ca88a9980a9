"""Interoperability of the energy-monitor binary with a real gRPC client (Debian's grpcio), raw
HTTP/2 peers, curl and promtool. Run as: monitor_grpcio.py GROUP (basic, concurrency, limits,
shutdown, raw, promtool); each group starts its own monitor on free ports, null collector."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402
from monitor_support import check, fail  # noqa: E402

import grpc  # noqa: E402

energy_pb2, energy_pb2_grpc, health_pb2, health_pb2_grpc = ms.load_stubs()


def stub(target):
    ch = grpc.insecure_channel(target)
    grpc.channel_ready_future(ch).result(timeout=5)  # what the original launcher does
    return ch, energy_pb2_grpc.EnergyMonitorStub(ch)


def collect(st, seconds, interval_ms=0):
    """Readings of one stream for `seconds`."""
    out, t_end = [], time.time() + seconds
    it = st.StreamTelemetry(energy_pb2.StreamRequest(interval_ms=interval_ms))
    for r in it:
        out.append(r)
        if time.time() >= t_end:
            break
    it.cancel()
    return out


def group_basic():
    mon = ms.Monitor()
    ch, st = stub(mon.target)
    h = st.Health(energy_pb2.HealthRequest(), timeout=5)
    check(h.healthy and h.platform == "null", "Health answers healthy, platform null")

    rs = collect(st, 1.0)
    check(len(rs) >= 18, "StreamTelemetry: %d readings in 1 s at 50 ms (>= 18)" % len(rs))
    ts = [r.timestamp_nanos for r in rs]
    seq = [r.sequence for r in rs]
    check(all(b > a for a, b in zip(ts, ts[1:])), "timestamps strictly increase")
    check(all(b > a for a, b in zip(seq, seq[1:])), "sequence numbers strictly increase")
    r = rs[-1]
    check(r.platform == "null" and r.power_watts == -1 and r.energy_joules == -1,
          "null collector: power and energy are -1")
    check(r.cpu_memory_usage_mb > 0, "cpu_memory_usage_mb is measured")
    check(r.system_info.cpu_count > 0 and r.system_info.cpu_brand != "" and
          r.system_info.kernel_version != "", "system_info filled (cpu_brand '%s')"
          % r.system_info.cpu_brand)
    check(abs(r.timestamp_nanos / 1e9 - time.time()) < 5, "timestamps are Unix time")

    slow = collect(st, 1.05, interval_ms=250)
    check(3 <= len(slow) <= 7, "interval_ms=250 decimates: %d readings in ~1 s" % len(slow))

    hs = health_pb2_grpc.HealthStub(ch)
    status = hs.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    check(status == health_pb2.HealthCheckResponse.NOT_SERVING,
          "grpc.health.v1 Check: NOT_SERVING with the null collector")
    try:
        hs.Check(health_pb2.HealthCheckRequest(service="x.Unknown"), timeout=5)
        fail("Check of an unknown service should fail")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "Check of an unknown service: NOT_FOUND")

    nope = ch.unary_unary("/energy.EnergyMonitor/Nope", request_serializer=lambda b: b,
                          response_deserializer=lambda b: b)
    try:
        nope(b"", timeout=5)
        fail("unknown method should fail")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNIMPLEMENTED, "unknown method: UNIMPLEMENTED")

    # cancel frees the stream on the server at once
    check(mon.wait_metric("ipw_monitor_streams", 0), "no stream open before the cancel test")
    it = st.StreamTelemetry(energy_pb2.StreamRequest())
    next(it)
    check(mon.metric("ipw_monitor_streams") == 1, "ipw_monitor_streams counts the open stream")
    it.cancel()
    check(mon.wait_metric("ipw_monitor_streams", 0, timeout=1.0),
          "cancel frees the stream (ipw_monitor_streams back to 0)")
    ch.close()
    check(mon.terminate() == 0, "exit status 0")


def group_concurrency():
    mon = ms.Monitor("--stream-queue", "32", interval_ms=1)
    ch, st = stub(mon.target)
    # 20 concurrent streams on 20 channels (connections), all from the one sampler
    results, threads = {}, []
    samples0 = mon.metric("ipw_monitor_samples_total")

    def one(i):
        c = grpc.insecure_channel(mon.target)
        results[i] = len(collect(energy_pb2_grpc.EnergyMonitorStub(c), 1.0, interval_ms=50))
        c.close()

    for i in range(20):
        threads.append(threading.Thread(target=one, args=(i,)))
        threads[-1].start()
    for t in threads:
        t.join(30)
    counts = [results.get(i, 0) for i in range(20)]
    check(min(counts) >= 15, "20 concurrent streams all receive readings (min %d, max %d)"
          % (min(counts), max(counts)))
    samples = mon.metric("ipw_monitor_samples_total") - samples0
    check(samples < 3000, "one sampler feeds them all (%d samples at 1 ms)" % samples)

    # Slow clients: raw HTTP/2 streams that never read a byte after their request.
    slow = []
    for _ in range(40):
        s = ms.raw_connect(mon.port)
        s.sendall(ms.PREFACE + ms.settings([(4, 65535)]) +
                  ms.grpc_request_headers(1, "/energy.EnergyMonitor/StreamTelemetry") +
                  ms.frame(ms.DATA, ms.END_STREAM, 1, ms.grpc_message(b"")))
        slow.append(s)
    time.sleep(1.0)
    rss0 = mon.rss_kib()
    dropped0 = mon.metric("ipw_monitor_dropped_readings_total")
    fast = collect(st, 3.0)
    rss1 = mon.rss_kib()
    dropped = mon.metric("ipw_monitor_dropped_readings_total") - dropped0
    check(len(fast) >= 1000, "a reading client keeps its pace beside 40 stalled ones "
          "(%d readings in 3 s at 1 ms)" % len(fast))
    seqs = [r.sequence for r in fast]
    check(all(b > a for a, b in zip(seqs, seqs[1:])), "its readings stay in order")
    check(dropped > 1000, "stalled streams lose their oldest readings (%d dropped)" % dropped)
    check(rss1 - rss0 < 4096, "server memory stays bounded (RSS %d -> %d KiB)" % (rss0, rss1))
    check(mon.metric("ipw_monitor_streams") == 40, "the 40 stalled streams are still open")
    for s in slow:
        s.close()
    check(mon.wait_metric("ipw_monitor_streams", 0, timeout=3.0),
          "closing stalled connections frees their streams")
    ch.close()
    check(mon.terminate() == 0, "exit status 0")


def group_limits():
    mon = ms.Monitor()
    ch, st = stub(mon.target)
    t0 = time.time()
    try:
        for _ in st.StreamTelemetry(energy_pb2.StreamRequest(), timeout=0.5):
            pass
        fail("a stream with a 0.5 s deadline should not end OK")
    except grpc.RpcError as e:
        took = time.time() - t0
        check(e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and 0.4 < took < 3,
              "grpc-timeout honoured: DEADLINE_EXCEEDED after %.2f s" % took)
    check(mon.wait_metric("ipw_monitor_streams", 0, timeout=1.0), "the expired stream is freed")

    raw_health = ch.unary_unary("/energy.EnergyMonitor/Health", request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    try:
        raw_health(b"\x00" * (5 << 20), timeout=10)
        fail("a 5 MiB request should be refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED,
              "5 MiB request: RESOURCE_EXHAUSTED (%s)" % e.details())
    h = st.Health(energy_pb2.HealthRequest(), timeout=5)
    check(h.healthy, "the server still answers after refusing it")

    # ~20 KB of metadata (over the advertised 16 KiB header list): a status, not a bare reset
    md = [("x-k%d" % i, "v" * 100) for i in range(150)]
    try:
        st.Health(energy_pb2.HealthRequest(), timeout=5, metadata=md)
        fail("20 KB of metadata should be refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "header" in e.details(),
              "20 KB of metadata: RESOURCE_EXHAUSTED (%s)" % e.details())
    md = [("x-k%d" % i, "v" * 20) for i in range(100)]
    check(st.Health(energy_pb2.HealthRequest(), timeout=5, metadata=md).healthy,
          "100 metadata entries and a long user-agent under the limit are fine")

    # Compression. grpcio sends small messages uncompressed even on a gzip channel (they would
    # grow), so those calls work; a message it does compress gets UNIMPLEMENTED naming the
    # accepted encodings (the gRPC compression spec), and responses stay uncompressed.
    gz = grpc.insecure_channel(mon.target, compression=grpc.Compression.Gzip,
                               options=[("grpc.primary_user_agent", "ipw-test/" + "x" * 500)])
    gz_st, gz_hs = energy_pb2_grpc.EnergyMonitorStub(gz), health_pb2_grpc.HealthStub(gz)
    check(gz_st.Health(energy_pb2.HealthRequest(), timeout=5).healthy and
          len(collect(gz_st, 0.3)) >= 3, "a gzip channel's calls and stream work")
    try:
        gz_hs.Check(health_pb2.HealthCheckRequest(service="a" * 2000), timeout=5)
        fail("a gzip-compressed request should be refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNIMPLEMENTED and "identity" in e.details(),
              "a gzip-compressed request: UNIMPLEMENTED (%s)" % e.details())
    gz.close()
    ch.close()
    check(mon.terminate() == 0, "exit status 0")


def group_shutdown():
    sock = os.path.join(ms.tmpdir("ipw-sock-"), "monitor.sock")
    mon = ms.Monitor("--unix", sock)
    check(oct(os.stat(sock).st_mode & 0o777) == "0o660", "Unix socket has mode 0660")
    uch = grpc.insecure_channel("unix:" + sock)
    h = energy_pb2_grpc.EnergyMonitorStub(uch).Health(energy_pb2.HealthRequest(), timeout=5)
    check(h.platform == "null", "Health over the Unix socket")
    outcome, threads = {}, []

    def stream(i, target):
        c = grpc.insecure_channel(target)
        n = 0
        try:
            for _ in energy_pb2_grpc.EnergyMonitorStub(c).StreamTelemetry(energy_pb2.StreamRequest()):
                n += 1
            outcome[i] = ("OK", n)
        except grpc.RpcError as e:
            outcome[i] = (e.code().name, n)
        c.close()

    for i in range(3):
        threads.append(threading.Thread(target=stream, args=(i, mon.target if i else "unix:" + sock)))
        threads[-1].start()
    time.sleep(0.6)
    t0 = time.time()
    rc = mon.terminate()
    for t in threads:
        t.join(10)
    check(rc == 0, "SIGTERM: exit status 0 after %.2f s" % (time.time() - t0))
    check(all(outcome.get(i, ("?", 0))[0] == "OK" and outcome[i][1] > 3 for i in range(3)),
          "SIGTERM: every open stream ended with status OK (%s)" % outcome)
    check(not os.path.exists(sock), "the Unix socket file is removed")
    uch.close()


def group_raw():
    mon = ms.Monitor()
    ch, st = stub(mon.target)
    readings, stop = [], threading.Event()

    def background():
        it = st.StreamTelemetry(energy_pb2.StreamRequest())
        for r in it:
            readings.append(r.sequence)
            if stop.is_set():
                break
        it.cancel()

    bg = threading.Thread(target=background)
    bg.start()
    time.sleep(0.3)

    s = ms.raw_connect(mon.port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\x00" * 64)
    _, eof = ms.read_frames(s, timeout=3)
    check(eof, "a malformed preface closes that connection")
    s.close()

    s = ms.raw_connect(mon.port)
    s.sendall(ms.PREFACE + ms.settings() + ms.frame(ms.SETTINGS, 0, 0, b"\x00\x04\x00"))
    frames, eof = ms.read_frames(s, timeout=3)
    goaway = [f for f in frames if f[0] == ms.GOAWAY]
    check(goaway and eof, "a malformed frame (SETTINGS of 3 bytes) gets GOAWAY and a close")
    check(int.from_bytes(goaway[0][3][4:8], "big") == 6, "GOAWAY says FRAME_SIZE_ERROR")
    s.close()

    s = ms.raw_connect(mon.port)
    s.sendall(ms.PREFACE + ms.settings() + ms.frame(ms.DATA, 0, 0, b"xx"))
    frames, eof = ms.read_frames(s, timeout=3)
    check(any(f[0] == ms.GOAWAY for f in frames) and eof, "DATA on stream 0 gets GOAWAY and a close")
    s.close()

    s = ms.raw_connect(mon.port)
    s.sendall(ms.PREFACE + ms.settings() +
              ms.grpc_request_headers(1, "/energy.EnergyMonitor/Health", "text/plain") +
              ms.frame(ms.DATA, ms.END_STREAM, 1, ms.grpc_message(b"")))
    frames, _ = ms.read_frames(s, until=lambda f: f[0] == ms.HEADERS and f[2] == 1, timeout=3)
    hdr = [f for f in frames if f[0] == ms.HEADERS and f[2] == 1]
    check(hdr and ms.first_status(hdr[0][3]) == "415", "content-type text/plain: HTTP 415")
    # the same connection still serves a proper call
    s.sendall(ms.grpc_request_headers(3, "/energy.EnergyMonitor/Health") +
              ms.frame(ms.DATA, ms.END_STREAM, 3, ms.grpc_message(b"")))
    frames, _ = ms.read_frames(s, until=lambda f: f[2] == 3 and f[1] & ms.END_STREAM, timeout=3)
    hdr = [f for f in frames if f[0] == ms.HEADERS and f[2] == 3]
    check(hdr and ms.first_status(hdr[0][3]) == "200", "then a gRPC call on that connection: 200")
    # request headers over the 16 KiB limit end that stream only, with status 8 and a reason
    s.sendall(ms.grpc_request_headers(5, "/energy.EnergyMonitor/Health",
                                      extra=[("x-big", "a" * 20000)]) +
              ms.frame(ms.DATA, ms.END_STREAM, 5, ms.grpc_message(b"")))
    frames, eof = ms.read_frames(s, until=lambda f: f[2] == 5 and f[1] & ms.END_STREAM, timeout=3)
    ends = [f for f in frames if f[2] == 5 and f[0] == ms.HEADERS and f[1] & ms.END_STREAM]
    check(ends and ms.has_grpc_status(ends[0][3], 8) and not eof,
          "20 KB of request headers: that stream ends RESOURCE_EXHAUSTED, the connection stays")
    s.sendall(ms.grpc_request_headers(7, "/energy.EnergyMonitor/Health") +
              ms.frame(ms.DATA, ms.END_STREAM, 7, ms.grpc_message(b"")))
    frames, _ = ms.read_frames(s, until=lambda f: f[2] == 7 and f[1] & ms.END_STREAM, timeout=3)
    check(any(f[0] == ms.HEADERS and f[2] == 7 for f in frames), "and the next call is answered")
    s.close()

    # gRPC compression spec: the compressed flag without a grpc-encoding header is INTERNAL
    # (not UNIMPLEMENTED, which means "that encoding is not supported")
    s = ms.raw_connect(mon.port)
    s.sendall(ms.PREFACE + ms.settings() +
              ms.grpc_request_headers(1, "/energy.EnergyMonitor/Health") +
              ms.frame(ms.DATA, ms.END_STREAM, 1, b"\x01\x00\x00\x00\x00"))
    frames, _ = ms.read_frames(s, until=lambda f: f[2] == 1 and f[1] & ms.END_STREAM, timeout=3)
    ends = [f for f in frames if f[2] == 1 and f[0] == ms.HEADERS and f[1] & ms.END_STREAM]
    check(ends and ms.has_grpc_status(ends[0][3], 13),
          "compressed flag without grpc-encoding: INTERNAL")
    s.close()

    if shutil.which("curl"):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              "--http2-prior-knowledge", "-X", "POST", "-H",
                              "content-type: application/json", "--data", "{}",
                              "http://%s/energy.EnergyMonitor/Health" % mon.target],
                             capture_output=True, text=True, timeout=10)
        check(out.stdout == "415", "curl (h2c) with content-type application/json: HTTP 415")

    n_before = len(readings)
    time.sleep(0.5)
    stop.set()
    bg.join(5)
    check(len(readings) - n_before >= 7, "the healthy stream kept streaming through all of it "
          "(%d readings)" % len(readings))
    check(all(b > a for a, b in zip(readings, readings[1:])), "without a gap in its order")
    errs = mon.metric("ipw_monitor_protocol_errors_total")
    check(errs >= 2, "protocol errors are counted (%d)" % errs)
    ch.close()
    check(mon.terminate() == 0, "exit status 0")


def group_promtool():
    mon = ms.Monitor()
    ch, st = stub(mon.target)
    it = st.StreamTelemetry(energy_pb2.StreamRequest())
    for _ in range(3):
        next(it)
    text, ctype = mon.metrics()
    check(ctype.startswith("text/plain; version=0.0.4"), "Content-Type is the 0.0.4 text format")
    for name in ("ipw_monitor_samples_total", "ipw_monitor_dropped_readings_total",
                 "ipw_monitor_streams 1", 'ipw_memory_used_bytes{kind="cpu"}',
                 'ipw_monitor_info{platform="null"'):
        check(name in text, "/metrics has %s" % name)
    families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    check(families == helps and len(families) >= 10, "every family has # HELP and # TYPE")
    check(all(not f.endswith("_total") or "# TYPE %s counter" % f in text for f in families),
          "counters (and only counters) end in _total")
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=30)
    check(res.returncode == 0, "promtool check metrics passes: %s" % (res.stdout + res.stderr).strip())
    try:
        mon.metrics("/nope")
        fail("/nope should be 404")
    except Exception as e:  # urllib raises HTTPError
        check("404" in str(e), "unknown path: 404")
    it.cancel()
    ch.close()
    check(mon.terminate() == 0, "exit status 0")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_launcher():
    """Started the way the original project's Python launcher starts its binary: only --port and
    --bind-address, readiness by channel_ready_future + Health, stop by SIGTERM."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([ms.MONITOR, "--port", str(port), "--bind-address", "127.0.0.1"],
                            stderr=log)
    target = "127.0.0.1:%d" % port
    ready, deadline = False, time.time() + 15
    while time.time() < deadline and not ready:
        ch = grpc.insecure_channel(target)
        try:
            grpc.channel_ready_future(ch).result(timeout=0.5)
            energy_pb2_grpc.EnergyMonitorStub(ch).Health(energy_pb2.HealthRequest(), timeout=0.5)
            ready = True
        except Exception:
            time.sleep(0.25)
        finally:
            ch.close()
    if not ready:
        proc.kill()
        log.seek(0)
        fail("monitor not ready via the launcher's readiness check: " + log.read())
    check(True, "ready by the launcher's check (channel ready + Health) on port %d" % port)
    ch = grpc.insecure_channel(target)
    n = 0
    for r in energy_pb2_grpc.EnergyMonitorStub(ch).StreamTelemetry(energy_pb2.StreamRequest()):
        # the original client maps negative values to None and reads these fields
        vals = [r.power_watts, r.energy_joules, r.temperature_celsius, r.gpu_memory_usage_mb,
                r.cpu_memory_usage_mb]
        assert all(v == -1 or v >= 0 for v in vals)
        assert r.platform and r.timestamp_nanos > 0 and r.system_info.host_name
        n += 1
        if n == 5:
            break
    check(n == 5, "the original client's fields are all present")
    ch.close()
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=10) == 0, "SIGTERM: exit 0")

    proc = subprocess.Popen([ms.MONITOR, "--collector", "null", "--port", "0", "--bind-address",
                             "0.0.0.0", "--metrics-port", "-1"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=10)[1]
    check("no authentication" in err and proc.returncode == 0,
          "binding 0.0.0.0 warns that the stream has no authentication")


def group_idle():
    """While nobody streams, the monitor samples once per --idle-interval-ms (1 s by default)
    instead of every period; the first stream brings the period back at once, and /metrics,
    served from memory, still shows every change of state as it happens."""
    mon = ms.Monitor(interval_ms=50)
    time.sleep(1.2)
    s0 = mon.metric("ipw_monitor_samples_total")
    time.sleep(3.0)
    idle = mon.metric("ipw_monitor_samples_total") - s0
    check(2 <= idle <= 5, "idle: %d samples in 3 s at a 1 s idle period (not 60)" % idle)
    t1, _ = mon.metrics()
    t2, _ = mon.metrics()
    check(t1 == t2, "two scrapes with nothing new between them serve the same text")
    ch, st = stub(mon.target)
    h = st.Health(energy_pb2.HealthRequest(), timeout=5)
    check(h.healthy, "Health is healthy while idle")
    got = collect(st, 1.5)
    check(len(got) >= 12, "a stream gets readings every 50 ms at once (%d in 1.5 s)" % len(got))
    seqs = [r.sequence for r in got]
    check(all(b == a + 1 for a, b in zip(seqs, seqs[1:])),
          "no reading lost across the switch from the idle pace (sequence %d..%d continuous)"
          % (seqs[0], seqs[-1]))
    check(mon.wait_metric("ipw_monitor_streams", 0, timeout=1.0),
          "the closed stream leaves /metrics at once (no idle-period delay)")
    ch.close()
    check(mon.wait_metric("ipw_monitor_connections", 0, timeout=2.0),
          "the closed connection leaves /metrics")
    time.sleep(0.5)
    s0 = mon.metric("ipw_monitor_samples_total")
    time.sleep(2.0)
    idle = mon.metric("ipw_monitor_samples_total") - s0
    check(idle <= 4, "idle pace again after the last stream (%d samples in 2 s)" % idle)
    check(mon.terminate() == 0, "exit status 0")

    mon = ms.Monitor("--idle-interval-ms", "0", interval_ms=50)
    time.sleep(0.5)
    s0 = mon.metric("ipw_monitor_samples_total")
    time.sleep(2.0)
    busy = mon.metric("ipw_monitor_samples_total") - s0
    check(busy >= 20, "--idle-interval-ms 0 keeps the 50 ms period with no client (%d in 2 s)"
          % busy)
    check(mon.terminate() == 0, "exit status 0")


GROUPS = {"basic": group_basic, "concurrency": group_concurrency, "limits": group_limits,
          "shutdown": group_shutdown, "raw": group_raw, "promtool": group_promtool,
          "launcher": group_launcher, "idle": group_idle}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        fail("usage: monitor_grpcio.py " + "|".join(GROUPS))
    try:
        GROUPS[sys.argv[1]]()
    except Exception as e:  # an unexpected RpcError or socket error is a failure, not a hang
        fail("%s: %r" % (type(e).__name__, e))
    ms.cleanup()
    print("PASS", sys.argv[1], flush=True)
    os._exit(0)
