#!/usr/bin/env python3
"""Validates the rendered Kubernetes manifests and the monitoring files of boxoffice (run by scripts/k8s-check.sh).

Usage: k8s_check.py --render <overlay>=<rendered.yaml> ... [--example <file.yaml> ...]
                    --rules <boxoffice.rules.yml> --rule-resource <prometheus-rule.yaml>
                    --dashboard <dashboard.json> --catalogue <src/metrics.rs> --promtool <path>
       k8s_check.py --write-rule-resource --rules <boxoffice.rules.yml> --rule-resource <prometheus-rule.yaml>

Checks, each failure printed with the overlay, kind and name:
* every built-in object against the Kubernetes OpenAPI schemas bundled in kubernetes-validate (strict: unknown
  fields are errors); a kind without a schema is an error unless it is one of the known CRDs below;
* references inside each overlay: Service selectors and named target ports, Ingress backends, HPA targets, PDB
  and NetworkPolicy selectors and named ports, ServiceMonitor/PodMonitor selectors and ports, ServiceAccounts,
  ConfigMaps; Secrets exist or are among the documented out-of-band ones;
* the house rules for pods: non-root, no privilege escalation, capabilities dropped, requests and limits, probes
  on /readyz and /healthz for the API pods, a termination grace period longer than the drain;
* every object in the overlay's namespace;
* the PrometheusRule resource carries exactly the groups of the rules file;
* every PromQL expression of the dashboard parses (promtool), and every metric named by the dashboard and the
  rules is in the catalogue of src/metrics.rs.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from kubernetes_validate import utils as kv

KUBERNETES_VERSION = "1.30.0"  # oldest supported: the preStop `sleep` action needs 1.30

# Custom resources: no bundled schema; their references are checked below instead.
KNOWN_CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

# Secrets made out of band (k8s/README.md, "Deploying to a region"); everything else must be in the render.
EXTERNAL_SECRETS = {
    "boxoffice-secrets",
    "boxoffice-tls",
    "cockroachdb-client-boxoffice",
    "cockroachdb.node",
    "cockroachdb.client.root",
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


class Report:
    def __init__(self):
        self.errors = []

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")


def load_all(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def name_of(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def pod_templates(objs):
    """(workload, pod template) pairs of the render."""
    for obj in objs:
        if obj.get("kind") in WORKLOAD_KINDS:
            yield obj, obj["spec"]["template"]


def selector_matches(selector, labels):
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def containers(template):
    spec = template["spec"]
    return (spec.get("initContainers") or []) + spec["containers"]


def container_port_names(template):
    return {p["name"] for c in template["spec"]["containers"] for p in c.get("ports") or [] if "name" in p}


def check_schemas(overlay, objs, report):
    for obj in objs:
        where = f"{overlay}: {name_of(obj)}"
        key = (obj.get("apiVersion"), obj.get("kind"))
        try:
            kv.validate(obj, KUBERNETES_VERSION, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            report.error(where, f"schema: {path}: {e.message}")
        except kv.SchemaNotFoundError:
            if key not in KNOWN_CRDS:
                report.error(where, f"no schema for {key[0]} {key[1]} (a typo, or a CRD to add to KNOWN_CRDS)")


def check_references(overlay, objs, report):
    by_kind = {}
    for obj in objs:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    templates = list(pod_templates(objs))

    def pods_selected(selector):
        return [(w, t) for w, t in templates if selector_matches(selector, t["metadata"].get("labels") or {})]

    for svc in by_kind.get("Service", {}).values():
        where = f"{overlay}: {name_of(svc)}"
        selected = pods_selected({"matchLabels": svc["spec"].get("selector") or {}})
        if not selected:
            report.error(where, "selects no pods")
        for port in svc["spec"].get("ports") or []:
            target = port.get("targetPort")
            if isinstance(target, str) and not all(target in container_port_names(t) for _, t in selected):
                report.error(where, f"targetPort {target!r} is not a container port of every selected pod")

    def service_port(where, name, port):
        svc = by_kind.get("Service", {}).get(name)
        if svc is None:
            report.error(where, f"no Service {name!r}")
            return
        names = {p.get("name") for p in svc["spec"].get("ports") or []}
        numbers = {p.get("port") for p in svc["spec"].get("ports") or []}
        if "name" in port and port["name"] not in names:
            report.error(where, f"Service {name!r} has no port named {port['name']!r}")
        if "number" in port and port["number"] not in numbers:
            report.error(where, f"Service {name!r} has no port {port['number']}")

    for ing in by_kind.get("Ingress", {}).values():
        where = f"{overlay}: {name_of(ing)}"
        for rule in ing["spec"].get("rules") or []:
            for path in rule.get("http", {}).get("paths") or []:
                backend = path["backend"]["service"]
                service_port(where, backend["name"], backend["port"])

    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        target = hpa["spec"]["scaleTargetRef"]
        if target["name"] not in by_kind.get(target["kind"], {}):
            report.error(f"{overlay}: {name_of(hpa)}", f"scales missing {target['kind']}/{target['name']}")

    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        if not pods_selected(pdb["spec"]["selector"]):
            report.error(f"{overlay}: {name_of(pdb)}", "selects no pods")

    for pol in by_kind.get("NetworkPolicy", {}).values():
        where = f"{overlay}: {name_of(pol)}"
        selector = pol["spec"]["podSelector"]
        if selector == {}:
            continue
        selected = pods_selected(selector)
        if not selected:
            report.error(where, "podSelector selects no pods")
        for rule in pol["spec"].get("ingress") or []:
            for port in rule.get("ports") or []:
                if isinstance(port.get("port"), str):
                    for w, t in selected:
                        if port["port"] not in container_port_names(t):
                            report.error(where, f"{name_of(w)} has no container port named {port['port']!r}")
            for peer in rule.get("from") or []:
                if "podSelector" in peer and "namespaceSelector" not in peer and not pods_selected(peer["podSelector"]):
                    report.error(where, f"ingress peer {peer['podSelector']} selects no pods")

    for mon in by_kind.get("ServiceMonitor", {}).values():
        where = f"{overlay}: {name_of(mon)}"
        services = [
            s for s in by_kind.get("Service", {}).values()
            if selector_matches(mon["spec"]["selector"], s["metadata"].get("labels") or {})
        ]
        if not services:
            report.error(where, "selects no Service")
        for endpoint in mon["spec"]["endpoints"]:
            for s in services:
                if endpoint["port"] not in {p.get("name") for p in s["spec"]["ports"]}:
                    report.error(where, f"{name_of(s)} has no port named {endpoint['port']!r}")
            secret = endpoint.get("tlsConfig", {}).get("ca", {}).get("secret", {}).get("name")
            if secret and secret not in EXTERNAL_SECRETS and secret not in by_kind.get("Secret", {}):
                report.error(where, f"CA Secret {secret!r} is neither rendered nor documented")

    for mon in by_kind.get("PodMonitor", {}).values():
        where = f"{overlay}: {name_of(mon)}"
        selected = pods_selected(mon["spec"]["selector"])
        if not selected:
            report.error(where, "selects no pods")
        for endpoint in mon["spec"]["podMetricsEndpoints"]:
            for w, t in selected:
                if endpoint["port"] not in container_port_names(t):
                    report.error(where, f"{name_of(w)} has no container port named {endpoint['port']!r}")

    for workload, template in templates:
        where = f"{overlay}: {name_of(workload)}"
        spec = template["spec"]
        account = spec.get("serviceAccountName")
        if account and account not in by_kind.get("ServiceAccount", {}):
            report.error(where, f"ServiceAccount {account!r} is not rendered")
        refs = []
        for c in containers(template):
            for source in c.get("envFrom") or []:
                if "configMapRef" in source:
                    refs.append(("ConfigMap", source["configMapRef"]["name"]))
                if "secretRef" in source:
                    refs.append(("Secret", source["secretRef"]["name"]))
            for env in c.get("env") or []:
                value_from = env.get("valueFrom") or {}
                if "configMapKeyRef" in value_from:
                    refs.append(("ConfigMap", value_from["configMapKeyRef"]["name"]))
                if "secretKeyRef" in value_from:
                    refs.append(("Secret", value_from["secretKeyRef"]["name"]))
        for volume in spec.get("volumes") or []:
            if "secret" in volume:
                refs.append(("Secret", volume["secret"]["secretName"]))
            if "configMap" in volume:
                refs.append(("ConfigMap", volume["configMap"]["name"]))
            for source in (volume.get("projected") or {}).get("sources") or []:
                if "secret" in source:
                    refs.append(("Secret", source["secret"]["name"]))
        for kind, name in refs:
            if name in by_kind.get(kind, {}):
                continue
            if kind == "Secret" and name in EXTERNAL_SECRETS:
                continue
            report.error(where, f"{kind} {name!r} is not rendered")


def check_pod_rules(overlay, objs, report):
    config = {}
    for obj in objs:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("boxoffice-config"):
            config = obj.get("data") or {}
    drain = int(config.get("BOXOFFICE_SHUTDOWN_TIMEOUT_SECS", "20"))
    for workload, template in pod_templates(objs):
        where = f"{overlay}: {name_of(workload)}"
        spec = template["spec"]
        pod_security = spec.get("securityContext") or {}
        if pod_security.get("runAsNonRoot") is not True:
            report.error(where, "pod securityContext.runAsNonRoot is not true")
        if (pod_security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            report.error(where, "pod seccompProfile is not RuntimeDefault")
        for c in containers(template):
            cwhere = f"{where} container {c['name']}"
            security = c.get("securityContext") or {}
            if security.get("allowPrivilegeEscalation") is not False:
                report.error(cwhere, "allowPrivilegeEscalation is not false")
            if (security.get("capabilities") or {}).get("drop") != ["ALL"]:
                report.error(cwhere, "capabilities are not dropped")
            resources = c.get("resources") or {}
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(bound) or {}):
                        report.error(cwhere, f"no {bound}.{resource}")
        labels = template["metadata"].get("labels") or {}
        if labels.get("app.kubernetes.io/name") == "boxoffice" and labels.get("app.kubernetes.io/component") in (
            "search",
            "booking",
        ):
            main = spec["containers"][0]
            if (main.get("readinessProbe") or {}).get("httpGet", {}).get("path") != "/readyz":
                report.error(where, "readiness probe is not GET /readyz")
            if (main.get("livenessProbe") or {}).get("httpGet", {}).get("path") != "/healthz":
                report.error(where, "liveness probe is not GET /healthz")
            pre_stop = ((main.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
            grace = spec.get("terminationGracePeriodSeconds", 30)
            if grace <= pre_stop + drain:
                report.error(where, f"terminationGracePeriodSeconds {grace} <= preStop {pre_stop} + drain {drain}")


def check_namespace(overlay, objs, report):
    expected = f"boxoffice-{overlay}"
    for obj in objs:
        if obj["kind"] == "Namespace":
            if obj["metadata"]["name"] != expected:
                report.error(f"{overlay}: {name_of(obj)}", f"expected namespace {expected}")
        elif obj["metadata"].get("namespace") != expected:
            report.error(f"{overlay}: {name_of(obj)}", f"not in namespace {expected}")


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings (long PromQL) as literal blocks, the way the rules file spells them."""


_LiteralDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def rule_resource_text(rules_path):
    rules = yaml.safe_load(Path(rules_path).read_text())
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "boxoffice",
            "labels": {"app.kubernetes.io/name": "boxoffice", "app.kubernetes.io/part-of": "boxoffice"},
        },
        "spec": rules,
    }
    header = (
        "# GENERATED from boxoffice.rules.yml by `scripts/k8s-check.sh --write-rule-resource`: edit the rules file,\n"
        "# then regenerate (make test fails while the two differ).\n"
    )
    return header + yaml.dump(resource, Dumper=_LiteralDumper, sort_keys=False, width=120)


def check_rule_resource(rules_path, resource_path, report):
    rules = yaml.safe_load(Path(rules_path).read_text())
    resource = yaml.safe_load(Path(resource_path).read_text())
    if resource.get("spec") != rules:
        report.error(
            str(resource_path),
            "differs from boxoffice.rules.yml: run scripts/k8s-check.sh --write-rule-resource",
        )


METRIC = re.compile(r"\b((?:boxoffice|http_server)_[a-z0-9_]+)\b")


def catalogue(metrics_rs):
    text = Path(metrics_rs).read_text()
    # The CATALOGUE entries: counter("name", ..), gauge("name", ..), seconds("name", ..).
    return set(re.findall(r'\b(?:counter|gauge|seconds)\(\s*"([a-z0-9_]+)"', text))


