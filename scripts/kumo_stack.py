#!/usr/bin/python3
"""Brings up the kumo stack from a build directory: a private MariaDB
(scripts/mariadb), secrets, migrations, bootstrap, then kumo-users,
kumo-storage, kumo-documents and kumo-bff on ephemeral (or given) ports.

Importable (stdlib, plus Debian's python3-grpcio / python3-protobuf only for
login() and messages()):

    st = Stack(root, "build", "/tmp/work")
    st.up()                       # or step by step, see up()
    d = st.start("documents", name="docs2", env={"KUMO_JOBS_WORKERS": "3"})
    d.rpc_port, d.admin_port, d.log, d.stop()
    st.sql("SELECT COUNT(*) FROM documents", "kumo_documents")
    tok = st.login("demo", st.demo_email, st.demo_password).access_token
    st.down()

Command line (foreground; SIGINT/SIGTERM stop everything cleanly):

    python3 scripts/kumo_stack.py up --build build --work var/ \\
        [--ports users=7101,users_admin=9101,storage=7103,storage_admin=9103,\\
storage_data=7104,documents=7102,documents_admin=9102,bff=8080,bff_admin=9100,\\
bff_rpc=7100,mariadb=3306] \\
        [--no-tls-db] [--only users,storage]

prints one JSON line with the ports and the credential file paths once up.
A work directory that already holds data is reused: MariaDB's data, the
secrets and the keys are kept; migrate and bootstrap run again (idempotent).

Daemons run in their own session (a terminal's Ctrl-C reaches only this
process, which sends exactly one SIGTERM) and get SIGTERM if the process that
started them dies (PR_SET_PDEATHSIG): start daemons from the main thread.
"""
import argparse
import ctypes
import http.client
import json
import os
import re
import secrets as _secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SERVICES = ("users", "storage", "documents", "bff")
DBS = {"users": "kumo_users", "documents": "kumo_documents"}
PORT_KEYS = ("users", "users_admin", "storage", "storage_admin", "storage_data", "documents",
             "documents_admin", "bff", "bff_admin", "bff_rpc", "mariadb")
