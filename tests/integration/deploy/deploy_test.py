"""Deployment suite (issue 8); see ./run. Prints TAP and "N passed, M failed"."""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, HERE)
import policy  # noqa: E402

PASSED = 0
FAILED = 0
# Packages every Debian image has, and sanitizer runtimes of SAN=1 builds.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
SAN_LIB = re.compile(r"^lib(asan|ubsan|tsan|lsan)")
# Library package -> the data package it needs at run time (runtime images
# install both; nothing else beyond the NEEDED libraries).
DATA_PACKAGES = {"libmagic1": ["libmagic-mgc"],
                 # kumo-extract's OCR: tesseract's English and Japanese models
                 "libtesseract5": ["tesseract-ocr-eng", "tesseract-ocr-jpn"]}
# Helper binaries an image ships beside its daemon (their libraries count too).
HELPERS = {"documents": ["kumo-extract"]}


def tap(ok, name, diag=()):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok - deploy: " + name)
    else:
        FAILED += 1
        print("not ok - deploy: " + name)
    for d in diag if (not ok or name.startswith("policy catches")) else ():
        if d:
            print("#   " + d)
    sys.stdout.flush()


def note(msg):
    print("# " + msg)


def kubectl():
    k = os.environ.get("KUBECTL") or shutil.which("kubectl")
    return k


