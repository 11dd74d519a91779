"""Policy check over rendered Kubernetes YAML for kumo (issue 8).

check(docs, env, daemons) returns a list of violation strings; empty means
the manifests pass. `daemons` maps a service name ("users", "storage", ...)
to a Daemon (parsed `--help` of the built binary) or None when the binary is
not built, in which case its daemon-specific checks are skipped.

Run standalone: policy.py BUILD_DIR ENV RENDERED.yaml (exit 1 on violations).
"""
import copy
import os
import re
import subprocess
import sys

import yaml

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
# Container port name -> the variable that sets it (checked against --help).
PORT_VARS = {
    "rpc": "KUMO_RPC_PORT",
    "admin": "KUMO_ADMIN_PORT",
    "data": "KUMO_STORAGE_DATA_PORT",
    "http": "KUMO_HTTP_PORT",
}
# Variables naming files a container must find (mounted or baked in).
FILE_VARS_RE = re.compile(r"^KUMO_\w+_(FILE|FILES)$")
DB_CLIENTS = ("kumo-users", "kumo-documents")
# Pods allowed to reach MySQL: the DB clients, their migration Jobs, the
# users bootstrap Job, the local overlay's backup CronJob.
DB_PODS = tuple(x for c in DB_CLIENTS for x in (c, c + "-migrate")) + ("kumo-users-bootstrap",
                                                                      "kumo-db-backup")
# Who must reach whom inside a namespace (source, destination, port), from
# issue 8: the BFF calls every service, documents calls users and storage,
# every token verifier fetches kumo-users' JWKS (admin port), the DB pods
# reach MySQL. Every other in-namespace flow to a declared port must be
# denied, except OPTIONAL_FLOWS (allowed or not).
REQUIRED_FLOWS = (
    ("kumo-bff", "kumo-users", 7101), ("kumo-bff", "kumo-users", 9101),
    ("kumo-bff", "kumo-documents", 7102), ("kumo-bff", "kumo-storage", 7103),
    ("kumo-documents", "kumo-users", 7101), ("kumo-documents", "kumo-users", 9101),
    ("kumo-documents", "kumo-storage", 7103), ("kumo-storage", "kumo-users", 9101),
) + tuple((p, "mariadb", 3306) for p in DB_PODS)
OPTIONAL_FLOWS = (("kumo-documents", "kumo-storage", 7104), ("kumo-bff", "kumo-storage", 7104))
# Variables naming the addresses a daemon binds (each must be a wildcard).
BIND_VARS = ("KUMO_RPC_ADDR", "KUMO_HTTP_ADDR", "KUMO_ADMIN_ADDR")
MYSQL_PORT = 3306
AWS_ENVS = ("staging", "prod")
IRSA = "eks.amazonaws.com/role-arn"
HOOK = "argocd.argoproj.io/hook"
WAVE = "argocd.argoproj.io/sync-wave"
# Files the images bake in (deploy/docker/users/Dockerfile RDS_CA_BUNDLE_PATH).
BAKED_FILES = ("/etc/kumo/rds/global-bundle.pem",)


class Daemon:
    """What a built daemon accepts, from its --help and its binary."""

    def __init__(self, svc, path):
        self.svc = svc
        self.path = path
        out = subprocess.run([path, "--help"], capture_output=True, text=True,
                             timeout=20, env={"PATH": "/usr/bin:/bin"})
        self.help = out.stdout + out.stderr
        self.vars = {}
        cur = None
        for line in self.help.splitlines():
            m = re.match(r"^  (KUMO_[A-Z0-9_]+)  \(([^)]*)\)", line)
            if m:
                attrs = [a.strip() for a in m.group(2).split(",")]
                default = None
                for a in attrs:
                    if a.startswith("default "):
                        default = a[len("default "):]
                    elif a == "default":
                        default = ""
                cur = {"type": attrs[0], "default": default,
                       "secret": "secret" in attrs,
                       "required": "required" in attrs, "desc": ""}
                self.vars[m.group(1)] = cur
            elif cur is not None and line.startswith("      "):
                cur["desc"] += line.strip() + " "
                # Daemons mark conditionally required variables in their
                # description, e.g. "... (required)" or "(required to serve)".
                if re.search(r"\(required( to serve)?\)\s*$", line):
                    cur["required"] = True
        m = re.search(r"Usage: \S+ \[([a-z|]+)\]", self.help)
        self.subcommands = m.group(1).split("|") if m else ["serve"]
        with open(path, "rb") as f:
            blob = f.read()
        self.routes = set(p.decode() for p in
                          re.findall(rb"(/(?:healthz|readyz|metrics|\.well-known/[a-z.]+))", blob))
        self.routes |= set(re.findall(r"(/healthz|/readyz|/metrics)", self.help))
        self.grpc_health = b"grpc.health.v1.Health" in blob

    def accepts(self, name):
        if name in self.vars:
            return True
        return name.endswith("_FILE") and self.vars.get(name[:-5], {}).get("secret", False)


