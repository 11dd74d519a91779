#!/usr/bin/python3
"""Operations suite (issue 18, "What must be shown" 1 to 4):

  static (no daemons):
    - the rules file passes `promtool check rules`; the PrometheusRule
      carries the same groups (k8s/monitoring/sync-rules --check);
    - `promtool test rules` per alert: it fires with the stated labels and
      stays quiet otherwise (alert_cases.py); every alert has a case and a
      runbook section in k8s/README.md that its runbook_url names;
    - the staging and prod renders hold a ServiceMonitor per daemon that
      selects the daemon's Service and names its admin port, the
      PrometheusRule and the dashboard ConfigMap (the JSON file as is);
    - every dashboard query parses (promtool check rules over them);
    - the local recipe of k8s/README.md (<!-- recipe:local -->): every
      manifest it applies renders and passes tests/integration/deploy's
      policy, every image/job/deployment/service it names exists, every
      Secret and ConfigMap key a workload reads is created by the recipe,
      the overlay or the bootstrap Job; on staging and prod every Secret key
      comes from an ExternalSecret or the bootstrap Job;
  live (scripts/kumo_stack.py: MariaDB and the four daemons, debug logs):
    - a traced BFF request (traceparent + x-request-id, a fresh API key) that
      reaches kumo-users (key exchange), kumo-documents and kumo-storage
      (CompleteUpload): every daemon's log holds the trace id, the client's
      span is the parent (not reused), x-request-id is kept; a request
      without traceparent starts a trace that documents' log continues;
    - `promtool check metrics` is clean on every daemon's /metrics;
    - every metric the dashboard uses exists on a live daemon, and every
      dashboard query runs on a real Prometheus scraping the stack;
    - induced failures: a job made to fail until it dead-letters ->
      KumoDeadLettersWaiting (and KumoJobsFailing) pending/firing;
      kumo-documents stopped -> KumoDaemonDown pending/firing for it;
    - backup and restore with the local overlay's CronJob scripts: dump,
      drop both databases, restore; the stack serves the users and
      documents again;
    - every daemon exits 0 on SIGTERM; no sanitizer report in the logs.

Usage: ops_test.py BUILD_DIR    prints TAP lines "ok - ops: ..."
OPS_TEST_KEEP=1 keeps the work directory.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
MON = os.path.join(ROOT, "k8s", "monitoring")
RULES = os.path.join(MON, "kumo-alerts.rules.yml")
DASHBOARD = os.path.join(MON, "kumo-overview.json")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import kumo_stack  # noqa: E402
from alert_cases import CASES  # noqa: E402

API = "/api/v1"
DAEMONS = ("users", "documents", "storage", "bff")
passed = 0
failed = 0
TMP = None


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - ops: " + name, flush=True)
    else:
        failed += 1
        print("not ok - ops: " + name, flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("#   " + line, flush=True)
    return ok


def note(msg):
    print("# " + msg, flush=True)


class Fail(AssertionError):
    pass


def expect(cond, diag):
    if not cond:
        raise Fail(diag)


def case(name, fn, *a):
    try:
        fn(*a)
        report(True, name)
    except Fail as e:
        report(False, name, str(e))
    except Exception:  # noqa: BLE001 - a crash is a failed case
        report(False, name, traceback.format_exc())


def run(cmd, stdin=None, timeout=60):
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def poll(fn, timeout, step=0.2):
    end = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(step)


# ---- static ------------------------------------------------------------------------------

def load_rules():
    with open(RULES) as f:
        return yaml.safe_load(f)


def alerts(rules):
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def s_rules_check():
    rc, out = run(["promtool", "check", "rules", RULES])
    expect(rc == 0, out)
    rc, out = run([os.path.join(MON, "sync-rules"), "--check"])
    expect(rc == 0, out)
    with open(os.path.join(MON, "prometheusrule.yaml")) as f:
        pr = yaml.safe_load(f)
    expect(pr["kind"] == "PrometheusRule" and pr["spec"]["groups"] == load_rules()["groups"],
           "PrometheusRule groups differ from the rules file")


def render_annotations(rule, labels):
    out = {}
    for k, v in (rule.get("annotations") or {}).items():
        def sub(m):
            return labels.get(m.group(1), "")
        out[k] = re.sub(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", sub, v)
        expect("{{" not in out[k], "%s: annotation %s templates more than $labels" % (
            rule["alert"], k))
    return out


def promtool_test(rule, cases):
    tests = []
    for desc, series, at, exp in cases:
        exp_alerts = []
        for labels in exp:
            full = dict(labels)
            full.update(rule.get("labels") or {})
            exp_alerts.append({"exp_labels": full,
                               "exp_annotations": render_annotations(rule, full)})
        tests.append({"name": "%s: %s" % (rule["alert"], desc), "interval": "1m",
                      "input_series": series,
                      "alert_rule_test": [{"eval_time": at, "alertname": rule["alert"],
                                           "exp_alerts": exp_alerts}]})
    path = os.path.join(TMP, "test-%s.yml" % rule["alert"])
    with open(path, "w") as f:
        yaml.safe_dump({"rule_files": [RULES], "evaluation_interval": "1m", "tests": tests}, f,
                       sort_keys=False)
    rc, out = run(["promtool", "test", "rules", path])
    expect(rc == 0, out)
    expect(any(c[3] for c in cases) and any(not c[3] for c in cases),
           "needs a firing and a quiet case")


def s_runbooks(rules):
    with open(os.path.join(ROOT, "k8s", "README.md")) as f:
        readme = f.read()
    heads = set(re.findall(r"^#{2,4} (Kumo[A-Za-z]+)\s*$", readme, re.M))
    missing = []
    for r in alerts(rules):
        url = (r.get("annotations") or {}).get("runbook_url", "")
        if r["alert"] not in heads or not url.endswith("k8s/README.md#" + r["alert"].lower()):
            missing.append(r["alert"])
        else:
            sec = readme.split("\n### " + r["alert"], 1)[1].split("\n### ", 1)[0]
            for word in ("Means", "Check", "Fix"):
                if "**%s**" % word not in sec:
                    missing.append("%s (no **%s**)" % (r["alert"], word))
    expect(not missing, "runbook sections missing or incomplete: %s" % ", ".join(missing))


def kustomize(overlay):
    rc, out = run(["kubectl", "kustomize", os.path.join(ROOT, "k8s", "overlays", overlay)],
                  timeout=120)
    expect(rc == 0, out[-2000:])
    return [d for d in yaml.safe_load_all(out) if d]


def s_servicemonitors(overlay):
    docs = kustomize(overlay)
    svcs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    sms = [d for d in docs if d["kind"] == "ServiceMonitor"]
    for svc in DAEMONS:
        name = "kumo-" + svc
        s = svcs.get(name)
        expect(s is not None, "no Service %s" % name)
        match = [m for m in sms if all(s["metadata"]["labels"].get(k) == v for k, v in
                                       m["spec"]["selector"]["matchLabels"].items())]
        expect(len(match) == 1, "%s: %d ServiceMonitors select it" % (name, len(match)))
        ports = {p["name"] for p in s["spec"]["ports"]}
        ep = match[0]["spec"]["endpoints"]
        expect(ep and ep[0]["port"] == "admin" and "admin" in ports and
               ep[0]["path"] == "/metrics", "%s: endpoints %r, ports %r" % (name, ep, ports))
        expect(match[0]["metadata"].get("namespace") == s["metadata"].get("namespace"),
               "%s: ServiceMonitor in another namespace" % name)
    prs = [d for d in docs if d["kind"] == "PrometheusRule"]
    expect(len(prs) == 1 and prs[0]["spec"]["groups"] == load_rules()["groups"],
           "PrometheusRule missing or different")
    cms = [d for d in docs if d["kind"] == "ConfigMap" and
           (d["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    with open(DASHBOARD) as f:
        want = json.load(f)
    expect(len(cms) == 1 and json.loads(cms[0]["data"]["kumo-overview.json"]) == want,
           "dashboard ConfigMap missing or different")


def dashboard_queries():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return out


def concrete(expr):
    """A dashboard query with Grafana's variables given values."""
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
            .replace("$job", "kumo-.*"))