def render(k, path):
    r = subprocess.run([k, "kustomize", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return [d for d in yaml.safe_load_all(r.stdout) if d], ""


def overlays():
    return sorted(os.path.basename(os.path.dirname(p))
                  for p in glob.glob(os.path.join(ROOT, "k8s/overlays/*/kustomization.yaml")))


# ---------------------------------------------------------------- mutations

def find(docs, kind, name):
    for d in docs:
        if d.get("kind") == kind and d["metadata"]["name"] == name:
            return d
    raise KeyError("%s/%s" % (kind, name))


def ctr(docs, kind, name):
    return policy.pod_spec(find(docs, kind, name))["containers"][0]


def cm_of(docs, svc):
    return [d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"].startswith("kumo-%s-config" % svc)][0]


def drop(docs, kind, name):
    docs.remove(find(docs, kind, name))


def m_set(fn):
    def run(docs):
        fn(docs)
        return docs
    return run


def mutations(daemons):
    """(name, env, needs daemon, mutate(docs), substring expected in a violation)."""
    D = "Deployment"
    u = lambda docs: ctr(docs, D, "kumo-users")  # noqa: E731
    s = lambda docs: ctr(docs, D, "kumo-storage")  # noqa: E731

    def nonroot(docs):
        dep = find(docs, D, "kumo-users")
        policy.pod_spec(dep)["securityContext"]["runAsNonRoot"] = False
        u(docs)["securityContext"]["runAsNonRoot"] = False

    def seccomp(docs):
        dep = find(docs, D, "kumo-users")
        policy.pod_spec(dep)["securityContext"].pop("seccompProfile")
        u(docs)["securityContext"].pop("seccompProfile")

    def np_storage_from_users(docs):
        np = find(docs, "NetworkPolicy", "kumo-storage")
        np["spec"]["ingress"][0]["from"].append({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kumo-users"}}})

    def np_storage_mysql(docs):
        np = find(docs, "NetworkPolicy", "kumo-storage")
        np["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 3306}]})

    def np_users_external(docs):
        np = find(docs, "NetworkPolicy", "kumo-users")
        np["spec"]["ingress"].append({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
                                      "ports": [{"protocol": "TCP", "port": 7101}]})

    def mariadb_from_storage(docs):
        np = find(docs, "NetworkPolicy", "mariadb")
        np["spec"]["ingress"][0]["from"].append({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kumo-storage"}}})

    def job_db_host(docs):
        for e in ctr(docs, "Job", "kumo-users-migrate")["env"]:
            if e["name"] == "KUMO_DB_HOST":
                e["value"] = "some-other-cluster.rds.amazonaws.com"

    def unmount_secrets(docs):
        c = u(docs)
        c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "secrets"]

    def rm_access_key(docs):
        c = s(docs)
        c["env"] = [e for e in c.get("env", []) if e["name"] != "KUMO_STORAGE_ACCESS_KEY_ID"]

    def np_rule(docs, name, kind, port):
        np = find(docs, "NetworkPolicy", name)
        key = "ingress" if kind == "in" else "egress"
        return np, key, [r for r in np["spec"][key] if port in [x.get("port") for x in r.get("ports") or []]]

    def bff_to_documents_cut(docs):
        np, key, rules = np_rule(docs, "kumo-documents", "in", 7102)
        np["spec"][key].remove(rules[0])

    def documents_to_storage_cut(docs):
        np, key, rules = np_rule(docs, "kumo-documents", "out", 7103)
        np["spec"][key].remove(rules[0])

    def users_to_documents(docs):
        sel = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kumo-users"}}}
        find(docs, "NetworkPolicy", "kumo-documents")["spec"]["ingress"].append(
            {"from": [sel], "ports": [{"protocol": "TCP", "port": 7102}]})
        find(docs, "NetworkPolicy", "kumo-users")["spec"]["egress"].append(
            {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kumo-documents"}}}],
             "ports": [{"protocol": "TCP", "port": 7102}]})

    def documents_from_ingress(docs):
        find(docs, "NetworkPolicy", "kumo-documents")["spec"]["ingress"].append(
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
             "ports": [{"protocol": "TCP", "port": 7102}]})

    def documents_no_aurora(docs):
        np, key, rules = np_rule(docs, "kumo-documents", "out", 3306)
        np["spec"][key].remove(rules[0])

    def boot_ctr(docs):
        return policy.pod_spec(find(docs, "Job", "kumo-users-bootstrap"))["initContainers"][1]

    def boot_db_host(docs):
        for e in boot_ctr(docs)["env"]:
            if e["name"] == "KUMO_DB_HOST":
                e["value"] = "some-other-cluster.rds.amazonaws.com"

    def docs_key_elsewhere(docs):
        for vol in policy.pod_spec(find(docs, D, "kumo-documents"))["volumes"]:
            if vol["name"] == "apikey":
                vol["secret"]["secretName"] = "some-hand-made-secret"

    def docs_job_db_host(docs):
        for e in ctr(docs, "Job", "kumo-documents-migrate")["env"]:
            if e["name"] == "KUMO_DB_HOST":
                e["value"] = "some-other-cluster.rds.amazonaws.com"

    def no_bff_ingress(docs):
        drop(docs, "Ingress", "kumo-bff")

    b = lambda docs: ctr(docs, D, "kumo-bff")  # noqa: E731
    return [
        ("BFF cannot reach documents", "prod", None, bff_to_documents_cut, "kumo-bff cannot reach kumo-documents:7102"),
        ("documents cannot reach storage", "local", None, documents_to_storage_cut,
         "kumo-documents cannot reach kumo-storage:7103"),
        ("users reaches documents", "prod", None, users_to_documents, "kumo-users can reach kumo-documents:7102"),
        ("documents reachable from the ingress controller", "local", None, documents_from_ingress, "outside the namespace"),
        ("documents without Aurora egress", "prod", None, documents_no_aurora, "kumo-documents has no egress to Aurora"),
        ("no Ingress to the BFF", "prod", None, no_bff_ingress, "no Ingress routes to kumo-bff"),
        ("Ingress without ALB annotations", "staging", None,
         lambda d: find(d, "Ingress", "kumo-bff")["metadata"].update(annotations={}), "AWS Load Balancer Controller"),
        ("bootstrap Job missing", "prod", "users", lambda d: drop(d, "Job", "kumo-users-bootstrap"), "no bootstrap Job"),
        ("bootstrap before the migration", "prod", "users",
         lambda d: find(d, "Job", "kumo-users-bootstrap")["metadata"]["annotations"].update({policy.WAVE: "-1"}),
         "not after the users migration"),
        ("bootstrap DB host differs", "prod", "users", boot_db_host, "differs"),
        ("bootstrap runs before the key fetch", "local", "users",
         lambda d: policy.pod_spec(find(d, "Job", "kumo-users-bootstrap"))["initContainers"].reverse(),
         "runs after bootstrap"),
        ("bootstrap writes no keys", "local", "users",
         lambda d: boot_ctr(d).update(env=[e for e in boot_ctr(d)["env"] if e["name"] != "KUMO_BOOTSTRAP_KEY_DIR"]),
         "KUMO_BOOTSTRAP_KEY_DIR"),
        ("documents key not from the bootstrap Secret", "prod", "documents", docs_key_elsewhere,
         "is not from the Secret kumo-documents-apikey"),
        ("documents migration not a PreSync hook", "prod", "documents",
         lambda d: find(d, "Job", "kumo-documents-migrate")["metadata"]["annotations"].pop(policy.HOOK), "PreSync"),
        ("documents migration Job missing", "staging", "documents", lambda d: drop(d, "Job", "kumo-documents-migrate"),
         "kumo-documents: no migration Job"),
        ("documents migration DB host differs", "prod", "documents", docs_job_db_host, "differs"),
        ("documents rpc port differs from KUMO_RPC_PORT", "prod", "documents",
         lambda d: ctr(d, D, "kumo-documents")["ports"][0].update(containerPort=7999), "port rpc"),
        ("documents env variable typo", "prod", "documents",
         lambda d: cm_of(d, "documents")["data"].update(KUMO_JOBS_WORKER="2"), "not accepted"),
        ("BFF readiness not /readyz", "prod", "bff",
         lambda d: b(d)["readinessProbe"]["httpGet"].update(path="/healthz"), "readiness probe is not GET /readyz"),
        ("BFF http port differs from KUMO_HTTP_PORT", "prod", "bff",
         lambda d: b(d)["ports"][0].update(containerPort=8081), "port http"),
        ("BFF bind address loopback", "prod", "bff", lambda d: cm_of(d, "bff")["data"].update(KUMO_HTTP_ADDR="127.0.0.1"),
         "KUMO_HTTP_ADDR"),
        ("BFF env variable typo", "prod", "bff", lambda d: cm_of(d, "bff")["data"].update(KUMO_CORS_ORIGIN="x"),
         "not accepted"),
        ("no readiness probe", "prod", None, lambda d: u(d).pop("readinessProbe"), "no readinessProbe"),
        ("no liveness probe", "prod", None, lambda d: u(d).pop("livenessProbe"), "no livenessProbe"),
        ("image :latest", "prod", None, lambda d: u(d).update(image=u(d)["image"].rsplit(":", 1)[0] + ":latest"), ":latest"),
        ("untagged image", "prod", None, lambda d: u(d).update(image=u(d)["image"].rsplit(":", 1)[0]), "untagged"),
        ("no resources", "prod", None, lambda d: u(d).pop("resources"), "resources.requests"),
        ("runAsNonRoot false", "prod", None, nonroot, "runAsNonRoot"),
        ("writable root filesystem", "prod", None, lambda d: u(d)["securityContext"].update(readOnlyRootFilesystem=False),
         "readOnlyRootFilesystem"),
        ("capabilities kept", "prod", None, lambda d: u(d)["securityContext"].pop("capabilities"), "dropped capabilities"),
        ("no seccomp profile", "prod", None, seccomp, "seccomp"),
        ("prod Deployment without PDB", "prod", None, lambda d: drop(d, "PodDisruptionBudget", "kumo-users"), "PodDisruptionBudget"),
        ("prod Deployment without HPA", "prod", None, lambda d: drop(d, "HorizontalPodAutoscaler", "kumo-storage"),
         "HorizontalPodAutoscaler"),
        ("namespace without default-deny", "prod", None, lambda d: drop(d, "NetworkPolicy", "default-deny-all"), "default-deny"),
        ("prod with 2 replicas", "prod", None, lambda d: find(d, D, "kumo-users")["spec"].update(replicas=2), "fewer than 3"),
        ("storage reachable from users", "prod", None, np_storage_from_users, "reach kumo-storage"),
        ("storage egress to MySQL", "prod", None, np_storage_mysql, "reach MySQL"),
        ("users reachable from another namespace", "prod", None, np_users_external, "outside the namespace"),
        ("MySQL reachable from storage", "local", None, mariadb_from_storage, "reach MySQL"),
        ("IRSA annotation missing", "prod", None,
         lambda d: find(d, "ServiceAccount", "kumo-users")["metadata"]["annotations"].pop(policy.IRSA), "IRSA"),
        ("unknown env variable", "prod", "users", lambda d: cm_of(d, "users")["data"].update(KUMO_NO_SUCH_SETTING="1"),
         "not accepted"),
        ("env variable typo in a Job", "prod", "users",
         lambda d: ctr(d, "Job", "kumo-users-migrate")["env"].append({"name": "KUMO_DB_HOSTNAME", "value": "x"}), "not accepted"),
        ("rpc port differs from KUMO_RPC_PORT", "prod", "users", lambda d: u(d)["ports"][0].update(containerPort=7999), "port rpc"),
        ("gRPC probe on the wrong port", "prod", "users", lambda d: u(d)["readinessProbe"]["grpc"].update(port=9101),
         "not the RPC port"),
        ("readiness probe not gRPC", "prod", "users",
         lambda d: u(d).update(readinessProbe={"tcpSocket": {"port": 7101}}), "gRPC probe"),
        ("liveness path not an admin route", "prod", "users", lambda d: u(d)["livenessProbe"]["httpGet"].update(path="/livez"),
         "not an admin route"),
        ("liveness on the RPC port", "prod", "users", lambda d: u(d)["livenessProbe"]["httpGet"].update(port="rpc"),
         "not the admin port"),
        ("bind address loopback", "prod", "users", lambda d: cm_of(d, "users")["data"].update(KUMO_RPC_ADDR="127.0.0.1"),
         "KUMO_RPC_ADDR"),
        ("scrape port not admin", "prod", "users",
         lambda d: policy.pod_meta(find(d, D, "kumo-users"))["annotations"].update({"prometheus.io/port": "7101"}),
         "prometheus.io/port"),
        ("secret file not mounted", "prod", "users", unmount_secrets, "not on a mounted volume"),
        ("password auth in prod", "prod", "users", lambda d: cm_of(d, "users")["data"].update(KUMO_DB_AUTH="password"),
         "not iam"),
        ("migration not a PreSync hook", "prod", "users",
         lambda d: find(d, "Job", "kumo-users-migrate")["metadata"]["annotations"].pop(policy.HOOK), "PreSync"),
        ("migration without sync wave", "prod", "users",
         lambda d: find(d, "Job", "kumo-users-migrate")["metadata"]["annotations"].pop(policy.WAVE), "sync wave"),
        ("migration Job missing", "prod", "users", lambda d: drop(d, "Job", "kumo-users-migrate"), "no migration Job"),
        ("migration DB host differs", "prod", "users", job_db_host, "differs"),
        ("unknown subcommand", "prod", "users", lambda d: u(d).update(args=["server"]), "subcommand"),
        ("required variable unset", "local", "storage", rm_access_key, "required"),
        ("data port on but undeclared", "local", "storage", lambda d: s(d).update(ports=s(d)["ports"][:2]),
         "no container port data"),
        ("JWKS URL at the wrong port", "prod", "storage",
         lambda d: cm_of(d, "storage")["data"].update(KUMO_JWT_JWKS_URL="http://kumo-users:7101/.well-known/jwks.json"),
         "KUMO_JWT_JWKS_URL"),
    ]


def test_kustomize(daemons):
    k = kubectl()
    rendered = {}
    if not k:
        tap(False, "kubectl found (install Debian kubernetes-client or set KUBECTL)")
        return rendered
    ver = subprocess.run([k, "version", "--client"], capture_output=True, text=True).stdout.strip().splitlines()[:1]
    note("kubectl: %s (%s)" % (k, ver[0] if ver else "?"))
    names = overlays()
    tap(set(names) >= {"local", "staging", "prod"}, "overlays local, staging, prod exist (%s)" % ", ".join(names))
    for env in names:
        docs, err = render(k, os.path.join(ROOT, "k8s/overlays", env))
        tap(docs is not None, "kubectl kustomize k8s/overlays/%s renders" % env, [err] if err else [])
        if docs is None:
            continue
        rendered[env] = docs
        v, todo, skips = policy.check(copy.deepcopy(docs), env, daemons)
        tap(not v, "policy check passes on %s (%d objects)" % (env, len(docs)), v)
        for t in todo:
            print("not ok - deploy: %s # TODO %s" % (env, t))
        for s in skips:
            note("skip (%s): %s" % (env, s))
    return rendered


def test_mutations(rendered, daemons):
    for name, env, needs, fn, expect in mutations(daemons):
        if env not in rendered:
            tap(False, "policy catches: %s (no %s render)" % (name, env))
            continue
        if needs and daemons.get(needs) is None:
            note("skip: policy catches %s (kumo-%s not built)" % (name, needs))
            continue
        docs = copy.deepcopy(rendered[env])
        try:
            fn(docs)
        except (KeyError, IndexError) as e:
            tap(False, "policy catches: %s (mutation did not apply: %s)" % (name, e))
            continue
        v, _, _ = policy.check(docs, env, daemons)
        hit = [x for x in v if expect in x]
        tap(bool(hit), "policy catches: %s" % name, hit[:1] if hit else ["violations: %s" % v[:5]])


# ---------------------------------------------------------------- images

def needed_packages(binary):
    ld = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ld, re.M))
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(["objdump", "-p", binary], capture_output=True, text=True).stdout)
    pkgs, unknown = set(), []
    if any(SAN_LIB.match(lib) for lib in needed):
        return None, []
    for lib in needed:
        if SAN_LIB.match(lib):
            continue
        p = paths.get(lib)
        cands = [p, "/usr" + p if p and not p.startswith("/usr") else None, os.path.realpath(p) if p else None]
        owner = None
        for c in cands:
            if not c:
                continue
            r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
            if r.returncode == 0:
                owner = r.stdout.split(":")[0].strip()
                break
        if owner is None:
            unknown.append(lib)
        else:
            pkgs.add(owner)
    return pkgs - BASE_PACKAGES, unknown


def dockerfile_facts(text):
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    froms = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), f)
             for f in re.findall(r"^FROM (\S+)", text, re.M)]
    m = re.search(r"# runtime-packages: begin\n(.*?)# runtime-packages: end", text, re.S)
    block = m.group(1) if m else ""
    inst = re.search(r"apt-get install[^\n]*((?:\n.*?)*?)\n \&\&", block)
    pkgs = set(re.findall(r"^\s+([a-z0-9][a-z0-9.+-]+)\s*\\?$", inst.group(1), re.M)) if inst else set()
    return args, froms, pkgs


