"""Checks the BFF's answers against bff/openapi.yaml (issue 20, "The OpenAPI
is the truth"), shared by the integration suites that talk to kumo-bff
(tests/integration/bff, tests/integration/kumocms): their HTTP helpers hand
every response they receive to observe(), and at the end report() prints one
TAP line per operation and status seen, and a summary.

A response is checked when its URL path is under /api/v1 and matches an
operation of the document (path template and method); then
  - its status must be listed in that operation's responses (or `default`);
  - a response the document gives JSON content must be application/json and
    its body must validate against the schema (JSON Schema 2020-12, the
    dialect of OpenAPI 3.1, with python3-jsonschema: required members, types,
    enums, bounds, formats it knows);
  - a response the document gives no content (204) must have no body.
Requests the document has no operation for (unrouted paths, OPTIONS
preflights, 405s) are the BFF's generic answers: counted, and when they are
errors (4xx, 5xx) held to the document's Error schema.
"""
import copy
import datetime
import json
import os
import re
import urllib.parse

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPEC = os.path.join(ROOT, "bff", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch", "head")


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(s):
    """RFC 3339 date-time (jsonschema checks it only with a package Debian
    does not ship, rfc3339-validator)."""
    if not isinstance(s, str):
        return True
    if not _RFC3339.match(s):
        raise ValueError("not an RFC 3339 date-time")
    datetime.datetime.fromisoformat(s.upper().replace("Z", "+00:00"))
    return True


def _deref(doc, node, seen=()):
    """`node` with every local $ref replaced by its target (copied)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                raise ValueError("recursive $ref " + ref)
            cur = doc
            for part in ref[2:].split("/"):
                cur = cur[part]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            target = _deref(doc, cur, seen + (ref,))
            if rest:
                return {"allOf": [target, _deref(doc, rest, seen)]}
            return target
        return {k: _deref(doc, v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(doc, v, seen) for v in node]
    return node


class Validator:
    """The operations of an OpenAPI document and what was seen of them."""

    def __init__(self, spec_path=SPEC):
        with open(spec_path) as f:
            self.doc = yaml.safe_load(f)
        self.ops = []  # (METHOD, template, regex, operation)
        for tmpl, item in self.doc["paths"].items():
            rx = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(tmpl)) + "$")
            for m in METHODS:
                if m in item:
                    self.ops.append((m.upper(), tmpl, rx, item[m]))
        # Literal paths first: /documents/{id} must not swallow a fixed path.
        self.ops.sort(key=lambda o: o[1].count("{"))
        self.seen = {}  # (METHOD, template, status) -> [count, [errors]]
        self.unchecked = 0
        self._schemas = {}

    def operation(self, method, path):
        for m, tmpl, rx, op in self.ops:
            if m == method and rx.match(path):
                return tmpl, op
        return None, None

    def _response(self, op, status):
        rs = op.get("responses", {})
        r = rs.get(str(status), rs.get("default"))
        return None if r is None else _deref(self.doc, r)

    def errors(self, method, path, status, content_type, body):
        """The mismatches of one response (a list of strings; empty: valid),
        or None when the document has no operation for the request."""
        tmpl, op = self.operation(method, path)
        if op is None:
            return None
        resp = self._response(op, status)
        if resp is None:
            listed = ", ".join(sorted(op.get("responses", {})))
            return ["status %d is not listed (listed: %s)" % (status, listed)]
        content = resp.get("content")
        if not content:
            return [] if not body else ["no body documented, got %d bytes" % len(body)]
        media = content.get("application/json")
        if media is None:
            return []
        if not (content_type or "").lower().startswith("application/json"):
            return ["Content-Type %r, documented application/json" % content_type]
        try:
            inst = json.loads(body.decode("utf-8"))
        except ValueError as e:
            return ["body is not JSON: %s" % e]
        schema = media.get("schema", {})
        v = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
        out = []
        for e in sorted(v.iter_errors(inst), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in e.absolute_path) or "(body)"
            out.append("%s: %s" % (where, e.message[:200]))
        return out

    def _generic_error(self, content_type, body):
        if not (content_type or "").lower().startswith("application/json"):
            return ["Content-Type %r, an error is application/json" % content_type]
        try:
            inst = json.loads(body.decode("utf-8"))
        except ValueError as e:
            return ["body is not JSON: %s" % e]
        schema = _deref(self.doc, {"$ref": "#/components/schemas/Error"})
        v = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
        return [e.message[:200] for e in v.iter_errors(inst)]

    def observe(self, method, url, status, headers, body):
        """Records one response: `url` absolute or a path, `headers` a
        mapping (any case) or a list-valued dict, `body` bytes."""
        if not status:
            return
        path = urllib.parse.urlsplit(url).path
        if not path.startswith("/api/v1"):
            return
        ct = _header(headers, "content-type")
        errs = self.errors(method.upper(), path, status, ct, body or b"")
        tmpl, _ = self.operation(method.upper(), path)
        if errs is None:
            # No operation (an unrouted path, a 405, a preflight): an error
            # must still be the document's Error.
            self.unchecked += 1
            if status < 400:
                return
            tmpl = "(no operation)"
            errs = self._generic_error(ct, body or b"")
        ent = self.seen.setdefault((method.upper(), tmpl, status), [0, []])
        ent[0] += 1
        if errs and len(ent[1]) < 5:
            snippet = (body or b"")[:300].decode("utf-8", "replace")
            ent[1].append("%s %s: %s; body %s" % (method.upper(), path, "; ".join(errs[:6]),
                                                   snippet))

    def report(self, report_fn, prefix="openapi: "):
        """Calls report_fn(ok, name, diag) once per (operation, status) seen
        and once for the summary; returns the number of failures."""
        bad = 0
        for (m, tmpl, status), (n, errs) in sorted(self.seen.items()):
            ok = not errs
            bad += not ok
            report_fn(ok, "%s%s %s %d matches the document (%d responses)" % (
                prefix, m, tmpl, status, n), "\n".join(errs) if errs else None)
        total = sum(n for n, _ in self.seen.values())
        ops = {(m, t) for m, t, _ in self.seen if t != "(no operation)"}
        report_fn(bad == 0 and total > 0,
                  "%severy response validated: %d responses, %d operations, %d (operation, "
                  "status) pairs, %d mismatching, %d outside any operation" % (
                      prefix, total, len(ops), len(self.seen), bad, self.unchecked),
                  None if bad == 0 else "%d (operation, status) pairs mismatch" % bad)
        return bad

    def self_test(self, report_fn, prefix="openapi: "):
        """Shows that the checks can fail: mutations of valid answers
        (a required member dropped, a wrong type, an enum value outside the
        list, an unlisted status) must each be caught."""
        fails = []
        err = json.dumps({"error": {"code": "not_found", "message": "x"}}).encode()
        tmpl = "/api/v1/documents/doc_abc"
        doc = {"id": "doc_abc", "document_id": "doc_abc", "status": "active", "etag": "3",
               "owner_id": "us_1", "create_time": "2026-01-02T03:04:05.5Z",
               "update_time": "2026-01-02T03:04:05Z", "size": 12}

        def mutated(**kw):
            d = dict(doc)
            for k, v in kw.items():
                if v is None:
                    d.pop(k)
                else:
                    d[k] = v
            return json.dumps(d).encode()
        cases = [
            ("valid error", "GET", tmpl, 404, err, False),
            ("valid document", "GET", tmpl, 200, mutated(), False),
            ("error without message", "GET", tmpl, 404,
             json.dumps({"error": {"code": "not_found"}}).encode(), True),
            ("error code a number", "GET", tmpl, 404,
             json.dumps({"error": {"code": 5, "message": "x"}}).encode(), True),
            ("status not listed", "GET", "/api/v1/me", 418, err, True),
            ("document without etag", "GET", tmpl, 200, mutated(etag=None), True),
            ("document status outside the enum", "GET", tmpl, 200, mutated(status="lost"),
             True),
            ("size a string", "GET", tmpl, 200, mutated(size="12"), True),
            ("create_time not a date-time", "GET", tmpl, 200, mutated(create_time="yesterday"),
             True),
            ("204 with a body", "DELETE", "/api/v1/api-keys/k1", 204, b"{}", True),
            ("not JSON", "GET", tmpl, 200, b"<html>", True),
        ]
        for name, m, path, status, body, want_error in cases:
            errs = self.errors(m, path, status, "application/json", body)
            if bool(errs) != want_error:
                fails.append("%s: errors %r" % (name, errs))
        report_fn(not fails, prefix + "the validator catches mutated responses (%d cases)" %
                  len(cases), "\n".join(fails) or None)


def _header(headers, name):
    if headers is None:
        return None
    try:
        v = headers.get(name)
        if v is None:
            for k in headers.keys():
                if k.lower() == name:
                    v = headers[k]
                    break
    except AttributeError:
        return None
    if isinstance(v, list):
        return v[-1] if v else None
    return v


_SHARED = None


def shared():
    """The process's Validator (created on first use)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Validator()
    return _SHARED


def observe(method, url, status, headers, body):
    shared().observe(method, url, status, headers, copy.copy(body))