def s_dashboard_parses():
    qs = dashboard_queries()
    expect(len(qs) >= 20, "only %d queries" % len(qs))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:q%d" % i, "expr": concrete(e)} for i, (_, e) in enumerate(qs)]}]}
    path = os.path.join(TMP, "dashboard-queries.yml")
    with open(path, "w") as f:
        yaml.safe_dump(rules, f)
    rc, out = run(["promtool", "check", "rules", path])
    expect(rc == 0, out)


PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "rate",
                "increase", "irate", "histogram_quantile", "and", "or", "unless", "bool",
                "group_left", "group_right", "offset", "time", "le", "inf", "nan", "topk",
                "bottomk", "label_values"}


def dashboard_metrics():
    names = set()
    for _, e in dashboard_queries():
        e = re.sub(r'\{[^}]*\}', "", e)           # label matchers
        e = re.sub(r'"[^"]*"', "", e)
        e = re.sub(r"\[[^\]]*\]", "", e)          # ranges
        e = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", e)
        for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
            if w.lower() not in PROMQL_WORDS:
                names.add(w)
    return names


# ---- the operator's recipe (k8s/README.md) ---------------------------------------------------

sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "deploy"))


def recipe_lines():
    with open(os.path.join(ROOT, "k8s", "README.md")) as f:
        text = f.read()
    expect("<!-- recipe:local -->" in text, "no <!-- recipe:local --> block in k8s/README.md")
    block = text.split("<!-- recipe:local -->", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    block = block.replace("\\\n", " ")
    lines, loop = [], None
    for raw in block.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        m = re.match(r"for (\w+) in ([^;]+); do$", line)
        if m:
            loop = (m.group(1), m.group(2).split())
            continue
        if line == "done":
            loop = None
            continue
        if loop:
            lines += [line.replace("$" + loop[0], v) for v in loop[1]]
        else:
            lines.append(line)
    return lines


def bootstrap_published(docs):
    """Secrets the bootstrap Job's publish container writes: {name: {keys}}."""
    out = {}
    for d in docs:
        if d["kind"] != "Job" or not d["metadata"]["name"].endswith("-bootstrap"):
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e.get("value", "") for e in c.get("env") or []}
            script = " ".join(c.get("args") or []) + " ".join(c.get("command") or [])
            if "kubectl create secret generic" in script and "KUMO_KEY_SERVICES" in env:
                m = re.search(r'"kumo-\$s-apikey" --from-file=(\w+)=', script)
                expect(m, "bootstrap publish script: %s" % script[:300])
                for svc in env["KUMO_KEY_SERVICES"].split():
                    out.setdefault("kumo-%s-apikey" % svc, set()).add(m.group(1))
    return out