def load_daemons(build_dir, services=("users", "documents", "storage", "bff")):
    out = {}
    for svc in services:
        p = os.path.join(build_dir, "bin", "kumo-" + svc)
        out[svc] = Daemon(svc, p) if os.access(p, os.X_OK) else None
    return out


def pod_spec(doc):
    k = doc.get("kind")
    if k == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if k in WORKLOADS:
        return doc["spec"]["template"]["spec"]
    return None


def pod_meta(doc):
    if doc.get("kind") == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"].get("metadata", {})
    return doc["spec"]["template"].get("metadata", {})


def ident(doc):
    return "%s/%s" % (doc.get("kind"), doc.get("metadata", {}).get("name"))


def image_service(image):
    """'acct.dkr.ecr/kumo/kumo-users:tag' -> 'users' (None for other images)."""
    base = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    return base[len("kumo-"):] if base.startswith("kumo-") else None


def labels_match(selector, labels):
    ml = (selector or {}).get("matchLabels", {}) or {}
    return all(labels.get(k) == v for k, v in ml.items())


def check_image(where, image, v):
    name = image.split("@")[0]
    if "@sha256:" in image:
        return
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        v.append("%s: image %s has no tag (untagged)" % (where, image))
    elif last.endswith(":latest"):
        v.append("%s: image %s uses :latest" % (where, image))


def check_security(where, pod, c, v):
    psc = pod.get("securityContext", {}) or {}
    sc = c.get("securityContext", {}) or {}
    nonroot = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    if nonroot is not True:
        v.append("%s: runAsNonRoot is not true" % where)
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    if uid == 0:
        v.append("%s: runAsUser is 0 (root)" % where)
    if sc.get("readOnlyRootFilesystem") is not True:
        v.append("%s: readOnlyRootFilesystem is not true" % where)
    if sc.get("allowPrivilegeEscalation") is not False:
        v.append("%s: allowPrivilegeEscalation is not false" % where)
    if sc.get("privileged"):
        v.append("%s: privileged" % where)
    drop = ((sc.get("capabilities") or {}).get("drop")) or []
    if "ALL" not in drop:
        v.append("%s: capabilities do not drop ALL (dropped capabilities)" % where)
    if (sc.get("capabilities") or {}).get("add"):
        v.append("%s: capabilities added" % where)
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        v.append("%s: seccomp profile is not RuntimeDefault" % where)


def check_resources(where, c, v):
    r = c.get("resources") or {}
    req = r.get("requests") or {}
    lim = r.get("limits") or {}
    for key in ("cpu", "memory"):
        if key not in req:
            v.append("%s: resources.requests.%s missing" % (where, key))
    if "memory" not in lim:
        v.append("%s: resources.limits.memory missing" % where)


def effective_env(doc, c, docs, v, where):
    """Env the container starts with: envFrom ConfigMaps/Secrets then env.
    Values from secretKeyRef are '<secret>'. ConfigMaps must be in docs."""
    env = {}
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for ef in c.get("envFrom") or []:
        if "configMapRef" in ef:
            name = ef["configMapRef"]["name"]
            cm = by.get(("ConfigMap", name))
            if cm is None:
                v.append("%s: envFrom ConfigMap %s is not in the manifests" % (where, name))
                continue
            env.update({k: str(x) for k, x in (cm.get("data") or {}).items()})
        elif "secretRef" in ef:
            sec = by.get(("Secret", ef["secretRef"]["name"]))
            if sec is not None:
                keys = list((sec.get("data") or {}).keys()) + list((sec.get("stringData") or {}).keys())
                env.update({k: "<secret>" for k in keys})
    for e in c.get("env") or []:
        env[e["name"]] = str(e["value"]) if "value" in e else "<secret>"
    return env


def resolve(env, d, name):
    if name in env:
        return env[name]
    return (d.vars.get(name) or {}).get("default")


def port_number(c, port):
    if isinstance(port, int):
        return port
    for p in c.get("ports") or []:
        if p.get("name") == port:
            return p.get("containerPort")
    try:
        return int(port)
    except (TypeError, ValueError):
        return None