def test_dockerfiles(daemons):
    di = os.path.join(ROOT, ".dockerignore")
    lines = open(di).read().split() if os.path.exists(di) else []
    tap(".git" in lines and "build" in lines and "build-*" in lines, ".dockerignore keeps .git and build outputs out")
    for svc, d in sorted(daemons.items()):
        path = os.path.join(ROOT, "deploy/docker", svc, "Dockerfile")
        if d is None:
            note("skip: Dockerfile of kumo-%s (binary not built)%s" % (svc, "" if os.path.exists(path) else ", none yet"))
            continue
        if not os.path.exists(path):
            tap(False, "kumo-%s has deploy/docker/%s/Dockerfile" % (svc, svc))
            continue
        text = open(path).read()
        args, froms, pkgs = dockerfile_facts(text)
        tap(len(froms) >= 2 and all(re.match(r"^debian:12(\.\d+)?(-slim)?$", f) for f in froms),
            "kumo-%s Dockerfile: multi-stage on pinned Debian 12 (%s)" % (svc, ", ".join(froms)))
        want, unknown = needed_packages(d.path)
        for helper in HELPERS.get(svc, []):
            hp = os.path.join(os.path.dirname(d.path), helper)
            tap(re.search(r"make [^\n]*build/bin/%s\b" % helper, text) is not None
                and "COPY --from=build /src/build/bin/%s /usr/local/bin/%s\n" % (helper, helper) in text,
                "kumo-%s image builds and ships %s beside the daemon" % (svc, helper))
            if want is None or not os.path.exists(hp):
                continue
            hw, hu = needed_packages(hp)
            if hw is None:
                want = None
                continue
            want |= hw
            unknown += hu
        if want is None:
            # Sanitizer links drop --as-needed, so they list libraries the
            # image (a plain build) never loads.
            note("skip: runtime libraries of kumo-%s (sanitizer build)" % svc)
            want = pkgs
        # Data packages a library reads at run time (libmagic: its database).
        data = set(p for lib, ps in DATA_PACKAGES.items() if lib in want for p in ps)
        missing = sorted((want | data) - pkgs)
        extra = sorted(pkgs - want - data - {"ca-certificates"})
        tap(not missing and not extra and not unknown,
            "kumo-%s runtime image installs exactly the libraries the binary needs (%s)" % (svc, " ".join(sorted(want))),
            (["missing: %s" % missing] if missing else []) + (["not needed: %s" % extra] if extra else [])
            + (["no package owns: %s" % unknown] if unknown else []))
        user = re.findall(r"^USER (\S+)", text, re.M)
        tap(bool(user) and re.match(r"^[1-9]\d*(:[1-9]\d*)?$", user[-1]) is not None,
            "kumo-%s image runs as a numeric non-root user (%s)" % (svc, user[-1] if user else "none"))
        ep = re.findall(r"^ENTRYPOINT (.*)$", text, re.M)
        try:
            epv = json.loads(ep[-1]) if ep else None
        except ValueError:
            epv = None
        tap(epv == ["/usr/local/bin/kumo-" + svc], "kumo-%s entrypoint is exec form, no shell" % svc, ep)
        tap(re.search(r"make [^\n]*build/bin/kumo-%s\b" % svc, text) is not None
            and "COPY --from=build /src/build/bin/kumo-%s " % svc in text,
            "kumo-%s image builds and copies build/bin/kumo-%s" % (svc, svc))
        exposed = set(int(x) for line in re.findall(r"^EXPOSE (.*)$", text, re.M) for x in line.split())
        ports = set()
        for var in policy.PORT_VARS.values():
            dv = (d.vars.get(var) or {}).get("default")
            if dv and dv.lstrip("-").isdigit() and int(dv) > 0:
                ports.add(int(dv))
        tap(exposed == ports, "kumo-%s EXPOSE %s matches its default ports %s" % (svc, sorted(exposed), sorted(ports)))
        if "KUMO_DB_TLS_CA_FILE" in d.vars:
            tap(args.get("RDS_CA_BUNDLE_PATH") in policy.BAKED_FILES and "ARG RDS_CA_BUNDLE_URL" in text,
                "kumo-%s image bakes the RDS CA bundle at a configurable path" % svc)
        tap(os.path.isfile(os.path.join(ROOT, "k8s/base", svc, "kustomization.yaml")),
            "kumo-%s has a kustomize base k8s/base/%s" % (svc, svc))