def needed_keys(docs, build):
    """(kind, name, key, where) every workload of the render reads: env refs,
    and files under Secret/ConfigMap volumes that its KUMO_*_FILE(S) settings
    name (volumes with items name their keys)."""
    import policy  # tests/integration/deploy
    need = []
    for d in docs:
        pod = policy.pod_spec(d)
        if pod is None:
            continue
        vols = {v["name"]: v for v in pod.get("volumes") or []}
        for c in (pod.get("initContainers") or []) + pod["containers"]:
            where = "%s/%s %s" % (d["kind"], d["metadata"]["name"], c["name"])
            for ef in c.get("envFrom") or []:
                for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if ref in ef and not ef[ref].get("optional"):
                        need.append((kind, ef[ref]["name"], None, where))
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                for kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if ref in vf and not vf[ref].get("optional"):
                        need.append((kind, vf[ref]["name"], vf[ref]["key"], where))
            env = policy.effective_env(d, c, docs, [], where)
            paths = [p for k, v in env.items() if k.endswith(("_FILE", "_FILES"))
                     for p in v.split(",") if p.startswith("/")]
            for m in c.get("volumeMounts") or []:
                v = vols.get(m["name"]) or {}
                for kind, key, name_field in (("Secret", "secret", "secretName"),
                                              ("ConfigMap", "configMap", "name")):
                    if key not in v or v[key].get("optional"):
                        continue
                    name = v[key][name_field]
                    items = v[key].get("items")
                    if items:
                        for it in items:
                            need.append((kind, name, it["key"], where))
                        continue
                    mp = m["mountPath"].rstrip("/") + "/"
                    for p in paths:
                        if p.startswith(mp):
                            need.append((kind, name, p[len(mp):], where))
                    if kind == "ConfigMap":
                        need.append((kind, name, None, where))
    return need


def check_keys(docs, build, extra, label):
    have = {}
    for d in docs:
        if d["kind"] in ("Secret", "ConfigMap"):
            keys = set((d.get("data") or {}).keys()) | set((d.get("stringData") or {}).keys())
            have.setdefault((d["kind"], d["metadata"]["name"]), set()).update(keys)
    for (kind, name), keys in extra.items():
        have.setdefault((kind, name), set()).update(keys)
    missing = []
    need = needed_keys(docs, build)
    for kind, name, key, where in need:
        got = have.get((kind, name))
        if got is None or (key is not None and key not in got):
            missing.append("%s: %s %s%s" % (where, kind, name, "" if key is None else "/" + key))
    expect(not missing, "%s: read but created nowhere:\n%s" % (label, "\n".join(
        sorted(set(missing)))))
    return len(need)


