#!/usr/bin/python3
"""Checks the fleet deployment files against what they must agree with.

  deploy_check.py kubernetes   deploy/kubernetes: parsed, the fields that matter checked against
                               each other, and the DaemonSet's own arguments and environment run
                               by the real energy-monitor on a fake RAPL tree, its gRPC health
                               check (the probes' target) answered SERVING by grpcio.
  deploy_check.py grafana      deploy/grafana/ipw-fleet.json: a dashboard Grafana can import whose
                               every query names only recording rules deploy/prometheus defines.

No Kubernetes or Grafana runs here; the live check of the dashboard's queries is in
fleet_prometheus.py, against a real Prometheus."""
import json
import os
import re
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitor_support as ms  # noqa: E402
from checks import run_group  # noqa: E402
from monitor_support import check, fail  # noqa: E402

SRC = ms.SRC
K8S = os.path.join(SRC, "deploy", "kubernetes")
RULES = os.path.join(SRC, "deploy", "prometheus", "ipw-rules.yml")
DASHBOARD = os.path.join(SRC, "deploy", "grafana", "ipw-fleet.json")


def load_manifests():
    kust = yaml.safe_load(open(os.path.join(K8S, "kustomization.yaml")))
    files = sorted(f for f in os.listdir(K8S) if f.endswith(".yaml") and f != "kustomization.yaml")
    check(sorted(kust["resources"]) == files,
          "kustomization lists every manifest: %s" % kust["resources"])
    docs = {}
    for f in files:
        for d in yaml.safe_load_all(open(os.path.join(K8S, f))):
            check(d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"),
                  "%s: %s has apiVersion, kind and name" % (f, d.get("kind")))
            docs[d["kind"]] = d
    return docs


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def flag_map(args):
    out = {}
    for a in args:
        check(a.startswith("--") and "=" in a, "argument %s is --flag=value" % a)
        k, v = a.split("=", 1)
        out[k] = v
    return out


def known_flags():
    text = subprocess.run([ms.MONITOR, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"^\s+(--[a-z-]+)", text, re.M))


def group_kubernetes():
    docs = load_manifests()
    ns, ds, svc, sm = (docs.get(k) for k in ("Namespace", "DaemonSet", "Service", "ServiceMonitor"))
    check(all((ns, ds, svc, sm)), "a Namespace, DaemonSet, Service and ServiceMonitor")
    check(ds["apiVersion"] == "apps/v1" and svc["apiVersion"] == "v1"
          and sm["apiVersion"] == "monitoring.coreos.com/v1", "API versions")
    name = ns["metadata"]["name"]
    check(all(d["metadata"].get("namespace") == name for d in (ds, svc, sm)),
          "everything in namespace %s" % name)

    spec = ds["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    check(matches(spec["selector"]["matchLabels"], pod_labels), "DaemonSet selects its own pods")
    pod = spec["template"]["spec"]
    check(len(pod["containers"]) == 1, "one container")
    c = pod["containers"][0]
    args = flag_map(c["args"])
    check(set(args) <= known_flags(), "every argument is an energy-monitor flag: %s" % sorted(args))
    env = {e["name"]: e for e in c["env"]}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("grpc") == int(args["--port"]) and
          ports.get("metrics") == int(args["--metrics-port"]),
          "container ports are the ones the monitor listens on")
    # both endpoints on the pod's IP (a loopback bind would be unreachable from the probes and
    # from Prometheus)
    check(args["--bind-address"] == "$(POD_IP)" and args["--metrics-bind"] == "$(POD_IP)",
          "listens on the pod IP")
    check(env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP",
          "POD_IP from the downward API")
    for probe in ("livenessProbe", "readinessProbe"):
        check(c[probe].get("grpc", {}).get("port") == ports["grpc"],
              "%s is the gRPC health check on the gRPC port" % probe)
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    sys_mount = [m for m in mounts.values()
                 if vols[m["name"]].get("hostPath", {}).get("path") == "/sys"]
    check(len(sys_mount) == 1 and sys_mount[0]["readOnly"] is True, "host /sys mounted read-only")
    check(env["IPW_SYSFS_ROOT"]["value"] == sys_mount[0]["mountPath"],
          "IPW_SYSFS_ROOT points at the host /sys mount")
    check(all(v.get("hostPath", {}).get("path") == "/sys" for v in vols.values()),
          "no host path other than /sys")
    res = c["resources"]
    check(all(k in res.get(kind, {}) for kind in ("requests", "limits") for k in ("cpu", "memory")),
          "CPU and memory requests and limits")
    check(not any("gpu" in k for kind in ("requests", "limits") for k in res.get(kind, {})),
          "no GPU requested (the device plugin's GPUs stay with the workloads)")
    check(env["NVIDIA_VISIBLE_DEVICES"]["value"] == "all", "sees every GPU of the node")
    check(any(t.get("key") == "nvidia.com/gpu" and t.get("operator") == "Exists"
              for t in pod.get("tolerations", [])), "tolerates GPU nodes' taint")
    sc = c["securityContext"]
    check(sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
          and sc["capabilities"]["drop"] == ["ALL"] and not sc.get("privileged"),
          "read-only root, no privilege escalation, no capability")
    check(not pod.get("hostNetwork") and not pod.get("hostPID"), "no host network or PID namespace")

    check(matches(svc["spec"]["selector"], pod_labels), "Service selects the DaemonSet's pods")
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    check(all(p["targetPort"] in ports for p in svc_ports.values()),
          "Service ports target named container ports")
    check(matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]),
          "ServiceMonitor selects the Service")
    check(sm["spec"]["namespaceSelector"]["matchNames"] == [name], "ServiceMonitor namespace")
    ep = sm["spec"]["endpoints"]
    check(len(ep) == 1 and ep[0]["port"] == "metrics" and "metrics" in svc_ports,
          "ServiceMonitor scrapes the metrics port by name")
    check(any(r.get("targetLabel") == "node" and
              r.get("sourceLabels") == ["__meta_kubernetes_pod_node_name"]
              for r in ep[0]["relabelings"]), "ServiceMonitor sets the node label")
    rules = open(RULES).read()
    check('job="%s"' % svc["metadata"]["name"] in rules,
          "the alerts' job label is the Service's name (%s)" % svc["metadata"]["name"])

    run_daemonset_args(args, env)