def mounted(c, path, pod):
    for m in c.get("volumeMounts") or []:
        mp = m["mountPath"].rstrip("/") + "/"
        if path == m["mountPath"] or path.startswith(mp):
            return m
    return None


def check_daemon(doc, pod, c, d, env, docs, envname, v, todo):
    where = "%s container %s (kumo-%s)" % (ident(doc), c["name"], d.svc)
    for name in env:
        if name.startswith("KUMO_"):
            if not d.accepts(name):
                v.append("%s: env %s is not accepted by kumo-%s --help" % (where, name, d.svc))
        elif not (name.startswith("AWS_") or name == "TZ"):
            v.append("%s: env %s is not a KUMO_* variable" % (where, name))
    args = c.get("args") or c.get("command") or []
    sub = args[0] if args else "serve"
    if sub not in d.subcommands:
        v.append("%s: subcommand %r not in %s" % (where, sub, d.subcommands))
    # Files the daemon will open must be mounted or baked into the image.
    for name, val in env.items():
        if FILE_VARS_RE.match(name) and val and val != "<secret>":
            for f in val.split(","):
                if f and f not in BAKED_FILES and not mounted(c, f, pod):
                    v.append("%s: %s=%s is not on a mounted volume" % (where, name, f))
    backend = env.get("KUMO_STORAGE_BACKEND")
    if backend and "KUMO_STORAGE_BACKEND" in d.vars:
        desc = d.vars["KUMO_STORAGE_BACKEND"]["desc"]
        if not re.search(r"\b%s\b" % re.escape(backend), desc):
            todo.append("%s: KUMO_STORAGE_BACKEND=%s not offered by this kumo-%s yet (%s)"
                        % (where, backend, d.svc, desc.strip()))
    if sub != "serve":
        return
    for name, info in d.vars.items():
        if info["required"] and name not in env and name + "_FILE" not in env:
            v.append("%s: required %s is not set" % (where, name))
    binds = [x for x in BIND_VARS if x in d.vars]
    if not binds:
        v.append("%s: kumo-%s --help names no bind address (%s)" % (where, d.svc, ", ".join(BIND_VARS)))
    for var in binds:
        addr = resolve(env, d, var)
        # KUMO_ADMIN_ADDR unset usually means "as the main listener".
        if var == "KUMO_ADMIN_ADDR" and addr in (None, ""):
            continue
        if addr not in ("0.0.0.0", "::", "[::]"):
            v.append("%s: %s=%s is not reachable from other pods" % (where, var, addr))
    declared = {}
    for p in c.get("ports") or []:
        pname = p.get("name")
        var = PORT_VARS.get(pname)
        if var is None or var not in d.vars:
            v.append("%s: port %s (%s) matches no port variable of --help" % (where, pname, p.get("containerPort")))
            continue
        want = resolve(env, d, var)
        if str(p.get("containerPort")) != str(want):
            v.append("%s: port %s is %s but %s=%s" % (where, pname, p.get("containerPort"), var, want))
        declared[pname] = p.get("containerPort")
    for pname, var in PORT_VARS.items():
        if var in d.vars and pname not in declared:
            val = resolve(env, d, var)
            if val not in (None, "", "-1"):
                v.append("%s: %s=%s is on but no container port %s declares it" % (where, var, val, pname))
    admin = declared.get("admin")
    rpc = declared.get("rpc")
    if admin is None:
        v.append("%s: no admin port" % where)
    rp = c.get("readinessProbe") or {}
    # A daemon with an HTTP API (the BFF) is ready when its dependencies are
    # (/readyz); its RPC port only carries health and reflection.
    if rpc is not None and "http" not in declared:
        g = rp.get("grpc")
        if not g:
            v.append("%s: readiness probe is not a gRPC probe on the RPC port" % where)
        elif g.get("port") != rpc:
            v.append("%s: gRPC readiness probe port %s is not the RPC port %s" % (where, g.get("port"), rpc))
        elif not d.grpc_health:
            v.append("%s: kumo-%s does not serve grpc.health.v1.Health" % (where, d.svc))
    else:
        hg = rp.get("httpGet") or {}
        if hg.get("path") != "/readyz" or port_number(c, hg.get("port")) != admin:
            v.append("%s: readiness probe is not GET /readyz on the admin port" % where)
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        hg = (c.get(kind) or {}).get("httpGet")
        if hg:
            if hg.get("path") not in d.routes:
                v.append("%s: %s path %s is not an admin route of kumo-%s %s"
                         % (where, kind, hg.get("path"), d.svc, sorted(d.routes)))
            if port_number(c, hg.get("port")) != admin:
                v.append("%s: %s port %s is not the admin port %s" % (where, kind, hg.get("port"), admin))
    lp = (c.get("livenessProbe") or {}).get("httpGet") or {}
    if lp.get("path") != "/healthz":
        v.append("%s: liveness probe is not HTTP GET /healthz on the admin port" % where)
    ann = pod_meta(doc).get("annotations") or {}
    if ann.get("prometheus.io/scrape") != "true":
        v.append("%s: no prometheus.io/scrape annotation" % where)
    else:
        if str(ann.get("prometheus.io/port")) != str(admin):
            v.append("%s: prometheus.io/port %s is not the admin port %s" % (where, ann.get("prometheus.io/port"), admin))
        if ann.get("prometheus.io/path", "/metrics") not in d.routes:
            v.append("%s: prometheus.io/path is not an admin route" % where)
    if env.get("KUMO_STORAGE_BACKEND", resolve(env, d, "KUMO_STORAGE_BACKEND")) == "local":
        root = resolve(env, d, "KUMO_STORAGE_ROOT")
        m = mounted(c, root, pod) if root else None
        if m is None or m.get("readOnly"):
            v.append("%s: KUMO_STORAGE_ROOT=%s is not a writable volume" % (where, root))
    if envname in AWS_ENVS and "KUMO_DB_AUTH" in d.vars:
        if env.get("KUMO_DB_AUTH") != "iam":
            v.append("%s: KUMO_DB_AUTH is not iam in %s" % (where, envname))
        if not env.get("KUMO_DB_TLS_CA_FILE"):
            v.append("%s: KUMO_DB_TLS_CA_FILE (RDS CA bundle) not set in %s" % (where, envname))