# ---------------------------------------------------------------- console

NODESOURCE_FINGERPRINT = "6F71F525282841EEDAF851B42F59B5F99B1BE0B4"


def config_map(docs, prefix):
    for d in docs:
        if d.get("kind") == "ConfigMap" and d.get("metadata", {}).get("name", "").startswith(prefix):
            return d.get("data") or {}
    return {}


def test_console_shipped(rendered):
    """The kumo-bff image builds the console in its own Debian stage and
    serves it from KUMO_WEB_ROOT; every overlay lets the console reach the
    origin its uploads and previews go to (the data port or the bucket)."""
    text = open(os.path.join(ROOT, "deploy/docker/bff/Dockerfile")).read()
    stage = re.search(r"^FROM \S+ AS web\n(.*?)(?=^FROM )", text, re.S | re.M)
    body = stage.group(1) if stage else ""
    tap(stage is not None and "npm ci" in body and "scripts/build.mjs /out/web" in body
        and "COPY web/package.json web/package-lock.json" in body,
        "kumo-bff image builds the console from the lock file in a web stage")
    root = re.search(r"^ENV KUMO_WEB_ROOT=(\S+)$", text, re.M)
    tap(root is not None and ("COPY --from=web /out/web %s\n" % root.group(1)) in text,
        "kumo-bff image ships the console where KUMO_WEB_ROOT points (%s)" % (root.group(1) if root else "unset"))
    key = os.path.join(ROOT, "deploy/docker/keys/nodesource.gpg")
    gpg = shutil.which("gpg")
    if not gpg:
        note("skip: fingerprint of deploy/docker/keys/nodesource.gpg (no gpg)")
        tap(os.path.getsize(key) > 0, "NodeSource signing key committed beside the Dockerfile")
    else:
        home = tempfile.mkdtemp()
        try:
            out = subprocess.run([gpg, "--homedir", home, "--with-colons", "--show-keys", key],
                                 capture_output=True, text=True).stdout
        finally:
            shutil.rmtree(home, ignore_errors=True)
        fprs = re.findall(r"^fpr:+([0-9A-F]{40}):", out, re.M)
        tap(NODESOURCE_FINGERPRINT in fprs, "committed NodeSource key has the pinned fingerprint", fprs)
    di = open(os.path.join(ROOT, ".dockerignore")).read().split()
    tap("**/node_modules" in di, ".dockerignore keeps web/node_modules out of the build context")
    for env, docs in sorted(rendered.items()):
        bff = config_map(docs, "kumo-bff-config")
        st = config_map(docs, "kumo-storage-config")
        if st.get("KUMO_STORAGE_BACKEND", "local") == "s3":
            want = "https://%s.s3.%s.amazonaws.com" % (st.get("KUMO_STORAGE_BUCKET"), st.get("KUMO_STORAGE_REGION"))
        else:
            u = st.get("KUMO_STORAGE_PUBLIC_URL", "")
            m = re.match(r"^(https?://[^/]+)", u)
            want = m.group(1) if m else None
        have = bff.get("KUMO_WEB_CONNECT_SRC", "").split()
        tap(want is not None and want in have,
            "%s: the console may reach its upload origin (KUMO_WEB_CONNECT_SRC has %s)" % (env, want), have)