def s_recipe(build):
    import policy  # tests/integration/deploy
    lines = recipe_lines()
    rendered, created, names = [], {}, []
    applied_files = []
    for line in lines:
        argv = line.split()
        if argv[:2] == ["docker", "build"]:
            f = argv[argv.index("-f") + 1]
            expect(os.path.exists(os.path.join(ROOT, f)), "recipe builds from missing %s" % f)
            tag = argv[argv.index("-t") + 1]
            names.append(("image", tag))
        elif argv[:2] == ["kubectl", "apply"] and "-k" in argv:
            d = argv[argv.index("-k") + 1]
            rc, out = run(["kubectl", "kustomize", os.path.join(ROOT, d)], timeout=120)
            expect(rc == 0, out[-2000:])
            docs = [x for x in yaml.safe_load_all(out) if x]
            v, _, _ = policy.check(docs, "local", policy.load_daemons(build))
            expect(not v, "%s fails the deploy policy:\n%s" % (d, "\n".join(v[:20])))
            rendered += docs
        elif argv[:2] == ["kubectl", "apply"] and "-f" in argv:
            f = argv[argv.index("-f") + 1]
            with open(os.path.join(ROOT, f)) as fh:
                applied_files += [x for x in yaml.safe_load_all(fh) if x]
        elif "create" in argv and "secret" in argv and "generic" in argv:
            name = argv[argv.index("generic") + 1]
            keys = created.setdefault(("Secret", name), set())
            for a in argv:
                m = re.match(r"--from-(?:file|literal)=([^=]+)=", a)
                expect(m or not a.startswith("--from-"), "unparsed %s" % a)
                if m:
                    keys.add(m.group(1))
        for ref in re.findall(r"\b(job|deployment|statefulset|svc)/([a-z0-9-]+)", line):
            names.append(ref)
    expect(rendered, "the recipe applies no kustomization")
    ns = {d["metadata"]["name"] for d in applied_files + rendered if d["kind"] == "Namespace"}
    expect(any(d["kind"] == "Namespace" for d in applied_files),
           "the namespace is not created before the secrets")
    kinds = {"job": "Job", "deployment": "Deployment", "statefulset": "StatefulSet",
             "svc": "Service"}
    have = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    images = {c["image"] for d in rendered if policy.pod_spec(d)
              for c in policy.pod_spec(d)["containers"]}
    bad = []
    for kind, name in names:
        if kind == "image":
            if name not in images:
                bad.append("image %s not used by the overlay (%s)" % (name, sorted(images)))
        elif (kinds[kind], name) not in have:
            bad.append("%s/%s not in the render" % (kind, name))
    expect(not bad, "\n".join(bad))
    extra = dict(created)
    for name, keys in bootstrap_published(rendered).items():
        extra.setdefault(("Secret", name), set()).update(keys)
    n = check_keys(rendered, build, extra, "local")
    note("recipe: %d commands, namespace %s, %d secret/configmap references covered" % (
        len(lines), ",".join(sorted(ns)), n))


def s_aws_secrets(build, overlay):
    docs = kustomize(overlay)
    extra = {}
    for d in docs:
        if d["kind"] == "ExternalSecret":
            t = d["spec"]["target"]["name"]
            extra.setdefault(("Secret", t), set()).update(x["secretKey"] for x in d["spec"]["data"])
    for name, keys in bootstrap_published(docs).items():
        extra.setdefault(("Secret", name), set()).update(keys)
    check_keys(docs, build, extra, overlay)


# ---- live ----------------------------------------------------------------------------------

class W:
    pass


def http(method, port, path, body=None, headers=None, timeout=30):
    url = path if path.startswith("http") else "http://127.0.0.1:%d%s" % (port, path)
    data = None
    h = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if not isinstance(body, bytes):
            h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def bff(w, method, path, tok=None, body=None, headers=None):
    h = dict(headers or {})
    if tok:
        h["Authorization"] = "Bearer " + tok
    st, hd, b = http(method, w.bff_port, API + path, body, h)
    try:
        j = json.loads(b) if b else None
    except ValueError:
        j = None
    return st, hd, j


def setup_stack(w, build):
    st = kumo_stack.Stack(ROOT, build, os.path.join(TMP, "stack"), log_level="debug")
    w.st = st
    st.start_mariadb()
    st.secrets()
    st.migrate("users")
    st.migrate("documents")
    st.bootstrap()
    st.start("users")
    st.start("storage")
    # No job workers yet: the dead-letter case breaks a job before any runs.
    st.start("documents", env={"KUMO_JOBS_WORKERS": "0"})
    st.start("bff")
    w.bff_port = st.daemons["bff"].http_port
    s, _, j = bff(w, "POST", "/auth/login", body={"tenant": st.demo_tenant,
                                                  "email": st.demo_email,
                                                  "password": st.demo_password})
    expect(s == 200 and j and j.get("access_token"), "login %d %r" % (s, j))
    w.tok = j["access_token"]


def create_uploaded(w, label, data=None):
    data = data or os.urandom(4096) + b"kumo ops " + label.encode()
    s, _, j = bff(w, "POST", "/documents", w.tok, body={
        "file_name": label + ".txt", "file_size": len(data), "content_type": "text/plain",
        "title": "ops " + label})
    expect(s == 201 and j, "create %d %r" % (s, j))
    hdrs = {k: v for k, v in (j.get("upload_headers") or {}).items()
            if k.lower() not in ("content-length", "host")}
    if not any(k.lower() == "content-type" for k in hdrs):
        hdrs["Content-Type"] = "text/plain"
    us, _, ub = http(j.get("http_method") or "PUT", 0, j["upload_url"], data, hdrs)
    expect(us in (200, 201, 204), "PUT upload %d %r" % (us, ub[:300]))
    return j["document_id"]