def is_default_deny(np):
    s = np.get("spec") or {}
    return (s.get("podSelector") in ({}, None) or s.get("podSelector") == {"matchLabels": {}}) \
        and set(s.get("policyTypes") or []) >= {"Ingress", "Egress"} \
        and not s.get("ingress") and not s.get("egress")


def pods_of(docs):
    """(name label, labels, namespace, doc) of every pod template."""
    out = []
    for d in docs:
        if pod_spec(d) is not None:
            labels = pod_meta(d).get("labels") or {}
            out.append((labels.get("app.kubernetes.io/name"), labels, d["metadata"].get("namespace"), d))
    return out


def rule_ports(rule):
    return [p.get("port") for p in rule.get("ports") or []] or [None]


def check_netpol(docs, daemons, v):
    nps = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    pods = pods_of(docs)
    namespaces = set(ns for _, _, ns, _ in pods)
    for ns in sorted(x or "" for x in namespaces):
        if not any(is_default_deny(n) and (n["metadata"].get("namespace") or "") == ns for n in nps):
            v.append("namespace %r has no default-deny NetworkPolicy" % ns)
    admin_ports = {9100, 9101, 9102, 9103}
    for n in nps:
        spec = n.get("spec") or {}
        targets = [name for name, labels, _, _ in pods if labels_match(spec.get("podSelector"), labels)]
        where = ident(n)
        for rule in spec.get("ingress") or []:
            peers = rule.get("from") or [None]
            ports = rule_ports(rule)
            for peer in peers:
                external = peer is None or "ipBlock" in peer or "namespaceSelector" in peer
                if external:
                    monitoring = peer is not None and ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get(
                        "kubernetes.io/metadata.name") == "monitoring"
                    if monitoring and all(p in admin_ports for p in ports):
                        continue
                    if any(t != "kumo-bff" for t in targets):
                        v.append("%s: admits traffic from outside the namespace to %s (only kumo-bff may be reached from the ingress)"
                                 % (where, sorted(set(t for t in targets if t != 'kumo-bff'))))
                    continue
                src = ((peer.get("podSelector") or {}).get("matchLabels") or {}).get("app.kubernetes.io/name")
                if "kumo-storage" in targets and src not in ("kumo-documents", "kumo-bff") \
                        and not all(p in admin_ports for p in ports):
                    v.append("%s: lets %s reach kumo-storage (only documents and the BFF may)" % (where, src))
                if "mariadb" in targets and src not in DB_PODS:
                    v.append("%s: lets %s reach MySQL (only users and documents may)" % (where, src))
        for rule in spec.get("egress") or []:
            # A rule without ports allows every port, 3306 included.
            if MYSQL_PORT in rule_ports(rule) or None in rule_ports(rule):
                bad = [t for t in targets if t not in DB_PODS]
                if bad:
                    v.append("%s: lets %s reach MySQL (port 3306)" % (where, bad))