# ---------------------------------------------------------------- argocd

def gotemplate(text, values):
    def cond(m):
        return m.group(2) if values.get(m.group(1)) else ""
    text = re.sub(r"\{\{-?\s*if \.(\w+)\s*\}\}(.*?)\{\{-?\s*end\s*\}\}", cond, text, flags=re.S)
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: str(values[m.group(1)]), text)


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a


def test_argocd():
    docs = []
    ok = True
    for p in sorted(glob.glob(os.path.join(ROOT, "argocd/*.yaml"))):
        try:
            docs += [d for d in yaml.safe_load_all(open(p)) if d]
        except yaml.YAMLError as e:
            ok = False
            note("%s: %s" % (p, e))
    tap(ok and docs, "argocd/*.yaml parse (%d objects)" % len(docs))
    projects = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "AppProject"}
    tap(bool(projects) and all("*" not in str(p["spec"].get("sourceRepos")) and
                               all(x.get("namespace") not in (None, "*") and x.get("server") not in (None, "*")
                                   for x in p["spec"].get("destinations", []))
                               for p in projects.values()),
        "AppProject allows named source repositories and destinations only")
    apps = []
    for d in docs:
        if d.get("kind") == "Application":
            apps.append(d)
        elif d.get("kind") == "ApplicationSet":
            tmpl = yaml.safe_dump(d["spec"]["template"])
            for g in d["spec"]["generators"]:
                for el in (g.get("list") or {}).get("elements", []):
                    app = yaml.safe_load(gotemplate(tmpl, el))
                    patch = d["spec"].get("templatePatch")
                    if patch:
                        merge(app, yaml.safe_load(gotemplate(patch, el)) or {})
                    apps.append(app)
    envs = {}
    for app in apps:
        spec = app["spec"]
        name = app["metadata"]["name"]
        src = spec["source"]
        path = os.path.join(ROOT, src["path"])
        kz = os.path.join(path, "kustomization.yaml")
        tap(os.path.isfile(kz), "Application %s: path %s is a kustomization here" % (name, src["path"]))
        proj = projects.get(spec.get("project"))
        tap(proj is not None and src["repoURL"] in proj["spec"]["sourceRepos"] and
            {"server": spec["destination"]["server"], "namespace": spec["destination"]["namespace"]} in
            [{"server": x.get("server"), "namespace": x.get("namespace")} for x in proj["spec"]["destinations"]],
            "Application %s: project %s admits its source and destination" % (name, spec.get("project")))
        if os.path.isfile(kz):
            ns = (yaml.safe_load(open(kz)) or {}).get("namespace")
            tap(ns == spec["destination"]["namespace"],
                "Application %s: destination namespace %s is the overlay's (%s)" % (name, spec["destination"]["namespace"], ns))
        env = os.path.basename(src["path"].rstrip("/"))
        envs[env] = spec.get("syncPolicy", {}).get("automated")
    auto = envs.get("staging") or {}
    tap(auto.get("prune") is True and auto.get("selfHeal") is True, "staging syncs automatically with prune and self-heal")
    tap("prod" in envs and not envs["prod"], "prod syncs manually")