STORAGE_AKID = "AKIDKUMOLOCALSTACK"
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A step of bringing the stack up failed; the message holds the log tail."""


def _tail(path, n=30):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return "(no log: %s)" % e


def _write_secret(path, text):
    """Writes text to path with mode 0600 (created, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _child_setup():
    # Own session: a terminal's SIGINT does not reach the daemon directly
    # (two signals would skip the graceful drain). PDEATHSIG: never outlive
    # the process that started it.
    os.setsid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _import_grpc():
    """Imports grpc and protobuf; when run by another interpreter than
    Debian's (pyenv...), falls back to Debian's dist-packages."""
    import importlib
    try:
        importlib.import_module("grpc")
        importlib.import_module("google.protobuf")
    except ImportError:
        for d in ("/usr/lib/python3/dist-packages", "/usr/local/lib/python3/dist-packages"):
            if os.path.isdir(d) and d not in sys.path:
                sys.path.append(d)
        for m in [m for m in sys.modules if m == "google" or m.startswith("google.")]:
            del sys.modules[m]
        importlib.import_module("grpc")
        importlib.import_module("google.protobuf")


def http_get(port, path, timeout=5.0):
    """GET http://127.0.0.1:port/path -> (status, body bytes); (0, b"") if unreachable."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body
    except (OSError, http.client.HTTPException):
        return 0, b""


class Daemon:
    """A started kumo daemon. Ports are ints (None when the daemon has none)."""

    def __init__(self, svc, name, proc, log):
        self.svc, self.name, self.proc, self.log = svc, name, proc, log
        self.pid = proc.pid
        self.rpc_port = self.admin_port = self.http_port = self.data_port = None
        self.exit_code = None

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def target(self):
        """host:port of the RPC listener (gRPC / Connect)."""
        return "127.0.0.1:%d" % self.rpc_port

    def stop(self, timeout=30.0):
        """SIGTERM, waits (SIGKILL after timeout s), returns the exit code
        (negative: killed by that signal)."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_code = self.proc.returncode
        return self.exit_code

    def kill(self):
        """SIGKILL (a crash), waits, returns the exit code."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.exit_code = self.proc.wait()
        return self.exit_code

    def __repr__(self):
        return "<Daemon %s pid=%d rpc=%s admin=%s http=%s data=%s>" % (
            self.name, self.pid, self.rpc_port, self.admin_port, self.http_port, self.data_port)


class Stack:
    """The kumo stack under work_dir. Attributes once set up:
    db_port, db_dir, db_ca, daemons (name -> Daemon), keys_dir,
    system_tenant/system_email/system_password, demo_tenant/demo_email/
    demo_password, storage_root, storage_access_key_id, storage_secret."""

    def __init__(self, root, build_dir, work_dir, ports=None, tls_db=True, log_level="info"):
        self.root = os.path.abspath(root)
        self.build = os.path.abspath(build_dir)
        self.work = os.path.abspath(work_dir)
        self.ports = dict(ports or {})
        for k in self.ports:
            if k not in PORT_KEYS:
                raise ValueError("unknown port name %r (known: %s)" % (k, ", ".join(PORT_KEYS)))
        self.tls_db = tls_db
        self.log_level = log_level
        os.makedirs(self.work, exist_ok=True)
        self.db_dir = os.path.join(self.work, "db")
        self.db_ca = os.path.join(self.db_dir, "tls", "ca.pem")
        self.secrets_dir = os.path.join(self.work, "secrets")
        self.keys_dir = os.path.join(self.work, "keys")
        self.logs_dir = os.path.join(self.work, "logs")
        self._logs_seen = set()
        self.storage_root = os.path.join(self.work, "storage")
        self.db_port = None
        self.db_running = False
        self.daemons = {}
        self.order = []
        self.system_tenant = "system"
        self.system_email = "admin@kumo.local"
        self.demo_tenant = "demo"
        self.demo_email = "admin@demo.local"
        self.system_password = self.demo_password = None
        self.storage_access_key_id = STORAGE_AKID
        self.storage_secret = None
        self._messages = None
        self._channels = {}

    # ---- paths ------------------------------------------------------------------

    def bin(self, svc):
        return os.path.join(self.build, "bin", "kumo-" + svc)

    def secret_path(self, name):
        return os.path.join(self.secrets_dir, name)

    def db_password_file(self, svc):
        return self.secret_path("db-%s.password" % svc)

    def apikey_file(self, svc):
        return os.path.join(self.keys_dir, svc + ".apikey")

    # ---- MariaDB ------------------------------------------------------------------

    def _mariadb(self, *args, stdin=None, check=True):
        env = dict(os.environ)
        env.setdefault("KUMO_MARIADB_OWNER_PID", str(os.getpid()))
        # A private TMPDIR (mariadbd's default tmpdir): two installs started
        # at once in /tmp can collide on temporary table names.
        tmp = os.path.join(self.work, "db-tmp")
        os.makedirs(tmp, exist_ok=True)
        env["TMPDIR"] = tmp
        p = subprocess.run([os.path.join(self.root, "scripts", "mariadb")] + list(args),
                           input=stdin, capture_output=True, env=env)
        if check and p.returncode != 0:
            raise StackError("scripts/mariadb %s failed:\n%s" % (
                args[0], (p.stderr or b"").decode("utf-8", "replace")[-4000:]))
        return p

    def start_mariadb(self, extra_options=()):
        """Starts (or restarts, reusing the data) the private MariaDB, creates
        the kumo_users and kumo_documents databases and one DB user each with
        a random password kept in secrets/db-<svc>.password. The server stops
        when this process exits (KUMO_MARIADB_OWNER_PID)."""
        os.makedirs(self.secrets_dir, mode=0o700, exist_ok=True)
        opts = list(extra_options)
        if not self.tls_db:
            opts = ["--skip-ssl"] + opts
        os.environ["KUMO_MARIADB_OWNER_PID"] = str(os.getpid())
        fresh = not os.path.isdir(os.path.join(self.db_dir, "data", "mysql"))
        try:
            p = self._mariadb("start", self.db_dir, str(self.ports.get("mariadb", 0)), *opts)
        except StackError:
            if not fresh:
                raise
            # A failed first install leaves a half-made data directory: retry once.
            shutil.rmtree(os.path.join(self.db_dir, "data"), ignore_errors=True)
            time.sleep(0.5)
            p = self._mariadb("start", self.db_dir, str(self.ports.get("mariadb", 0)), *opts)
        m = re.search(r"port=(\d+)", p.stdout.decode())
        if not m:
            raise StackError("scripts/mariadb start printed no port: %r" % p.stdout)
        self.db_port = int(m.group(1))
        self.db_running = True
        stmts = []
        for svc, db in DBS.items():
            pf = self.db_password_file(svc)
            if not os.path.exists(pf):
                _write_secret(pf, _secrets.token_urlsafe(24))
            pw = _read(pf).replace("\\", "\\\\").replace("'", "\\'")
            req = " REQUIRE SSL" if self.tls_db else ""
            stmts += [
                "CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;" % db,
                "CREATE USER IF NOT EXISTS '%s'@'127.0.0.1' IDENTIFIED BY '%s'%s;" % (db, pw, req),
                "ALTER USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'%s;" % (
                    db, pw, req if req else " REQUIRE NONE"),
                "GRANT ALL ON %s.* TO '%s'@'127.0.0.1';" % (db, db),
            ]
        self._mariadb("sql", self.db_dir, stdin="\n".join(stmts).encode())
        return self.db_port

    def stop_mariadb(self):
        if self.db_running:
            self._mariadb("stop", self.db_dir, check=False)
            self.db_running = False

    def sql(self, query, db=None):
        """Runs SQL as root over the socket; returns the rows as lists of
        strings (NULL is "NULL"). Raises StackError on an SQL error."""
        args = ["sql", self.db_dir, "-N", "-B"]
        if db:
            args.append(db)
        p = self._mariadb(*(args + ["-e", query]), check=False)
        if p.returncode != 0:
            raise StackError("SQL failed: %s\n%s" % (query[:200], p.stderr.decode()[-2000:]))
        return [line.split("\t") for line in p.stdout.decode("utf-8", "replace").splitlines()]

    def sql_script(self, text, db=None):
        """Feeds a multi-statement SQL script (str or bytes) to the root client."""
        args = ["sql", self.db_dir]
        if db:
            args.append(db)
        data = text.encode() if isinstance(text, str) else text
        p = self._mariadb(*args, stdin=data, check=False)
        if p.returncode != 0:
            err = p.stderr.decode("utf-8", "replace")
            # The client echoes the failing statement (maybe megabytes): keep the error.
            lines = [ln for ln in err.splitlines() if ln.startswith("ERROR")] or [err[-2000:]]
            raise StackError("SQL script failed:\n%s" % "\n".join(lines)[-2000:])
        return p.stdout.decode("utf-8", "replace")

    # ---- secrets --------------------------------------------------------------------

    def secrets(self):
        """Creates what is missing (kept across runs): two ES256 signing keys,
        the pepper, the system and demo admin passwords, the storage access
        key; all mode 0600 under work_dir/secrets."""
        os.makedirs(self.secrets_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.keys_dir, mode=0o700, exist_ok=True)
        for name in ("jwt1.pem", "jwt2.pem"):
            path = self.secret_path(name)
            if not os.path.exists(path):
                tmp = path + ".tmp"
                old = os.umask(0o077)
                try:
                    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                                    "ec_paramgen_curve:P-256", "-out", tmp],
                                   check=True, capture_output=True)
                finally:
                    os.umask(old)
                os.chmod(tmp, 0o600)
                os.rename(tmp, path)
        plain = {"pepper": lambda: _secrets.token_urlsafe(48),
                 "system-admin.password": lambda: "sys-" + _secrets.token_urlsafe(15),
                 "demo-admin.password": lambda: "demo-" + _secrets.token_urlsafe(15),
                 "storage-secret-key": lambda: _secrets.token_urlsafe(30)}
        for name, gen in plain.items():
            path = self.secret_path(name)
            if not os.path.exists(path):
                _write_secret(path, gen())
        self.system_password = _read(self.secret_path("system-admin.password"))
        self.demo_password = _read(self.secret_path("demo-admin.password"))
        self.storage_secret = _read(self.secret_path("storage-secret-key"))

    # ---- environments ---------------------------------------------------------------

    def _db_env(self, svc):
        env = {"KUMO_DB_HOST": "127.0.0.1", "KUMO_DB_PORT": str(self.db_port),
               "KUMO_DB_USER": DBS[svc], "KUMO_DB_NAME": DBS[svc],
               "KUMO_DB_PASSWORD_FILE": self.db_password_file(svc)}
        if self.tls_db:
            env["KUMO_DB_TLS_CA_FILE"] = self.db_ca
        return env

    def _console_origins(self):
        """The web console's origins (the BFF's HTTP port) when it is fixed."""
        p = self.ports.get("bff", 0)
        return "http://127.0.0.1:%d,http://localhost:%d" % (p, p) if p else ""

    def _port(self, key):
        return str(self.ports.get(key, 0))

    def jwks_url(self):
        users = self.daemons.get("users")
        if users is None or users.admin_port is None:
            raise StackError("kumo-users is not running: no JWKS URL")
        return "http://127.0.0.1:%d/.well-known/jwks.json" % users.admin_port

    def revocations_url(self):
        users = self.daemons.get("users")
        if users is None or users.admin_port is None:
            raise StackError("kumo-users is not running: no revocation feed")
        return "http://127.0.0.1:%d/revocations" % users.admin_port

    def target_of(self, svc):
        d = self.daemons.get(svc)
        if d is None or d.rpc_port is None:
            raise StackError("kumo-%s is not running" % svc)
        return d.target()

    def env_of(self, svc):
        """The KUMO_* environment of a service (before per-start overrides)."""
        # start() needs the info-level "serving" line: never quieter than info.
        level = self.log_level if self.log_level in ("debug", "info") else "info"
        env = {"KUMO_LOG_LEVEL": level, "KUMO_RPC_ADDR": "127.0.0.1",
               "KUMO_DRAIN_TIMEOUT": "5s"}
        if svc == "users":
            env.update(self._db_env("users"))
            env.update({
                "KUMO_RPC_PORT": self._port("users"), "KUMO_ADMIN_PORT": self._port("users_admin"),
                "KUMO_JWT_SIGNING_KEY_FILES": "%s,%s" % (self.secret_path("jwt1.pem"),
                                                         self.secret_path("jwt2.pem")),
                "KUMO_SECRET_PEPPER_FILE": self.secret_path("pepper"),
                "KUMO_BOOTSTRAP_ADMIN_PASSWORD_FILE": self.secret_path("system-admin.password"),
                "KUMO_BOOTSTRAP_DEMO_ADMIN_PASSWORD_FILE": self.secret_path("demo-admin.password"),
                "KUMO_BOOTSTRAP_DEMO_TENANT": self.demo_tenant,
                "KUMO_BOOTSTRAP_KEY_DIR": self.keys_dir,
                "KUMO_TRUSTED_PROXIES": "127.0.0.1",
            })
        elif svc == "storage":
            env.update({
                "KUMO_RPC_PORT": self._port("storage"),
                "KUMO_ADMIN_PORT": self._port("storage_admin"),
                "KUMO_STORAGE_DATA_PORT": self._port("storage_data"),
                "KUMO_STORAGE_ROOT": self.storage_root,
                "KUMO_STORAGE_ACCESS_KEY_ID": self.storage_access_key_id,
                "KUMO_STORAGE_SECRET_ACCESS_KEY_FILE": self.secret_path("storage-secret-key"),
                "KUMO_JWT_JWKS_URL": self.jwks_url(),
                "KUMO_REVOCATIONS_URL": self.revocations_url(),
                "KUMO_SERVICE_CALLERS": "documents",
                # The web console uploads and previews straight from the data
                # port: its origin (the BFF's) must pass CORS. With a fixed BFF
                # port that origin is exact; with an ephemeral one any origin
                # (presigned URLs carry their own authorization).
                "KUMO_STORAGE_CORS_ORIGINS": self._console_origins() or "*",
            })
        elif svc == "documents":
            env.update(self._db_env("documents"))
            env.update({
                "KUMO_RPC_PORT": self._port("documents"),
                "KUMO_ADMIN_PORT": self._port("documents_admin"),
                "KUMO_JWT_JWKS_URL": self.jwks_url(),
                "KUMO_REVOCATIONS_URL": self.revocations_url(),
                "KUMO_STORAGE_TARGET": self.target_of("storage"),
                "KUMO_USERS_TARGET": self.target_of("users"),
                "KUMO_SERVICE_API_KEY_FILE": self.apikey_file("documents"),
            })
        elif svc == "bff":
            env.update({
                "KUMO_HTTP_PORT": self._port("bff"), "KUMO_ADMIN_PORT": self._port("bff_admin"),
                "KUMO_RPC_PORT": self._port("bff_rpc"),
                "KUMO_USERS_TARGET": self.target_of("users"),
                "KUMO_JWT_JWKS_URL": self.jwks_url(),
                "KUMO_REVOCATIONS_URL": self.revocations_url(),
                "KUMO_COOKIE_SECURE": "false",
            })
            # The web console built by `make` into BUILD/web, and the data
            # port's origin in its CSP (uploads and previews go there).
            web = os.path.join(self.build, "web")
            env["KUMO_WEB_ROOT"] = web if os.path.exists(os.path.join(web, "index.html")) else "off"
            storage = self.daemons.get("storage")
            if storage is not None and getattr(storage, "data_port", None):
                env["KUMO_WEB_CONNECT_SRC"] = "http://127.0.0.1:%d http://localhost:%d" % (
                    storage.data_port, storage.data_port)
            for dep, var in (("documents", "KUMO_DOCUMENTS_TARGET"),
                             ("storage", "KUMO_STORAGE_TARGET")):
                if dep in self.daemons:
                    env[var] = self.target_of(dep)
            if os.path.exists(self.apikey_file("bff")):
                env["KUMO_SERVICE_API_KEY_FILE"] = self.apikey_file("bff")
        else:
            raise ValueError("unknown service %r" % svc)
        return env

    def _base_env(self):
        # Only the configuration given here counts: drop inherited KUMO_*.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUMO_")
               and not k.startswith("AWS_")}
        if "KUMO_MARIADB_TIMEOUT" in os.environ:
            env["KUMO_MARIADB_TIMEOUT"] = os.environ["KUMO_MARIADB_TIMEOUT"]
        return env

    # ---- one-shot subcommands ---------------------------------------------------------

    def _log_path(self, base):
        """logs/<base>.log for this run. The first time this Stack writes a
        log, a file left by an earlier run becomes <base>.log.1 (the one
        before that is dropped): a kept var/ holds this run's logs and the
        previous run's, never an ever-growing file."""
        os.makedirs(self.logs_dir, exist_ok=True)
        path = os.path.join(self.logs_dir, base + ".log")
        if path not in self._logs_seen:
            self._logs_seen.add(path)
            if os.path.exists(path):
                os.replace(path, path + ".1")
        return path

    def _run_cmd(self, svc, sub, extra_env=None):
        log = self._log_path("%s-%s" % (svc, sub))
        env = self._base_env()
        env.update(self._db_env(svc))
        if svc == "users":
            env.update(self.env_of("users"))
        env["KUMO_LOG_LEVEL"] = self.log_level
        env.update(extra_env or {})
        with open(log, "ab") as f:
            p = subprocess.run([self.bin(svc), sub], env=env, stdout=f, stderr=f,
                               stdin=subprocess.DEVNULL, timeout=300)
        if p.returncode != 0:
            raise StackError("kumo-%s %s exited %d:\n%s" % (svc, sub, p.returncode, _tail(log)))

    def migrate(self, svc, extra_env=None):
        """kumo-<svc> migrate (users, documents); idempotent."""
        self._run_cmd(svc, "migrate", extra_env)

    def bootstrap(self, extra_env=None):
        """kumo-users bootstrap: system tenant + admin, demo tenant + admin,
        service API keys in keys/<svc>.apikey; idempotent."""
        self._run_cmd("users", "bootstrap", extra_env)

    # ---- daemons --------------------------------------------------------------------------

    def start(self, svc, name=None, env=None, timeout=60.0, wait_ready=True):
        """Starts kumo-<svc> with env_of(svc) updated by env, waits for its
        "serving" log line (ports from it) and /readyz 200. Returns a Daemon;
        raises StackError with the log tail on failure."""
        name = name or svc
        if name in self.daemons and self.daemons[name].alive():
            raise StackError("%s is already running" % name)
        ch = self._channels.pop(name, None)
        if ch is not None:
            ch.close()  # the restarted daemon listens on new ports
        os.makedirs(self.logs_dir, exist_ok=True)
        full = self._base_env()
        full.update(self.env_of(svc))
        full.update(env or {})
        log = self._log_path(name)
        f = open(log, "ab")
        start_off = f.tell()
        try:
            proc = subprocess.Popen([self.bin(svc)], env=full, stdout=f, stderr=f,
                                    stdin=subprocess.DEVNULL, preexec_fn=_child_setup)
        finally:
            f.close()
        d = Daemon(svc, name, proc, log)
        d.env = full
        self.daemons[name] = d
        if name in self.order:
            self.order.remove(name)
        self.order.append(name)
        deadline = time.time() + timeout
        want_data = svc == "storage"
        serving = None
        while time.time() < deadline:
            with open(log, "rb") as lf:
                lf.seek(start_off)
                for line in lf.read().decode("utf-8", "replace").splitlines():
                    if '"serving"' not in line:
                        continue
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        continue
                    if obj.get("msg") == "serving":
                        serving = obj
                        break
            if serving is not None:
                break
            if proc.poll() is not None:
                raise StackError("kumo-%s (%s) exited %s before serving:\n%s" % (
                    svc, name, proc.returncode, _tail(log)))
            time.sleep(0.05)
        if serving is None:
            d.stop(timeout=5)
            raise StackError("kumo-%s (%s) did not log \"serving\" within %.0fs:\n%s" % (
                svc, name, timeout, _tail(log)))

        def port(field, var):
            v = serving.get(field)
            if v not in (None, ""):
                return int(v)
            given = full.get(var, "0")
            return int(given) if given not in ("", "0") else None

        d.rpc_port = port("rpc_port", "KUMO_RPC_PORT")
        d.admin_port = port("admin_port", "KUMO_ADMIN_PORT")
        d.http_port = port("http_port", "KUMO_HTTP_PORT")
        d.data_port = port("data_port", "KUMO_STORAGE_DATA_PORT") if want_data else None
        if want_data and d.data_port is None:
            # Some daemons log the data port on a line of its own.
            with open(log, "rb") as lf:
                lf.seek(start_off)
                m = re.search(r'"data_port":"?(\d+)', lf.read().decode("utf-8", "replace"))
            if m:
                d.data_port = int(m.group(1))
        if wait_ready and d.admin_port:
            last = (0, b"")
            while time.time() < deadline:
                last = http_get(d.admin_port, "/readyz")
                if last[0] == 200:
                    break
                if proc.poll() is not None:
                    raise StackError("kumo-%s (%s) exited %s while not ready:\n%s" % (
                        svc, name, proc.returncode, _tail(log)))
                time.sleep(0.1)
            else:
                d.stop(timeout=5)
                raise StackError("kumo-%s (%s) /readyz not 200 within %.0fs (last %d %r):\n%s" % (
                    svc, name, timeout, last[0], last[1][:500], _tail(log)))
        return d

    def stop(self, name):
        """Stops the daemon called name; returns its exit code (None if unknown)."""
        d = self.daemons.get(name)
        if d is None:
            return None
        return d.stop()

    def has_binary(self, svc):
        return os.access(self.bin(svc), os.X_OK)

    def up(self, services=SERVICES, env=None):
        """start_mariadb, secrets, migrate, bootstrap, then the daemons in
        order users, storage, documents, bff (skipping missing binaries);
        env maps a service to extra environment for its daemon.
        Returns the list of started daemon names."""
        if not self.has_binary("users"):
            raise StackError("%s is missing (make all)" % self.bin("users"))
        self.start_mariadb()
        self.secrets()
        self.migrate("users")
        if "documents" in services and self.has_binary("documents"):
            self.migrate("documents")
        self.bootstrap()
        started = []
        for svc in SERVICES:
            if svc not in services or not self.has_binary(svc):
                continue
            self.start(svc, env=(env or {}).get(svc))
            started.append(svc)
        return started

    def down(self):
        """Stops every daemon in reverse start order, then MariaDB. Returns
        {name: exit code}."""
        codes = {}
        for ch in self._channels.values():
            try:
                ch.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._channels = {}
        for name in reversed(self.order):
            d = self.daemons[name]
            if d.exit_code is None or d.alive():
                codes[name] = d.stop()
            else:
                codes[name] = d.exit_code
        self.order = []
        self.stop_mariadb()
        return codes

    # ---- clients ----------------------------------------------------------------------------

    def messages(self):
        """Message classes by full name (kumo.users.v1.*, kumo.documents.v1.*,
        kumo.storage.v1.*, google.protobuf.*) from a descriptor set protoc
        builds now (no generated stubs)."""
        if self._messages is None:
            _import_grpc()
            from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
            protos = []
            for rel in ("kumo/users/v1/users.proto", "kumo/documents/v1/documents.proto",
                        "kumo/storage/v1/storage.proto"):
                if os.path.exists(os.path.join(self.root, "proto", rel)):
                    protos.append(rel)
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "kumo.binpb")
                subprocess.run(["protoc", "-I" + os.path.join(self.root, "proto"),
                                "-I/usr/include", "--include_imports",
                                "--descriptor_set_out=" + out] + protos, check=True)
                with open(out, "rb") as f:
                    fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
            pool = descriptor_pool.DescriptorPool()
            for fd in fds.file:
                pool.Add(fd)
            self._pool = pool
            try:
                self._messages = message_factory.GetMessages(list(fds.file), pool=pool)
            except (AttributeError, TypeError):
                self._messages = message_factory.MessageFactory(pool).GetMessages(
                    [f.name for f in fds.file])
        return self._messages

    def channel(self, name):
        _import_grpc()
        import grpc
        if name not in self._channels:
            self._channels[name] = grpc.insecure_channel(
                self.daemons[name].target(),
                options=[("grpc.enable_retries", 0),
                         ("grpc.max_receive_message_length", 64 << 20)])
        return self._channels[name]

    def call(self, name, service, method, req, token=None, timeout=30.0, metadata=None):
        """Unary gRPC call of service ("kumo.users.v1.UserService") on the
        daemon called name; returns the response message, raises grpc.RpcError."""
        M = self.messages()
        pkg = service.rsplit(".", 1)[0]
        resp_cls = M[pkg + "." + method + "Response"]
        md = list(metadata or [])
        if token:
            md.append(("authorization", "Bearer " + token))
        fn = self.channel(name).unary_unary("/%s/%s" % (service, method))
        return resp_cls.FromString(fn(req.SerializeToString(), timeout=timeout,
                                      metadata=md or None))

    def login(self, tenant, email, password):
        """kumo-users Authenticate; returns the AuthenticateResponse
        (access_token, refresh_token, user)."""
        M = self.messages()
        req = M["kumo.users.v1.AuthenticateRequest"](tenant=tenant, email=email,
                                                     password=password)
        return self.call("users", "kumo.users.v1.UserService", "Authenticate", req)

    def info(self):
        """What a client needs: ports and credential file paths (JSON-able)."""
        out = {"work": self.work, "build": self.build,
               "mariadb": {"port": self.db_port, "dir": self.db_dir,
                           "ca": self.db_ca if self.tls_db else None,
                           "socket": os.path.join(self.db_dir, "mysql.sock")},
               "credentials": {
                   "system": {"tenant": self.system_tenant, "email": self.system_email,
                              "password_file": self.secret_path("system-admin.password")},
                   "demo": {"tenant": self.demo_tenant, "email": self.demo_email,
                            "password_file": self.secret_path("demo-admin.password")},
                   "api_keys": {os.path.splitext(k)[0]: os.path.join(self.keys_dir, k)
                                for k in sorted(os.listdir(self.keys_dir))
                                if k.endswith(".apikey")} if os.path.isdir(self.keys_dir) else {},
                   "db_passwords": {s: self.db_password_file(s) for s in DBS},
                   "storage": {"access_key_id": self.storage_access_key_id,
                               "secret_access_key_file": self.secret_path("storage-secret-key")}},
               "services": {}}
        for name in self.order:
            d = self.daemons[name]
            if not d.alive():
                continue
            out["services"][name] = {k: v for k, v in (
                ("pid", d.pid), ("rpc_port", d.rpc_port), ("admin_port", d.admin_port),
                ("http_port", d.http_port), ("data_port", d.data_port), ("log", d.log))
                if v is not None}
        return out