def _peer_matches_pod(peer, labels):
    """A NetworkPolicy peer admits a pod of the same namespace. ipBlock is
    for addresses outside the cluster; a namespaceSelector-only peer names
    other namespaces (our overlays never label their own namespace for it)."""
    if peer is None:
        return True
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        ns = peer["namespaceSelector"] or {}
        if ns.get("matchLabels") or ns.get("matchExpressions"):
            return False
    return labels_match(peer.get("podSelector") or {}, labels)


def _allows(nps, kind, subject, peer_labels, port):
    """True when the policies let `subject` (labels) send (kind Egress) to,
    or receive (kind Ingress) from, a pod with peer_labels on port."""
    key = "egress" if kind == "Egress" else "ingress"
    side = "to" if kind == "Egress" else "from"
    sel = [n for n in nps if labels_match((n.get("spec") or {}).get("podSelector") or {}, subject)
           and kind in ((n.get("spec") or {}).get("policyTypes") or ["Ingress"])]
    if not sel:
        return True  # not isolated in that direction
    for n in sel:
        for rule in n["spec"].get(key) or []:
            ports = rule_ports(rule)
            if None not in ports and port not in ports:
                continue
            for peer in rule.get(side) or [None]:
                if _peer_matches_pod(peer, peer_labels):
                    return True
    return False


def reachable(docs, src, dst, port):
    """Whether a pod named src (app.kubernetes.io/name) may open a TCP
    connection to pod dst on port under the rendered NetworkPolicies."""
    nps = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    pods = {name: labels for name, labels, _, _ in pods_of(docs)}
    if src not in pods or dst not in pods:
        return None
    return _allows(nps, "Egress", pods[src], pods[dst], port) and _allows(nps, "Ingress", pods[dst], pods[src], port)


def check_reachability(docs, envname, v):
    """The in-namespace reachability matrix (REQUIRED_FLOWS / deny the rest)."""
    pods = {}
    for name, labels, _, d in pods_of(docs):
        if name is None:
            continue
        ports = pods.setdefault(name, set())
        for c in pod_spec(d)["containers"]:
            ports |= set(p.get("containerPort") for p in c.get("ports") or [])
    required = set(f for f in REQUIRED_FLOWS if f[0] in pods and f[1] in pods)
    for src, dst, port in sorted(required):
        if not reachable(docs, src, dst, port):
            v.append("reachability: %s cannot reach %s:%d (it must)" % (src, dst, port))
    for src in sorted(pods):
        for dst in sorted(pods):
            if src == dst:
                continue
            for port in sorted(pods[dst]):
                f = (src, dst, port)
                if f in required or f in OPTIONAL_FLOWS:
                    continue
                if port in (9100, 9102, 9103):
                    pass  # admin ports of non-users daemons: nobody in the namespace needs them
                if reachable(docs, src, dst, port):
                    v.append("reachability: %s can reach %s:%d (not in the allowed matrix)" % (src, dst, port))
    if envname in AWS_ENVS:
        # Aurora is outside the cluster: the DB pods need egress to an
        # ipBlock on 3306, and no other pod has one.
        nps = [d for d in docs if d.get("kind") == "NetworkPolicy"]
        for name in sorted(pods):
            labels = {"app.kubernetes.io/name": name}
            ok = any(labels_match((n.get("spec") or {}).get("podSelector") or {}, labels) and
                     any(MYSQL_PORT in rule_ports(r) and any("ipBlock" in (p or {}) for p in r.get("to") or [])
                         for r in n["spec"].get("egress") or [])
                     for n in nps)
            if name in DB_PODS and not ok:
                v.append("reachability: %s has no egress to Aurora (ipBlock, port 3306) in %s" % (name, envname))