def test_workflow():
    p = os.path.join(ROOT, ".github/workflows/release.yml")
    try:
        wf = yaml.safe_load(open(p))
    except (OSError, yaml.YAMLError) as e:
        tap(False, "release.yml parses", [str(e)])
        return
    tap(isinstance(wf, dict) and "jobs" in wf, "release.yml parses")
    text = open(p).read()
    svcs = wf["jobs"]["images"]["strategy"]["matrix"]["service"]
    files = [os.path.join(ROOT, "deploy/docker", s, "Dockerfile") for s in svcs]
    tap(all(os.path.isfile(f) for f in files) and "deploy/docker/${{ matrix.service }}/Dockerfile" in text,
        "release.yml builds every daemon of its matrix from an existing Dockerfile (%s)" % ", ".join(svcs))
    tap("latest" not in re.sub(r"#.*", "", text) and "git rev-parse --short=12 HEAD" in text,
        "release.yml tags images with the source commit, never latest")
    tap("scripts/gitops-bump" in text and os.access(os.path.join(ROOT, "scripts/gitops-bump"), os.X_OK)
        and "--source-commit" in text, "release.yml runs scripts/gitops-bump with the source commit")


# ---------------------------------------------------------------- gitops

def sh(args, cwd, env=None, check=True):
    e = dict(os.environ)
    e.update({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
              "GIT_COMMITTER_EMAIL": "t@x", "GIT_CONFIG_NOSYSTEM": "1", "HOME": cwd})
    e.update(env or {})
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=e, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (args, r.stderr))
    return r