def log_lines(w, name):
    path = w.st.daemons[name].log
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def c_trace(w):
    doc = create_uploaded(w, "traced")
    s, _, j = bff(w, "POST", "/api-keys", w.tok, body={"name": "ops-trace", "role": "editor"})
    expect(s == 201 and j and j.get("secret"), "POST /api-keys %d %r" % (s, j))
    key = j["secret"]
    trace_id = os.urandom(16).hex()
    client_span = os.urandom(8).hex()
    rid = "ops-trace-" + os.urandom(4).hex()
    s, _, j = bff(w, "POST", "/documents/%s/complete" % doc, key, body={}, headers={
        "traceparent": "00-%s-%s-01" % (trace_id, client_span), "tracestate": "ops=1",
        "X-Request-Id": rid})
    expect(s == 200, "complete %d %r" % (s, j))
    w.doc = doc
    # A second document, left intact, for the backup and restore case.
    w.kept_data = os.urandom(3000) + b"kept through a restore"
    w.kept = create_uploaded(w, "kept", w.kept_data)
    s, _, j = bff(w, "POST", "/documents/%s/complete" % w.kept, w.tok, body={})
    expect(s == 200, "complete kept %d %r" % (s, j))
    time.sleep(0.3)  # the last lines of the hops
    seen = {}
    for name in DAEMONS:
        lines = [x for x in log_lines(w, name) if x.get("trace_id") == trace_id]
        expect(lines, "kumo-%s: no log line with trace id %s" % (name, trace_id))
        spans = {x.get("span_id") for x in lines}
        expect(all(re.fullmatch(r"[0-9a-f]{16}", sp or "") for sp in spans), spans)
        expect(client_span not in spans, "kumo-%s reused the client's span id" % name)
        seen[name] = (len(lines), sorted(spans), {x.get("msg") for x in lines})
    docs_lines = [x for x in log_lines(w, "documents") if x.get("trace_id") == trace_id]
    expect(any(x.get("request_id") == rid for x in docs_lines),
           "kumo-documents lost the x-request-id: %r" % docs_lines[:3])
    # grep <trace id> var/logs/* shows the whole path.
    rc, out = run(["grep", "-l", trace_id] + glob.glob(os.path.join(w.st.logs_dir, "*.log")))
    files = {os.path.basename(x) for x in out.split()}
    expect({"users.log", "documents.log", "storage.log", "bff.log"} <= files, files)
    note("trace %s: %s" % (trace_id, "; ".join("%s %d lines, spans %s" % (n, v[0], ",".join(v[1]))
                                              for n, v in seen.items())))
    # No traceparent: the BFF starts a trace that kumo-documents continues.
    rid2 = "ops-untraced-" + os.urandom(4).hex()
    s, _, j = bff(w, "GET", "/documents/%s" % doc, w.tok, headers={"X-Request-Id": rid2})
    expect(s == 200, "get %d" % s)
    time.sleep(0.2)
    b = [x for x in log_lines(w, "bff") if x.get("request_id") == rid2]
    expect(b and re.fullmatch(r"[0-9a-f]{32}", b[-1].get("trace_id") or ""), b)
    t2 = b[-1]["trace_id"]
    d = [x for x in log_lines(w, "documents") if x.get("trace_id") == t2]
    expect(d and all(x.get("request_id") == rid2 for x in d), d[:3])
    # A malformed traceparent is not honoured: a new trace.
    s, _, _ = bff(w, "GET", "/documents/%s" % doc, w.tok, headers={
        "traceparent": "00-%s-%s-01" % ("0" * 32, client_span), "X-Request-Id": rid2 + "x"})
    time.sleep(0.2)
    b = [x for x in log_lines(w, "bff") if x.get("request_id") == rid2 + "x"]
    expect(b and b[-1].get("trace_id") not in (None, "0" * 32), b)


def metrics_text(port):
    s, _, body = http("GET", port, "/metrics")
    expect(s == 200, "/metrics %d" % s)
    return body.decode()