def check_disruption(docs, envname, v):
    deps = [d for d in docs if d.get("kind") == "Deployment"]
    pdbs = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
    hpas = [d for d in docs if d.get("kind") == "HorizontalPodAutoscaler"]
    for dep in deps:
        labels = pod_meta(dep).get("labels") or {}
        name = dep["metadata"]["name"]
        if not any(labels_match(p["spec"].get("selector"), labels) for p in pdbs):
            v.append("%s: no PodDisruptionBudget (PDB) selects its pods" % ident(dep))
        hs = [h for h in hpas if (h["spec"].get("scaleTargetRef") or {}).get("name") == name
              and (h["spec"].get("scaleTargetRef") or {}).get("kind") == "Deployment"]
        if not hs:
            v.append("%s: no HorizontalPodAutoscaler (HPA) targets it" % ident(dep))
        if envname != "local":
            if (dep["spec"].get("replicas") or 1) < 2:
                v.append("%s: fewer than 2 replicas" % ident(dep))
            for h in hs:
                if (h["spec"].get("minReplicas") or 1) < 2:
                    v.append("%s: HPA minReplicas < 2" % ident(h))
            if envname == "prod" and (dep["spec"].get("replicas") or 1) < 3:
                v.append("%s: prod runs fewer than 3 replicas" % ident(dep))
        if not pod_spec(dep).get("topologySpreadConstraints"):
            v.append("%s: no topologySpreadConstraints" % ident(dep))


def check_migrations(docs, daemons, v):
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for svc, d in sorted(daemons.items()):
        if d is None or "migrate" not in d.subcommands:
            continue
        jobs = [(doc, c) for doc, c in jobs_running(docs, svc, "migrate")]
        dep = [x for x in docs if x.get("kind") == "Deployment" and x["metadata"]["name"] == "kumo-" + svc]
        if not jobs:
            v.append("kumo-%s: no migration Job (args [migrate])" % svc)
            continue
        for job, c in jobs:
            ann = job["metadata"].get("annotations") or {}
            if ann.get(HOOK) != "PreSync":
                v.append("%s: migration Job is not an ArgoCD PreSync hook" % ident(job))
            if WAVE not in ann:
                v.append("%s: migration Job has no sync wave" % ident(job))
            sa = pod_spec(job).get("serviceAccountName")
            sad = by.get(("ServiceAccount", sa))
            if sad is None:
                v.append("%s: ServiceAccount %s missing" % (ident(job), sa))
            else:
                sann = sad["metadata"].get("annotations") or {}
                if sann.get(HOOK) != "PreSync" or int(sann.get(WAVE, "0")) >= int(ann.get(WAVE, "0")):
                    v.append("%s: its ServiceAccount %s is not an earlier-wave PreSync hook (absent on a first sync)"
                             % (ident(job), sa))
            if pod_spec(job).get("restartPolicy") not in ("Never", "OnFailure"):
                v.append("%s: bad restartPolicy" % ident(job))
            if dep:
                same_db(docs, dep[0], job, c, v)


def jobs_running(docs, svc, sub):
    """(Job, container) pairs whose container (or init container) runs
    kumo-<svc> <sub>."""
    out = []
    for doc in docs:
        if doc.get("kind") != "Job":
            continue
        spec = pod_spec(doc)
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            if image_service(c.get("image", "")) == svc and (c.get("args") or [None])[0] == sub:
                out.append((doc, c))
    return out


def same_db(docs, dep, job, c, v):
    """A hook Job talks to the database the Deployment uses."""
    denv = effective_env(dep, pod_spec(dep)["containers"][0], docs, [], "")
    jenv = effective_env(job, c, docs, [], "")
    for k in sorted(set(denv) | set(jenv)):
        if k.startswith("KUMO_DB_") and k not in ("KUMO_DB_IO_TIMEOUT", "KUMO_DB_POOL_SIZE") \
                and denv.get(k) != jenv.get(k):
            v.append("%s: %s=%s differs from the Deployment's %s" % (ident(job), k, jenv.get(k), denv.get(k)))
    for k in ("KUMO_AWS_REGION",):
        if denv.get(k) != jenv.get(k):
            v.append("%s: %s=%s differs from the Deployment's %s" % (ident(job), k, jenv.get(k), denv.get(k)))