def remote_file(bare, path):
    return sh(["git", "--git-dir", bare, "show", "main:" + path], bare).stdout


def test_gitops():
    bump = os.path.join(ROOT, "scripts/gitops-bump")
    t = tempfile.mkdtemp(prefix="kumo-gitops-")
    try:
        bare = os.path.join(t, "manifests.git")
        sh(["git", "init", "-q", "--bare", "-b", "main", bare], t)
        seed = os.path.join(t, "seed")
        sh(["git", "clone", "-q", bare, seed], t)
        shutil.copytree(os.path.join(ROOT, "k8s"), os.path.join(seed, "k8s"))
        sh(["git", "checkout", "-q", "-b", "main"], seed)
        sh(["git", "add", "."], seed)
        sh(["git", "commit", "-q", "-m", "seed"], seed)
        sh(["git", "push", "-q", "origin", "main"], seed)
        a = os.path.join(t, "a")
        b = os.path.join(t, "b")
        sh(["git", "clone", "-q", bare, a], t)
        sh(["git", "clone", "-q", bare, b], t)
        kz = "k8s/overlays/staging/kustomization.yaml"
        src = "0123456789abcdef0123456789abcdef01234567"
        # Every daemon of the staging overlay, in its images: order.
        ALL = ("users", "storage", "documents", "bff")

        def run(tag, *svcs, cwd=a):
            return sh([bump, "--checkout", cwd, "--overlay", "k8s/overlays/staging", "--tag", tag,
                       "--source-commit", src] + list(svcs), t, check=False)

        r = run("a1b2c3d4e5f6", *ALL)
        text = remote_file(bare, kz)
        tags = re.findall(r'newTag: "?([\w.-]+)"?', text)
        msg = sh(["git", "--git-dir", bare, "log", "-1", "--format=%B", "main"], t).stdout
        tap(r.returncode == 0 and tags == ["a1b2c3d4e5f6"] * len(ALL) and src in msg and "# staging on EKS" in text,
            "gitops-bump sets the tags, commits naming the source commit, pushes (comments kept)",
            [r.stderr.strip(), msg.strip()] if r.returncode else [])
        k = kubectl()
        if k:
            docs, err = render(k, os.path.join(a, "k8s/overlays/staging"))
            images = sorted(set(c["image"] for d in docs or [] if policy.pod_spec(d)
                                for c in policy.pod_spec(d)["containers"] + (policy.pod_spec(d).get("initContainers") or [])
                                if policy.image_service(c["image"])))
            tap(docs is not None and all(i.endswith(":a1b2c3d4e5f6") for i in images) and images,
                "bumped overlay renders with the new tags", images or [err])
        head = sh(["git", "--git-dir", bare, "rev-parse", "main"], t).stdout
        r = run("a1b2c3d4e5f6", *ALL)
        tap(r.returncode == 0 and "nothing to do" in r.stdout and
            sh(["git", "--git-dir", bare, "rev-parse", "main"], t).stdout == head,
            "gitops-bump is a no-op when repeated", [r.stdout.strip(), r.stderr.strip()])
        with open(os.path.join(a, "stray.txt"), "w") as f:
            f.write("x")
        r = run("b1b2b3b4b5b6", "users")
        tap(r.returncode == 3 and "uncommitted" in r.stderr and
            sh(["git", "--git-dir", bare, "rev-parse", "main"], t).stdout == head,
            "gitops-bump refuses a dirty checkout", [r.stderr.strip()])
        os.remove(os.path.join(a, "stray.txt"))
        r = run("latest", "users")
        tap(r.returncode == 2, "gitops-bump refuses the tag latest")
        r = run("c1c2c3c4c5c6", "nosuchservice")
        tap(r.returncode == 2, "gitops-bump refuses an unknown service")

        # A concurrent push lands between A's fetch and A's push: a pre-push
        # hook in A pushes B's unrelated commit first, once.
        def race(change):
            hook = os.path.join(a, ".git/hooks/pre-push")
            with open(hook, "w") as f:
                f.write("#!/bin/sh\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n"
                        "[ -e '%s/raced' ] && exit 0\ntouch '%s/raced'\n"
                        "cd '%s' && git pull -q --rebase origin main && %s && git push -q origin HEAD:main\n"
                        % (t, t, b, change))
            os.chmod(hook, 0o755)
            if os.path.exists(os.path.join(t, "raced")):
                os.remove(os.path.join(t, "raced"))

        race("echo note >> k8s/README.md && git commit -qam 'docs: unrelated change'")
        r = run("d1d2d3d4d5d6", "users")
        log = sh(["git", "--git-dir", bare, "log", "--format=%s", "-3", "main"], t).stdout.split("\n")
        text = remote_file(bare, kz)
        tap(r.returncode == 0 and os.path.exists(os.path.join(t, "raced")) and "rejected" in r.stderr
            and log[0].startswith("deploy(staging): kumo-users -> d1d2d3d4d5d6") and log[1] == "docs: unrelated change"
            and re.findall(r'newTag: "?([\w.-]+)"?', text) == ["d1d2d3d4d5d6"] + ["a1b2c3d4e5f6"] * (len(ALL) - 1),
            "gitops-bump retries a rejected push by rebasing onto the concurrent commit",
            [r.stderr.strip()] + log[:2])
        # A concurrent bump of the same line: the rebase conflicts, the script
        # starts again from the remote state and still lands its tag.
        race("sed -i 's/newTag: .*/newTag: \"e0e0e0e0e0e0\"/' %s && git commit -qam 'deploy(staging): other'" % kz)
        r = run("f1f2f3f4f5f6", *ALL)
        text = remote_file(bare, kz)
        log = sh(["git", "--git-dir", bare, "log", "--format=%s", "-2", "main"], t).stdout.split("\n")
        tap(r.returncode == 0 and re.findall(r'newTag: "?([\w.-]+)"?', text) == ["f1f2f3f4f5f6"] * len(ALL)
            and log[1] == "deploy(staging): other",
            "gitops-bump redoes its edit when the concurrent push touched the same lines", [r.stderr.strip()] + log)
        status = sh(["git", "status", "--porcelain"], a).stdout
        tap(status == "", "checkout left clean after the retries", [status])
    except Exception as e:  # noqa: BLE001 - report as a failure, not a crash
        tap(False, "gitops-bump suite ran (%s)" % e)
    finally:
        shutil.rmtree(t, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        print("usage: deploy_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    daemons = policy.load_daemons(build)
    for svc, d in sorted(daemons.items()):
        note("kumo-%s: %s" % (svc, "%d variables from --help" % len(d.vars) if d else "not built, its checks skipped"))
    tap(any(daemons.values()), "at least one daemon built in %s" % build)
    for svc, d in sorted(daemons.items()):
        if d is not None:
            tap(len(d.vars) > 5 and "serve" in d.subcommands,
                "kumo-%s --help lists its KUMO_* variables and subcommands %s" % (svc, d.subcommands))
    rendered = test_kustomize(daemons)
    test_mutations(rendered, daemons)
    test_dockerfiles(daemons)
    test_console_shipped(rendered)
    test_argocd()
    test_workflow()
    test_gitops()
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