def c_promtool_metrics(w, name):
    text = metrics_text(w.st.daemons[name].admin_port)
    rc, out = run(["promtool", "check", "metrics"], stdin=text.encode())
    expect(rc == 0 and not out.strip(), out)
    fams = len(re.findall(r"^# TYPE ", text, re.M))
    note("kumo-%s: %d families, %d samples" % (name, fams, len(
        [x for x in text.splitlines() if x and not x.startswith("#")])))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_prometheus(w):
    w.prom_port = free_port()
    cfg = {"global": {"scrape_interval": "1s", "scrape_timeout": "900ms",
                      "evaluation_interval": "1s"},
           "rule_files": [RULES],
           "scrape_configs": [
               {"job_name": "kumo-" + n,
                "static_configs": [{"targets": ["127.0.0.1:%d" % w.st.daemons[n].admin_port]}]}
               for n in DAEMONS]}
    path = os.path.join(TMP, "prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    log = open(os.path.join(TMP, "prometheus.log"), "wb")
    w.prom = subprocess.Popen(
        ["prometheus", "--config.file=" + path, "--storage.tsdb.path=" + os.path.join(TMP, "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % w.prom_port, "--log.level=warn"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    log.close()

    def all_up():
        r = prom(w, "/api/v1/targets")
        if not r:
            return False
        ts = r["data"]["activeTargets"]
        return len(ts) == 4 and all(t["health"] == "up" for t in ts)
    expect(poll(all_up, 30, 0.5), "targets not up: %r" % prom(w, "/api/v1/targets"))


def prom(w, path, **params):
    q = ("?" + urllib.parse.urlencode(params)) if params else ""
    try:
        s, _, b = http("GET", w.prom_port, path + q, timeout=10)
    except OSError:
        return None
    try:
        return json.loads(b)
    except ValueError:
        return None


def alert_state(w, name, **labels):
    r = prom(w, "/api/v1/alerts")
    if not r:
        return None
    for a in r["data"]["alerts"]:
        if a["labels"].get("alertname") == name and all(
                a["labels"].get(k) == v for k, v in labels.items()):
            return a["state"]
    return None


def c_dead_letter_alert(w):
    st = w.st
    # The extract job of this document can never succeed: its version's
    # object is not where the row says. Workers start after the change.
    n = st.sql("UPDATE document_versions SET object_key = CONCAT(object_key, '-gone')"
               " WHERE document_id = '%s'" % w.doc, "kumo_documents")
    note("broken object key: %r" % (n,))
    admin = st.daemons["documents"].admin_port
    rpc = st.daemons["documents"].rpc_port
    expect(st.stop("documents") == 0, "documents SIGTERM exit code")
    # The same ports, so Prometheus keeps scraping it and the BFF reaching it; the retry comes
    # 2 s after the first failure, so at least the dead-lettering run is
    # scraped as an increase.
    st.start("documents", env={"KUMO_JOBS_WORKERS": "1", "KUMO_JOBS_MAX_ATTEMPTS": "2",
                               "KUMO_JOBS_BACKOFF_BASE": "2s", "KUMO_JOBS_BACKOFF_MAX": "2s",
                               "KUMO_JOBS_POLL_INTERVAL": "100ms",
                               "KUMO_JOBS_SWEEP_INTERVAL": "1s", "KUMO_ADMIN_PORT": str(admin),
                               "KUMO_RPC_PORT": str(rpc)})

    def dead():
        rows = st.sql("SELECT COUNT(*) FROM dead_letters WHERE document_id = '%s'" % w.doc,
                      "kumo_documents")
        return rows and rows[0][0] != "0"
    expect(poll(dead, 30, 0.3), "no dead letter: jobs %r" % st.sql(
        "SELECT kind, attempts, last_error FROM jobs", "kumo_documents"))
    text = poll(lambda: (lambda t: t if re.search(r"^kumo_jobs_dead_letters [1-9]", t, re.M)
                         else None)(metrics_text(st.daemons["documents"].admin_port)), 15, 0.3)
    expect(text, "kumo_jobs_dead_letters stays 0")
    expect(re.search(r'^kumo_jobs_total\{kind="extract",outcome="dead"\} 1$', text, re.M),
           "no kumo_jobs_total{kind=extract,outcome=dead}")


def c_alert_fires(w, name, labels, timeout=60):
    states = []

    def state():
        s = alert_state(w, name, **labels)
        states.append(s)
        return s in ("pending", "firing")
    ok = poll(state, timeout, 0.5)
    expect(ok, "%s%r not pending/firing within %ds (last %r); rules: %s" % (
        name, labels, timeout, states[-1:], json.dumps(prom(w, "/api/v1/alerts"))[:1500]))
    note("%s %r: %s" % (name, labels, states[-1]))


def c_dashboard_live(w):
    names = dashboard_metrics()
    texts = {n: metrics_text(w.st.daemons[n].admin_port) for n in DAEMONS}
    have = set()
    for t in texts.values():
        for m in re.findall(r"^# TYPE (\S+) (\S+)", t, re.M):
            have.add(m[0])
            if m[1] == "histogram":
                have.update({m[0] + "_bucket", m[0] + "_sum", m[0] + "_count"})
    missing = sorted(n for n in names if n not in have and n != "up")
    expect(not missing, "dashboard metrics on no live daemon: %s" % ", ".join(missing))
    bad = []
    for title, e in dashboard_queries():
        r = prom(w, "/api/v1/query", query=concrete(e))
        if not r or r.get("status") != "success":
            bad.append("%s: %s -> %r" % (title, e, r))
    expect(not bad, "\n".join(bad))
    note("dashboard: %d queries, %d metrics, all on live daemons" % (
        len(dashboard_queries()), len(names)))


def c_backup_restore(w, build):
    """backup.sh and restore.sh from the local overlay's ConfigMap, against
    the stack's MariaDB: dump, drop both databases, restore, and the
    restarted services serve the same users and documents."""
    st = w.st
    docs = kustomize("local")
    cm = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] ==
          "kumo-db-backup"]
    expect(cm, "no ConfigMap kumo-db-backup in the local overlay")
    cj = [d for d in docs if d["kind"] == "CronJob" and d["metadata"]["name"] == "kumo-db-backup"]
    expect(cj, "no CronJob kumo-db-backup")
    c = cj[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    cenv = {e["name"]: e.get("value") for e in c["env"]}
    expect("--single-transaction" in cm[0]["data"]["backup.sh"], "not a consistent dump")
    scripts = {}
    for name in ("backup.sh", "restore.sh"):
        scripts[name] = os.path.join(TMP, name)
        with open(scripts[name], "w") as f:
            f.write(cm[0]["data"][name])
    bdir = os.path.join(TMP, "backups")
    os.makedirs(bdir, exist_ok=True)
    env = dict(os.environ, DATABASES=cenv["DATABASES"], BACKUP_DIR=bdir, KEEP_DAYS="14",
               DB_SOCKET=os.path.join(st.db_dir, "mysql.sock"), DB_USER="root", MYSQL_PWD="")
    before_docs = st.sql("SELECT id, title, current_version FROM documents ORDER BY id",
                         "kumo_documents")
    before_users = st.sql("SELECT id, email FROM users ORDER BY id", "kumo_users")
    expect(before_docs and before_users, "nothing to back up")
    t = time.time()
    p = subprocess.run(["/bin/sh", scripts["backup.sh"]], env=env, capture_output=True,
                       timeout=120)
    expect(p.returncode == 0, (p.stdout + p.stderr).decode()[-2000:])
    runs = sorted(os.listdir(bdir))
    expect(len(runs) == 1 and runs[0].endswith("Z"), runs)
    files = sorted(os.listdir(os.path.join(bdir, runs[0])))
    expect(files == ["kumo_documents.sql.gz", "kumo_users.sql.gz"], files)
    note("backup %s: %s in %.1fs" % (runs[0], ", ".join(
        "%s %d bytes" % (f, os.path.getsize(os.path.join(bdir, runs[0], f))) for f in files),
        time.time() - t))
    ports = {}
    for n in ("documents", "users"):
        d = st.daemons[n]
        ports[n] = (d.rpc_port, d.admin_port)
        if d.alive():
            expect(d.stop() == 0, "%s SIGTERM exit code" % n)
    st.sql("DROP DATABASE kumo_documents")
    st.sql("DROP DATABASE kumo_users")
    gone = st.sql("SHOW DATABASES LIKE 'kumo%'")
    expect(not gone, "still there: %r" % gone)
    p = subprocess.run(["/bin/sh", scripts["restore.sh"]], env=env, capture_output=True,
                       timeout=120)
    expect(p.returncode == 0, (p.stdout + p.stderr).decode()[-2000:])
    expect(st.sql("SELECT id, title, current_version FROM documents ORDER BY id",
                  "kumo_documents") == before_docs, "documents differ after the restore")
    expect(st.sql("SELECT id, email FROM users ORDER BY id", "kumo_users") == before_users,
           "users differ after the restore")
    # The services come back on their ports and serve the restored data.
    for n in ("users", "documents"):
        st.start(n, env={"KUMO_RPC_PORT": str(ports[n][0]), "KUMO_ADMIN_PORT": str(ports[n][1]),
                         "KUMO_JOBS_WORKERS": "0"} if n == "documents" else
                 {"KUMO_RPC_PORT": str(ports[n][0]), "KUMO_ADMIN_PORT": str(ports[n][1])})
    s, _, j = bff(w, "POST", "/auth/login", body={"tenant": st.demo_tenant,
                                                  "email": st.demo_email,
                                                  "password": st.demo_password})
    expect(s == 200 and j and j.get("access_token"), "login after the restore %d %r" % (s, j))
    tok = j["access_token"]
    # The BFF's client finds its old connection dead on the first call
    # (unavailable at once, by design) and reconnects on the next.
    got = []
    poll(lambda: got.append(bff(w, "GET", "/documents/%s" % w.kept, tok)) or got[-1][0] == 200,
         15, 0.3)
    s, _, j = got[-1]
    expect(s == 200 and j, "GET the document after the restore: %d %r (%d tries)" % (
        s, j, len(got)))
    url = j.get("presigned_url") or (j.get("document") or {}).get("presigned_url")
    expect(url, "no presigned_url: %r" % j)
    ds, _, body = http("GET", 0, url)
    expect(ds == 200 and body == w.kept_data, "download after the restore: %d, %d bytes" % (
        ds, len(body)))
    s, _, j = bff(w, "GET", "/documents?page_size=100", tok)
    listed = {d.get("id") for d in (j or {}).get("documents", [])}
    expect(s == 200 and {w.kept, w.doc} <= listed, "list after the restore: %d %r" % (s, listed))
    note("restored %d documents and %d users; the BFF serves them" % (len(before_docs),
                                                                      len(before_users)))


def c_logs(w):
    codes = {}
    for name in list(w.st.order):
        d = w.st.daemons[name]
        if d.alive():
            codes[name] = d.stop()
    expect(all(c == 0 for c in codes.values()), "SIGTERM exit codes %r" % codes)
    bad = []
    for path in glob.glob(os.path.join(w.st.logs_dir, "*.log")):
        with open(path, errors="replace") as f:
            for line in f:
                if "ERROR: AddressSanitizer" in line or "runtime error:" in line or \
                        "LeakSanitizer" in line:
                    bad.append("%s: %s" % (os.path.basename(path), line.strip()[:200]))
    expect(not bad, "\n".join(bad[:10]))


def main():
    global TMP
    if len(sys.argv) != 2:
        print("usage: ops_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="kumo-ops-")
    t0 = time.time()
    w = W()
    w.prom = None
    try:
        case("promtool check rules; the PrometheusRule carries the same groups", s_rules_check)
        rules = load_rules()
        names = [r["alert"] for r in alerts(rules)]
        for r in alerts(rules):
            if r["alert"] not in CASES:
                report(False, "promtool test rules: %s fires and stays quiet" % r["alert"],
                       "no case in alert_cases.py")
                continue
            case("promtool test rules: %s fires (%d cases) and stays quiet" % (
                r["alert"], sum(1 for c in CASES[r["alert"]] if c[3])), promtool_test, r,
                CASES[r["alert"]])
        extra = sorted(set(CASES) - set(names))
        report(not extra, "every alert case names an alert of the rules", extra)
        case("every alert has a runbook section (means, check, fix) in k8s/README.md",
             s_runbooks, rules)
        for ov in ("staging", "prod"):
            case("%s renders a ServiceMonitor per daemon (admin port), the PrometheusRule and "
                 "the dashboard ConfigMap" % ov, s_servicemonitors, ov)
        case("every dashboard query parses (promtool)", s_dashboard_parses)
        case("k8s/README.md local recipe: every manifest it applies renders and passes the "
             "deploy policy, every name it uses exists, every Secret/ConfigMap key a workload "
             "reads is created by the recipe, the overlay or the bootstrap Job", s_recipe, build)
        for ov in ("staging", "prod"):
            case("%s: every Secret key a workload reads comes from an ExternalSecret or the "
                 "bootstrap Job" % ov, s_aws_secrets, build, ov)

        try:
            setup_stack(w, build)
        except Exception:  # noqa: BLE001
            report(False, "the stack starts", traceback.format_exc())
            return 1
        case("trace: one BFF request through users, documents, storage: its trace id in "
             "every daemon's log, client traceparent honoured, x-request-id kept; no "
             "traceparent starts a trace", c_trace, w)
        try:
            start_prometheus(w)
            report(True, "a real Prometheus scrapes the four daemons with the rules loaded")
        except Exception:  # noqa: BLE001
            report(False, "a real Prometheus scrapes the four daemons with the rules loaded",
                   traceback.format_exc())
        case("a job made to fail dead-letters (kumo_jobs_total, kumo_jobs_dead_letters)",
             c_dead_letter_alert, w)
        if w.prom:
            case("alert KumoDeadLettersWaiting pending/firing for kumo-documents",
                 c_alert_fires, w, "KumoDeadLettersWaiting", {"job": "kumo-documents"})
            case("alert KumoJobsFailing pending/firing for the extract jobs", c_alert_fires, w,
                 "KumoJobsFailing", {"job": "kumo-documents", "kind": "extract"})
        for n in DAEMONS:
            case("promtool check metrics: kumo-%s clean" % n, c_promtool_metrics, w, n)
        if w.prom:
            case("dashboard: every metric exists on a live daemon, every query runs on "
                 "Prometheus", c_dashboard_live, w)
            expect_doc = w.st.daemons["documents"]
            case("kumo-documents stopped", lambda: expect(expect_doc.stop() == 0, "exit code"))
            case("alert KumoDaemonDown pending/firing for kumo-documents", c_alert_fires, w,
                 "KumoDaemonDown", {"job": "kumo-documents"})
            case("backup and restore (local overlay's CronJob scripts): dump, drop the "
                 "databases, restore; the documents and users are back and served",
                 c_backup_restore, w, build)
            r = prom(w, "/api/v1/alerts") or {"data": {"alerts": []}}
            others = sorted({a["labels"]["alertname"] + "/" + a["labels"].get("job", "")
                             for a in r["data"]["alerts"]})
            note("alerts active at the end: %s" % ", ".join(others))
        case("every daemon exits 0 on SIGTERM; no sanitizer report in the logs", c_logs, w)
        print("# suite time %.1fs" % (time.time() - t0), flush=True)
    finally:
        if w.prom:
            w.prom.terminate()
            try:
                w.prom.wait(10)
            except subprocess.TimeoutExpired:
                w.prom.kill()
        if getattr(w, "st", None):
            try:
                w.st.down()
            except Exception:  # noqa: BLE001
                traceback.print_exc()
        if os.environ.get("OPS_TEST_KEEP") == "1":
            print("# work directory kept: " + TMP, flush=True)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