def check_bootstrap(docs, daemons, v):
    """kumo-users bootstrap runs as a hook after the users migration and its
    service keys reach every daemon that reads KUMO_SERVICE_API_KEY_FILE,
    through the Secret kumo-<svc>-apikey."""
    users = daemons.get("users")
    if users is None or "bootstrap" not in users.subcommands:
        return
    boots = jobs_running(docs, "users", "bootstrap")
    if not boots:
        v.append("kumo-users: no bootstrap Job (args [bootstrap])")
        return
    migrate_waves = [int((j["metadata"].get("annotations") or {}).get(WAVE, "0"))
                     for j, _ in jobs_running(docs, "users", "migrate")]
    dep = [x for x in docs if x.get("kind") == "Deployment" and x["metadata"]["name"] == "kumo-users"]
    for job, c in boots:
        ann = job["metadata"].get("annotations") or {}
        if ann.get(HOOK) not in ("PreSync", "Sync", "PostSync"):
            v.append("%s: bootstrap Job is not an ArgoCD hook" % ident(job))
        elif ann.get(HOOK) == "PreSync" and (WAVE not in ann or any(int(ann[WAVE]) <= w for w in migrate_waves)):
            v.append("%s: bootstrap Job's sync wave is not after the users migration's %s" % (ident(job), migrate_waves))
        if dep:
            same_db(docs, dep[0], job, c, v)
        inits = pod_spec(job).get("initContainers") or []
        names = [x["name"] for x in inits]
        for i, x in enumerate(inits):
            if "kubectl get secret" in yaml.safe_dump(x) and c in inits and i > names.index(c["name"]):
                v.append("%s: init container %s (fetches the published keys) runs after bootstrap" % (ident(job), x["name"]))
        env = effective_env(job, c, docs, [], "")
        services = [s.strip() for s in (env.get("KUMO_BOOTSTRAP_SERVICES") or
                                        (users.vars.get("KUMO_BOOTSTRAP_SERVICES") or {}).get("default") or "").split(",")]
        if not env.get("KUMO_BOOTSTRAP_KEY_DIR"):
            v.append("%s: KUMO_BOOTSTRAP_KEY_DIR unset: no service keys are written" % ident(job))
        text = yaml.safe_dump(pod_spec(job))
        for doc in docs:
            if doc.get("kind") != "Deployment":
                continue
            for dc in pod_spec(doc)["containers"]:
                svc = image_service(dc.get("image", ""))
                if svc is None or daemons.get(svc) is None:
                    continue
                denv = effective_env(doc, dc, docs, [], "")
                path = denv.get("KUMO_SERVICE_API_KEY_FILE")
                if not path:
                    continue
                where = "%s container %s" % (ident(doc), dc["name"])
                if svc not in services:
                    v.append("%s: kumo-%s reads a service key but bootstrap's KUMO_BOOTSTRAP_SERVICES %s lacks it"
                             % (where, svc, services))
                m = mounted(dc, path, pod_spec(doc))
                vol = [x for x in pod_spec(doc).get("volumes") or [] if m and x["name"] == m["name"]]
                secret = ((vol[0].get("secret") or {}).get("secretName") if vol else None) or ""
                want = "kumo-%s-apikey" % svc
                if not secret.startswith(want):
                    v.append("%s: KUMO_SERVICE_API_KEY_FILE=%s is not from the Secret %s" % (where, path, want))
                elif want not in text and "kumo-$s-apikey" not in text:
                    v.append("%s: the bootstrap Job does not publish the Secret %s" % (ident(job), want))


