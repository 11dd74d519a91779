"""`make run` (issue 7, "What must be shown" 3); see ./run. Prints TAP and
"N passed, M failed".

Runs scripts/run-local as a user would (its own process, a temporary var
dir, every port 0 = free), waits for the curl line it prints, runs that
exact line, checks a 200 JSON answer, creates a document through the BFF,
sends SIGINT and checks a clean exit with nothing left listening; then
starts it again on the same var dir and checks the data is reused (same API
key, the document still there). Also: a taken port is named and refused
before anything starts. Missing daemons fail the suite (never a skip).
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
RUN_LOCAL = os.path.join(ROOT, "scripts", "run-local")
SERVICES = ("users", "storage", "documents", "bff")
PORT_VARS = ("KUMO_BFF_PORT", "KUMO_BFF_ADMIN_PORT", "KUMO_BFF_RPC_PORT", "KUMO_USERS_RPC_PORT", "KUMO_USERS_ADMIN_PORT",
             "KUMO_DOCUMENTS_RPC_PORT", "KUMO_DOCUMENTS_ADMIN_PORT", "KUMO_STORAGE_RPC_PORT",
             "KUMO_STORAGE_ADMIN_PORT", "KUMO_STORAGE_DATA_PORT", "KUMO_MARIADB_PORT")
UP_TIMEOUT = float(os.environ.get("KUMO_RUN_LOCAL_TIMEOUT", "240"))
PASSED = 0
FAILED = 0


def tap(ok, name, diag=()):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok - run-local: " + name)
    else:
        FAILED += 1
        print("not ok - run-local: " + name)
        for d in diag:
            for line in str(d).splitlines()[-25:]:
                print("#   " + line)
    sys.stdout.flush()


class Run:
    """scripts/run-local in the background, its output collected."""

    def __init__(self, build, work, extra_env=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUMO_")}
        if "KUMO_MARIADB_TIMEOUT" in os.environ:
            env["KUMO_MARIADB_TIMEOUT"] = os.environ["KUMO_MARIADB_TIMEOUT"]
        env.update({v: "0" for v in PORT_VARS})
        env.update({"BUILD": build, "KUMO_VAR_DIR": work})
        env.update(extra_env or {})
        self.lines = []
        self.lock = threading.Lock()
        # Its own session, like a terminal job: SIGINT goes to run-local only.
        self.proc = subprocess.Popen([RUN_LOCAL], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def text(self):
        with self.lock:
            return "\n".join(self.lines)

    def wait_for(self, pattern, timeout):
        deadline = time.time() + timeout
        rx = re.compile(pattern, re.M)
        while time.time() < deadline:
            m = rx.search(self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                self.reader.join(2)
                return rx.search(self.text())
            time.sleep(0.2)
        return None

    def interrupt(self, timeout=90):
        """SIGINT (a terminal's Ctrl-C); returns the exit code (None: hung,
        then killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            rc = None
        self.reader.join(5)
        return rc


def listening(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def banner_ports(text):
    return sorted(set(int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)))


def run_curl(line, extra=()):
    """Runs the printed curl line through sh in the repository root (where
    `make run` prints it), plus extra curl arguments. Returns (rc, stdout)."""
    cmd = line + "".join(" " + shlex.quote(a) for a in extra)
    p = subprocess.run(["sh", "-c", cmd], cwd=ROOT, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_curl(line, phase):
    rc, out, err = run_curl(line, ["-sS", "-w", "\n%{http_code}"])
    body, _, status = out.rpartition("\n")
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    tap(rc == 0 and status == "200" and isinstance(doc, dict),
        "%s: the printed curl line answers 200 with a JSON object" % phase,
        ["rc=%s status=%s" % (rc, status), body[:500], err[:500]])
    # Exactly as printed, too (no extra options): exit 0 and JSON.
    rc2, out2, err2 = run_curl(line)
    try:
        json.loads(out2)
        ok = rc2 == 0
    except ValueError:
        ok = False
    tap(ok, "%s: the curl line as printed prints JSON" % phase, [out2[:300], err2[:300]])
    return doc


def bff_request(url, key_file, method, path, body=None):
    args = ["curl", "-sS", "-X", method, "-H", "Authorization: Bearer " + open(key_file).read().strip(),
            "-w", "\n%{http_code}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    p = subprocess.run(args + [url + path], capture_output=True, timeout=60)
    out, _, status = p.stdout.decode("utf-8", "replace").rpartition("\n")
    try:
        return status, json.loads(out)
    except ValueError:
        return status, out


def parse_banner(run, m):
    line = m.group(0).strip()
    key = re.search(r"\$\(cat ([^)]+)\)", line)
    url = re.search(r"(http://127\.0\.0\.1:\d+)/api/v1/documents", line)
    return line, (os.path.join(ROOT, key.group(1)) if key else None), (url.group(1) if url else None)


def test_port_taken(build, base):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    work = os.path.join(base, "taken")
    try:
        r = Run(build, work, {"KUMO_BFF_PORT": str(port)})
        rc = r.proc.wait(timeout=30)
        r.reader.join(2)
        out = r.text()
        tap(rc not in (0, None) and ("port %d" % port) in out and "KUMO_BFF_PORT" in out,
            "a taken port is named (port %d, KUMO_BFF_PORT) and run-local exits non-zero" % port, [out])
        tap(not os.path.exists(work), "nothing started (no var dir) when a port is taken")
    finally:
        s.close()


def readme_block():
    """The README's first-ten-minutes lines, exactly as written."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"<!-- first-ten-minutes:begin -->\n```sh\n(.*?)```\n<!-- first-ten-minutes:end -->",
                  text, re.S)
    return m.group(1) if m else None


def check_readme_lines(url, work, base):
    """Runs the README's lines with bash -e in a directory whose var/ is the
    run's var dir (the README's lines run from the repository root)."""
    block = readme_block()
    tap(block is not None, "README has the first-ten-minutes block between its markers")
    if block is None:
        return
    where = os.path.join(base, "readme-cwd")
    os.makedirs(where, exist_ok=True)
    if not os.path.lexists(os.path.join(where, "var")):
        os.symlink(work, os.path.join(where, "var"))
    env = dict(os.environ, KUMO=url)
    p = subprocess.run(["bash", "-eo", "pipefail", "-c", block], cwd=where, env=env,
                       capture_output=True, text=True, timeout=120)
    tap(p.returncode == 0 and "the same bytes came back" in p.stdout,
        "the README's first ten minutes run as written against make run (sign in, create, PUT, "
        "complete, get, download, list, search, API key)",
        ["exit %s" % p.returncode, p.stdout[-1500:], p.stderr[-1500:]])


def check_awscli_lines(text, base):
    """Runs the awscli lines run-local prints for the data port, as printed
    (after the README's lines stored a document, so the listing has a key)."""
    m = re.search(r"^  (AWS_ACCESS_KEY_ID=.*\\)\n(\s+/usr/bin/aws .*)$", text, re.M)
    tap(m is not None, "first run: prints how to point awscli at the data port", [text[-1500:]])
    if m is None:
        return
    cmd = m.group(1)[:-1] + " " + m.group(2).strip()
    p = subprocess.run(["bash", "-c", cmd], cwd=os.path.join(base, "readme-cwd"),
                       capture_output=True, text=True, timeout=120)
    tap(p.returncode == 0 and re.search(r" t/tn_\w+/d/doc_\w+/", p.stdout) is not None,
        "the printed awscli line lists the stored objects (t/<tenant id>/d/<document>/...)",
        ["exit %s" % p.returncode, p.stdout[-800:], p.stderr[-800:]])


def main():
    if len(sys.argv) != 2:
        print("usage: run_local_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    base = tempfile.mkdtemp(prefix="kumo-run-local-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    try:
        test_port_taken(build, base)
        missing = [s for s in SERVICES if not os.access(os.path.join(build, "bin", "kumo-" + s), os.X_OK)]
        tap(not missing, "every daemon is built (%s)" % ", ".join("kumo-" + s for s in SERVICES),
            ["missing in %s/bin: %s -- `make run` cannot bring the suite up without them"
             % (build, ", ".join("kumo-" + s for s in missing))] if missing else [])
        if missing:
            return
        work = os.path.join(base, "var")
        # ---- first run: fresh var dir
        r = Run(build, work)
        m = r.wait_for(r'^\s+curl -H "Authorization: Bearer \$\(cat [^)]+\)" http://127\.0\.0\.1:\d+/api/v1/documents\s*$',
                       UP_TIMEOUT)
        tap(m is not None, "first run: run-local brings everything up and prints the curl line", [r.text()])
        if m is None:
            r.interrupt()
            return
        line, key_file, url = parse_banner(r, m)
        text = r.text()
        tap(bool(re.search(r"Demo tenant:\s+demo", text)) and "password file" in text and key_file
            and os.path.exists(key_file), "first run: prints the demo tenant, the admin's password file and the API key file",
            [text])
        tap(oct(os.stat(key_file).st_mode & 0o777) == "0o600", "the demo API key file is mode 0600")
        key1 = open(key_file).read().strip()
        check_curl(line, "first run")
        status, doc = bff_request(url, key_file, "POST", "/api/v1/documents",
                                  {"file_name": "make-run.txt", "file_size": 5, "content_type": "text/plain",
                                   "meta_json": {"source": "run-local test"}})
        doc_id = doc.get("document_id") if isinstance(doc, dict) else None
        tap(status in ("200", "201") and bool(doc_id), "first run: a document is created through the BFF with the API key",
            ["status %s: %s" % (status, str(doc)[:500])])
        tap("TOKEN=$(jq -n --arg pw" in text and "/api/v1/auth/login" in text,
            "first run: prints the sign-in line", [text[-1500:]])
        check_readme_lines(url, work, base)
        check_awscli_lines(text, base)
        ports = banner_ports(text)
        rc = r.interrupt()
        out = r.text()
        tap(rc == 0 and "stopped cleanly" in out, "SIGINT: run-local stops every daemon and MariaDB, exit 0",
            ["exit %s" % rc, out[-3000:]])
        still = [p for p in ports if listening(p)]
        tap(ports and not still, "nothing left listening after Ctrl-C (checked ports %s)" % ports,
            ["still listening: %s" % still])
        # ---- second run: same var dir
        r = Run(build, work)
        m = r.wait_for(r'^\s+curl -H "Authorization: Bearer \$\(cat [^)]+\)" http://127\.0\.0\.1:\d+/api/v1/documents\s*$',
                       UP_TIMEOUT)
        tap(m is not None, "second run: comes up again on the same var dir", [r.text()])
        if m is None:
            r.interrupt()
            return
        line, key_file2, url = parse_banner(r, m)
        tap(key_file2 == key_file and open(key_file).read().strip() == key1 and "(new)" not in r.text(),
            "second run: reuses the demo API key")
        check_curl(line, "second run")
        if doc_id:
            status, got = bff_request(url, key_file, "GET", "/api/v1/documents/" + doc_id)
            tap(status == "200", "second run: the document of the first run is still there (data reused)",
                ["status %s: %s" % (status, str(got)[:500])])
        ports = banner_ports(r.text())
        rc = r.interrupt()
        tap(rc == 0, "second run: SIGINT, exit 0", ["exit %s" % rc, r.text()[-2000:]])
        logs = sorted(os.listdir(os.path.join(work, "logs")))
        tap("bff.log" in logs and "bff.log.1" in logs and not any(x.endswith(".2") for x in logs),
            "logs: this run's and the previous run's are kept, nothing older", [logs])
        still = [p for p in ports if listening(p)]
        tap(not still, "second run: nothing left listening", ["still listening: %s" % still])
    finally:
        subprocess.run(["rm", "-rf", base])


if __name__ == "__main__":
    rc = 0
    try:
        rc = main() or 0
    finally:
        print("%d passed, %d failed" % (PASSED, FAILED))
    sys.exit(2 if rc == 2 else (1 if FAILED else 0))