def metric_names(expr):
    names = set()
    for name in METRIC.findall(expr):
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix) and name.endswith("_seconds" + suffix):
                name = name[: -len(suffix)]
        names.add(name)
    return names


def check_dashboard(dashboard_path, rules_path, metrics_rs, promtool, report):
    dashboard = json.loads(Path(dashboard_path).read_text())
    known = catalogue(metrics_rs)
    if not known:
        report.error(metrics_rs, "no CATALOGUE entries found")
    exprs = []

    def walk(panels):
        for panel in panels:
            walk(panel.get("panels") or [])
            for target in panel.get("targets") or []:
                exprs.append((panel["title"], target["expr"]))

    walk(dashboard["panels"])
    if not exprs:
        report.error(dashboard_path, "no queries")
    rules = [
        {
            "record": f"dashboard:panel_{i}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$region", ".*"),
        }
        for i, (_, expr) in enumerate(exprs)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    result = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    Path(f.name).unlink()
    if result.returncode != 0:
        report.error(dashboard_path, f"a query does not parse:\n{result.stdout}{result.stderr}")
    for title, expr in exprs:
        for name in metric_names(expr) - known:
            report.error(dashboard_path, f"panel {title!r} uses {name}, which src/metrics.rs does not describe")
    for group in yaml.safe_load(Path(rules_path).read_text())["groups"]:
        for rule in group["rules"]:
            for name in metric_names(rule["expr"]) - known:
                label = rule.get("alert") or rule.get("record")
                report.error(rules_path, f"{label} uses {name}, which src/metrics.rs does not describe")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--render", action="append", default=[], metavar="OVERLAY=FILE")
    parser.add_argument("--example", action="append", default=[], metavar="FILE")
    parser.add_argument("--rules", required=True)
    parser.add_argument("--rule-resource", required=True)
    parser.add_argument("--dashboard")
    parser.add_argument("--catalogue")
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--write-rule-resource", action="store_true")
    args = parser.parse_args()

    if args.write_rule_resource:
        Path(args.rule_resource).write_text(rule_resource_text(args.rules))
        print(f"wrote {args.rule_resource}")
        return 0

    report = Report()
    counted = 0
    for spec in args.render:
        overlay, path = spec.split("=", 1)
        objs = load_all(path)
        counted += len(objs)
        check_schemas(overlay, objs, report)
        check_references(overlay, objs, report)
        check_pod_rules(overlay, objs, report)
        check_namespace(overlay, objs, report)
    for path in args.example:
        objs = load_all(path)
        counted += len(objs)
        check_schemas(Path(path).name, objs, report)
    check_rule_resource(args.rules, args.rule_resource, report)
    if args.dashboard:
        check_dashboard(args.dashboard, args.rules, args.catalogue, args.promtool, report)

    for error in report.errors:
        print(f"ERROR {error}")
    if report.errors:
        print(f"k8s_check: {len(report.errors)} problem(s) in {counted} objects")
        return 1
    print(f"k8s_check: {counted} objects of {len(args.render)} overlays valid against Kubernetes {KUBERNETES_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