def run_daemonset_args(args, env):
    """The DaemonSet's arguments, with the pod IP made loopback and the ports made free ones,
    run by the real monitor on a fake RAPL tree mounted where the manifest mounts /sys."""
    root = ms.tmpdir("ipw-k8s-sys-")
    os.chmod(root, 0o755)
    subprocess.run([os.environ["IPW_FAKE_SYSFS"], "standard", root], check=True)
    from rapl_ramp import Ramp
    ramp = Ramp(root, {"intel-rapl:0": 40.0})
    ramp.start()
    # ms.Monitor gives --collector, --collection-interval-ms, --log-level and the ports itself
    # (a flag may be given once): it gets the manifest's collector and interval, the rest as is
    argv = ["%s=%s" % (k, v.replace("$(POD_IP)", "127.0.0.1")) for k, v in args.items()
            if k not in ("--port", "--metrics-port", "--collector", "--collection-interval-ms",
                         "--log-level")]
    os.environ["IPW_SYSFS_ROOT"] = root  # the manifest's value is a path inside the pod
    for k, e in env.items():
        if "value" in e and k != "IPW_SYSFS_ROOT":
            os.environ[k] = e["value"]
    os.environ["IPW_NVML_LIBRARY"] = "/nonexistent/libnvidia-ml.so.1"
    os.environ["IPW_ROCM_SMI_LIBRARY"] = "/nonexistent/librocm_smi64.so"
    try:
        mon = ms.Monitor(*argv, collector=args["--collector"],
                         interval_ms=int(args["--collection-interval-ms"]))
        energy_pb2, energy_pb2_grpc, health_pb2, health_pb2_grpc = ms.load_stubs()
        import grpc
        ch = grpc.insecure_channel(mon.target)
        grpc.channel_ready_future(ch).result(timeout=5)
        st = health_pb2_grpc.HealthStub(ch)
        status = None
        for _ in range(50):
            status = st.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status
            if status == health_pb2.HealthCheckResponse.SERVING:
                break
            time.sleep(0.1)
        check(status == health_pb2.HealthCheckResponse.SERVING,
              "grpc.health.v1 Check answers SERVING with the manifest's arguments")
        text, _ = mon.metrics()
        check('ipw_energy_joules_total{domain="cpu"}' in text and 'platform="rapl"' in text,
              "auto-detection found the RAPL counters under IPW_SYSFS_ROOT")
        ch.close()
        check(mon.terminate() == 0, "exits 0 on SIGTERM (the pod's stop)")
    finally:
        ramp.close()


def group_grafana():
    d = json.load(open(DASHBOARD))
    check(d.get("uid") and d.get("title") and isinstance(d.get("schemaVersion"), int),
          "dashboard uid, title and schemaVersion")
    tvars = {v["name"]: v for v in d["templating"]["list"]}
    check(tvars.get("datasource", {}).get("type") == "datasource" and
          tvars["datasource"]["query"] == "prometheus", "a Prometheus data source variable")
    panels = d["panels"]
    ids = [p["id"] for p in panels]
    check(len(set(ids)) == len(ids), "panel ids are unique")
    cells = set()
    for p in panels:
        g = p["gridPos"]
        check(g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, "panel %s fits the 24-column grid" % p["title"])
        mine = {(g["x"] + i, g["y"] + j) for i in range(g["w"]) for j in range(g["h"])}
        check(not (mine & cells), "panel %s overlaps no other" % p["title"])
        cells |= mine
        check(p["datasource"]["uid"] == "${datasource}", "panel %s uses the variable" % p["title"])
        check(p["targets"] and all(t.get("expr") and t.get("refId") for t in p["targets"]),
              "panel %s has queries" % p["title"])
    rules = yaml.safe_load(open(RULES))
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    used = set()
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    exprs.append(tvars["node"]["query"]["query"])
    for e in exprs:
        used |= set(re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", e))
    check(used and used <= recorded, "queries use only recorded series: unknown %s" % (used - recorded))
    titles = " ".join(p["title"] for p in panels).lower()
    for what in ("fleet power", "power per node", "energy per node", "token"):
        check(what in titles, "a panel for %s" % what)


def main():
    return run_group({"kubernetes": group_kubernetes, "grafana": group_grafana}, ms.cleanup)


if __name__ == "__main__":
    sys.exit(main())