def check_irsa(docs, v):
    sas = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ServiceAccount"}
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None or not any(image_service(c.get("image", "")) for c in spec["containers"]):
            continue
        sa = sas.get(spec.get("serviceAccountName"))
        arn = ((sa or {}).get("metadata", {}).get("annotations") or {}).get(IRSA, "")
        if not re.match(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$", arn):
            v.append("%s: ServiceAccount %s lacks the IRSA %s annotation"
                     % (ident(doc), spec.get("serviceAccountName"), IRSA))


def check_services(docs, v):
    pods = pods_of(docs)
    for s in (d for d in docs if d.get("kind") == "Service"):
        sel = s["spec"].get("selector") or {}
        matched = [d for _, labels, _, d in pods if all(labels.get(k) == x for k, x in sel.items())
                   and d.get("kind") in LONG_RUNNING]
        if not matched:
            v.append("%s: selects no workload" % ident(s))
            continue
        for p in s["spec"].get("ports") or []:
            tp = p.get("targetPort", p.get("port"))
            ok = any(port_number(c, tp) is not None and any(cp.get("containerPort") == port_number(c, tp)
                                                            for cp in c.get("ports") or [])
                     for d in matched for c in pod_spec(d)["containers"])
            if not ok:
                v.append("%s: port %s targets %s, which no selected container declares" % (ident(s), p.get("name"), tp))


def check_ingress(docs, daemons, envname, v, skips):
    has_bff = any(d.get("kind") == "Deployment" and d["metadata"]["name"] == "kumo-bff" for d in docs)
    if daemons.get("bff") is None and not has_bff:
        skips.append("Ingress for kumo-bff (%s): kumo-bff neither built nor deployed" % envname)
        return
    ings = [d for d in docs if d.get("kind") == "Ingress"]
    good = [i for i in ings if any(((p.get("backend") or {}).get("service") or {}).get("name") == "kumo-bff"
                                   for r in i["spec"].get("rules") or [] for p in (r.get("http") or {}).get("paths") or [])]
    if not good:
        v.append("no Ingress routes to kumo-bff in %s" % envname)
    for i in ings:
        if not any(((p.get("backend") or {}).get("service") or {}).get("name") == "kumo-bff"
                   for r in i["spec"].get("rules") or [] for p in (r.get("http") or {}).get("paths") or []):
            v.append("%s: Ingress to something other than kumo-bff" % ident(i))
        if envname in AWS_ENVS and not any(k.startswith("alb.ingress.kubernetes.io/") for k in i["metadata"].get("annotations") or {}):
            v.append("%s: no AWS Load Balancer Controller annotations" % ident(i))


def check_jwks(docs, daemons, v):
    """KUMO_JWT_JWKS_URL must reach kumo-users' admin port and its JWKS route."""
    users = daemons.get("users")
    if users is None:
        return
    svcs = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        for c in spec["containers"]:
            svc = image_service(c.get("image", ""))
            if svc is None or daemons.get(svc) is None:
                continue
            env = effective_env(doc, c, docs, [], "")
            url = env.get("KUMO_JWT_JWKS_URL")
            if not url or env.get("KUMO_JWT_JWKS_FILE"):
                continue
            m = re.match(r"^http://([^/:]+):(\d+)(/.*)$", url)
            where = "%s container %s" % (ident(doc), c["name"])
            if not m:
                v.append("%s: KUMO_JWT_JWKS_URL=%s is not http://host:port/path" % (where, url))
                continue
            host, port, path = m.group(1).split(".")[0], int(m.group(2)), m.group(3)
            s = svcs.get(host)
            if s is None or not any(p.get("port") == port and p.get("name") == "admin" for p in s["spec"].get("ports") or []):
                v.append("%s: KUMO_JWT_JWKS_URL=%s is not a kumo-users admin Service port" % (where, url))
            if path not in users.routes:
                v.append("%s: KUMO_JWT_JWKS_URL path %s is not served by kumo-users" % (where, path))


def check(docs, envname, daemons):
    """Returns (violations, todos, skips) for one rendered overlay."""
    v, todo, skips = [], [], []
    docs = [d for d in docs if d]
    for svc, d in sorted(daemons.items()):
        if d is None:
            skips.append("kumo-%s checks: binary not built" % svc)
    for doc in docs:
        pod = pod_spec(doc)
        if pod is None:
            continue
        for c in (pod.get("initContainers") or []) + pod["containers"]:
            where = "%s container %s" % (ident(doc), c["name"])
            check_image(where, c.get("image", ""), v)
            check_security(where, pod, c, v)
            check_resources(where, c, v)
            if doc["kind"] in LONG_RUNNING and c in pod["containers"]:
                for probe in ("readinessProbe", "livenessProbe"):
                    if not c.get(probe):
                        v.append("%s: no %s" % (where, probe))
            svc = image_service(c.get("image", ""))
            if svc is not None:
                if svc not in daemons:
                    v.append("%s: unknown kumo daemon kumo-%s" % (where, svc))
                elif daemons[svc] is not None:
                    env = effective_env(doc, c, docs, v, where)
                    check_daemon(doc, pod, c, daemons[svc], env, docs, envname, v, todo)
    check_netpol(docs, daemons, v)
    check_reachability(docs, envname, v)
    check_disruption(docs, envname, v)
    check_migrations(docs, daemons, v)
    check_bootstrap(docs, daemons, v)
    check_services(docs, v)
    check_jwks(docs, daemons, v)
    if envname in AWS_ENVS:
        check_irsa(docs, v)
    check_ingress(docs, daemons, envname, v, skips)
    return v, todo, skips


def main(argv):
    if len(argv) != 4:
        print("usage: policy.py BUILD_DIR ENV RENDERED.yaml", file=sys.stderr)
        return 2
    with open(argv[3]) as f:
        docs = list(yaml.safe_load_all(f))
    v, todo, skips = check(docs, argv[2], load_daemons(argv[1]))
    for x in v:
        print("violation: " + x)
    for x in todo:
        print("todo: " + x)
    for x in skips:
        print("skip: " + x)
    return 1 if v else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