# ---- command line ------------------------------------------------------------------------------

def parse_ports(text):
    out = {}
    for item in filter(None, (text or "").split(",")):
        k, _, v = item.partition("=")
        k = k.strip()
        if k not in PORT_KEYS or not v.strip().isdigit():
            raise SystemExit("kumo_stack: bad --ports item %r (names: %s)" % (
                item, ", ".join(PORT_KEYS)))
        out[k] = int(v)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run the kumo stack in the foreground.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring the stack up; Ctrl-C / SIGTERM stops it")
    up.add_argument("--build", default="build")
    up.add_argument("--work", default="var")
    up.add_argument("--ports", default="", help="name=port,... (%s)" % ",".join(PORT_KEYS))
    up.add_argument("--no-tls-db", action="store_true")
    up.add_argument("--only", default=",".join(SERVICES), help="services to start")
    up.add_argument("--log-level", default="info")
    args = ap.parse_args(argv)
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    st = Stack(root, args.build, args.work, ports=parse_ports(args.ports),
               tls_db=not args.no_tls_db, log_level=args.log_level)
    stopping = {"sig": None}

    def on_signal(signum, _frame):
        stopping["sig"] = signum
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    rc = 0
    try:
        st.up([s.strip() for s in args.only.split(",") if s.strip()])
        print(json.dumps(st.info(), sort_keys=True), flush=True)
        while True:
            for name in list(st.order):
                d = st.daemons[name]
                if not d.alive():
                    print("kumo_stack: %s exited %s; stopping:\n%s" % (
                        name, d.proc.returncode, _tail(d.log, 10)), file=sys.stderr, flush=True)
                    d.exit_code = d.proc.returncode
                    raise SystemExit(1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except StackError as e:
        print("kumo_stack: %s" % e, file=sys.stderr, flush=True)
        rc = 1
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        codes = st.down()
        bad = {k: v for k, v in codes.items() if v not in (0, None)}
        if bad:
            print("kumo_stack: exit codes %s" % json.dumps(bad), file=sys.stderr, flush=True)
            rc = rc or 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
