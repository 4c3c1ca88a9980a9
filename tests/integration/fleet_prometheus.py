#!/usr/bin/python3
"""A fleet on one machine: two real energy-monitors on loopback, each reading its own fake RAPL
tree whose counters a thread advances at known wattages (node-a 40+10 W package, 5 W DRAM;
node-b 70+30 W package, 3 W DRAM), scraped every second by a real Prometheus server (Debian's) that
loads deploy/prometheus/ipw-rules.yml. After two scrapes of each monitor the recording rules,
read through Prometheus' HTTP API, must give each node's power and the fleet's (158 W), and
every query of the Grafana dashboard must be valid PromQL that Prometheus answers."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402
from monitor_support import check, fail  # noqa: E402
from rapl_ramp import Ramp  # noqa: E402

SRC = ms.SRC
RULES = os.path.join(SRC, "deploy", "prometheus", "ipw-rules.yml")
DASHBOARD = os.path.join(SRC, "deploy", "grafana", "ipw-fleet.json")
PROMETHEUS = os.environ.get("IPW_PROMETHEUS") or shutil.which("prometheus")
NODES = {"node-a": ({"intel-rapl:0": 40.0, "intel-rapl:1": 10.0, "intel-rapl:0:1": 5.0}, 55.0),
         "node-b": ({"intel-rapl:0": 70.0, "intel-rapl:1": 30.0, "intel-rapl:0:1": 3.0}, 103.0)}
# The monitor reports the reading it took up to one period (50 ms) before the scrape, and the
# scrapes themselves are ~1 s apart: a few percent either way between two scrapes.
TOLERANCE = 0.12


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, targets):
        self.dir = ms.tmpdir("ipw-prom-")
        cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                          "scrape_timeout": "900ms"},
               "rule_files": [RULES],
               "scrape_configs": [{"job_name": "ipw-energy", "static_configs": [
                   {"targets": [t], "labels": {"node": n}} for n, t in targets.items()]}]}
        path = os.path.join(self.dir, "prometheus.yml")
        with open(path, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        # A free port can be taken between our probe and Prometheus' bind: try a few.
        for _ in range(5):
            self.port = free_port()
            self.log = open(os.path.join(self.dir, "log"), "w+")
            self.proc = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + path, "--storage.tsdb.path=" + self.dir + "/data",
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                stdout=self.log, stderr=subprocess.STDOUT)
            if self.wait_ready():
                return
            self.proc.kill()
            self.proc.wait()
            if "address already in use" not in self.output():
                fail("prometheus did not start: " + self.output())
        fail("prometheus found no free port: " + self.output())

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self):
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params))
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = json.loads(e.read())
        return body

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        return self.api("query", **params)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def vector(body):
    if body.get("status") != "success":
        fail("query failed: %s" % body)
    return {r["metric"].get("node", ""): float(r["value"][1]) for r in body["data"]["result"]}


def main():
    ramps, monitors = [], {}
    try:
        for node, (rates, _) in NODES.items():
            root = ms.tmpdir("ipw-fleet-sys-")
            os.chmod(root, 0o755)
            subprocess.run([os.environ["IPW_FAKE_SYSFS"], "standard", root], check=True)
            ramp = Ramp(root, rates)
            ramp.start()
            ramps.append(ramp)
            os.environ["IPW_SYSFS_ROOT"] = root  # read by the monitor started next
            monitors[node] = ms.Monitor(collector="rapl")
        prom = Prometheus({n: "127.0.0.1:%d" % m.metrics_port for n, m in monitors.items()})
        try:
            run_checks(prom)
        finally:
            prom.stop()
    finally:
        for r in ramps:
            r.close()
        for m in monitors.values():
            m.terminate()
        ms.cleanup()
    print("all checks passed")
    return 0


late_scrapes = []


def scrapes_on_time(prom, at):
    """Whether the two newest scrapes of each monitor at `at` (the pair irate uses) were taken
    as the tolerance assumes: about 1 s apart, and the monitor's newest reading in each about
    as far apart as the scrapes. On a loaded machine a scrape can start late or find a reading
    that the monitor took late; irate divides the energy between the readings by the time
    between the scrapes, so such a pair reads high or low by the lateness over ~1 s. The
    monitor stamps its newest reading (ipw_monitor_last_sample_timestamp_seconds), so the
    lateness is known and the check waits for a pair without it."""
    body = prom.query("ipw_monitor_last_sample_timestamp_seconds[10s]", at)
    if body.get("status") != "success" or len(body["data"]["result"]) != len(NODES):
        return False
    for series in body["data"]["result"]:
        v = series["values"]
        if len(v) < 2:
            return False
        (t1, s1), (t2, s2) = [(float(t), float(x)) for t, x in v[-2:]]
        dt, ds = t2 - t1, s2 - s1
        if abs(dt - 1.0) > 0.05 or abs(ds - dt) > 0.05 * dt:
            late_scrapes[:] = [series["metric"].get("node"), round(dt, 3), round(ds, 3)]
            return False
    return True


def run_checks(prom):
    # Two scrapes of both monitors, then one rule evaluation after them.
    deadline = time.time() + 60
    while time.time() < deadline:
        counts = vector(prom.query("count_over_time(ipw_monitor_samples_total[1m])"))
        if len(counts) == 2 and min(counts.values()) >= 2:
            break
        time.sleep(0.2)
    else:
        fail("Prometheus did not scrape both monitors twice: %s" % prom.output())
    # A generous deadline: on a loaded machine the scrapes come late and the check waits for an
    # evaluation whose two scrapes of each monitor were on time (see scrapes_on_time).
    deadline = time.time() + 120
    seen_rule = False
    while time.time() < deadline:
        # an evaluation that already saw two scrapes of both monitors (one that ran between a
        # monitor's first and second scrape has only the other node)
        if len(vector(prom.query("node:ipw_power_watts:irate1m"))) < 2:
            time.sleep(0.2)
            continue
        body = prom.query("fleet:ipw_power_watts:irate1m")
        if vector(body):
            # the instant of the newest evaluation, at which every rule of the group has a sample;
            # the group writes its rules one after the other, so the fleet's newest instant can
            # still be that of an evaluation that saw one node only (a node series from the next
            # one was already visible above): wait until that instant has both targets up and
            # both node series
            at = float(body["data"]["result"][0]["value"][0])
            up = vector(prom.query("up", at))
            if (len(vector(prom.query("node:ipw_power_watts:irate1m", at))) == 2
                    and len(up) == 2 and min(up.values()) == 1):
                seen_rule = True
                if scrapes_on_time(prom, at):
                    break
        time.sleep(0.2)
    else:
        if seen_rule:
            fail("in 120 s no evaluation of the rules followed two scrapes of each monitor "
                 "taken on time (the machine is too loaded to check the wattage): %s"
                 % late_scrapes)
        fail("the fleet power rule has no value: %s" % prom.api("rules"))
    rules = prom.api("rules")["data"]["groups"]
    check({g["name"] for g in rules} == {"ipw-power", "ipw-energy-per-token", "ipw-alerts"},
          "Prometheus loaded the three rule groups")
    check(all(r["health"] == "ok" for g in rules for r in g["rules"]),
          "every rule evaluates without error: %s" % [(r["name"], r.get("lastError"))
                                                      for g in rules for r in g["rules"]
                                                      if r["health"] != "ok"])
    # The series read at one evaluation's instant: the fleet is exactly the sum of the nodes, and
    # each node is its fake counters' wattage.
    nodes = vector(prom.query("node:ipw_power_watts:irate1m", at))
    fleet = vector(prom.query("fleet:ipw_power_watts:irate1m", at)).get("")
    domains = vector(prom.query('sum by (node) (node_domain:ipw_power_watts:irate1m{domain="dram"})', at))
    print("node power: %s, fleet %s W, dram %s" % (nodes, fleet, domains))
    check(set(nodes) == set(NODES), "one series per node: %s" % sorted(nodes))
    for node, (_, watts) in NODES.items():
        got = nodes.get(node, 0)
        check(abs(got - watts) <= TOLERANCE * watts,
              "%s power %.2f W is its counters' %.0f W" % (node, got, watts))
    check(fleet is not None and abs(fleet - sum(nodes.values())) < 1e-6,
          "fleet power %.3f W is the nodes' sum %.3f W" % (fleet or 0, sum(nodes.values())))
    check(abs(fleet - 158.0) <= TOLERANCE * 158.0, "fleet power %.2f W is 158 W" % fleet)
    check(abs(domains.get("node-a", 0) - 5.0) <= 1.0 and abs(domains.get("node-b", 0) - 3.0) <= 1.0,
          "DRAM apart: %s" % domains)
    e = vector(prom.query("increase(node:ipw_energy_joules_total:sum[1m])"))
    check(set(e) == set(NODES) and all(v > 0 for v in e.values()), "node energy rises: %s" % e)
    alerts = prom.api("alerts")["data"]["alerts"]
    check(not alerts, "no alert pending or firing: %s" % alerts)

    # Every dashboard query, with Grafana's variables filled in, is valid and answered.
    dash = json.load(open(DASHBOARD))
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    for e in exprs:
        q = e.replace("$node", ".*").replace("$__range", "1m")
        body = prom.query(q)
        check(body.get("status") == "success", "dashboard query %s: %s" % (q, body.get("error", "ok")))
        if not re.search(r"token", q):
            check(body["data"]["result"], "dashboard query %s has data" % q)


if __name__ == "__main__":
    sys.exit(main())
