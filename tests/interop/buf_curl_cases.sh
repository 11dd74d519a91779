#!/bin/sh
# `buf curl` (Buf's CLI, from node_modules) against kumo-echo with server
# reflection as the only schema source (no --schema): proves reflection
# works with a real reflection client, over the gRPC, Connect and gRPC-Web
# protocols.
#
# Usage: tests/interop/buf_curl_cases.sh HOST:PORT [--tls CA_PEM]
# Prints one TAP line per case ("ok - CASE"); exits 0 when all passed.
set -u

if [ $# -ne 1 ] && { [ $# -ne 3 ] || [ "$2" != --tls ]; }; then
	echo "usage: buf_curl_cases.sh HOST:PORT [--tls CA_PEM]" >&2
	exit 2
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
if [ $# -eq 3 ]; then
	URL="https://$1"
	set -- --cacert "$3"
else
	URL="http://$1"
	set -- --http2-prior-knowledge
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
FAILED=0

ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
	FAILED=$((FAILED + 1))
}

# bufcurl ARGS...: stdout in $T/o, stderr in $T/e, exit status in $RC.
bufcurl() {
	RC=0
	(cd "$ROOT" && exec timeout 30 npx --no buf curl --timeout 10s "$@") >"$T/o" 2>"$T/e" || RC=$?
}

json_check() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1], encoding="utf-8"))
except Exception as e:
    print("not JSON: %s" % e, file=sys.stderr)
    sys.exit(1)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# not_ok_run NAME [LINE...]: a failed case, with what the last buf curl printed.
not_ok_run() {
	not_ok "$@" "exit $RC" "stdout: $(head -c 300 "$T/o")" \
		"stderr: $(grep -v 'npm warn' "$T/e" | head -c 300)"
}

# check NAME FILE PYEXPR: RC must be 0 and FILE's JSON must satisfy PYEXPR.
check() {
	if [ "$RC" -eq 0 ] && json_check "$2" "$3" 2>/dev/null; then ok "$1"; else
		not_ok_run "$1"
	fi
}

for proto in grpc connect grpcweb; do
	bufcurl "$@" --protocol "$proto" -H 'x-custom: hello' \
		-d '{"message":"via buf curl","payload":"AAEC","echoHeaders":["x-custom"]}' \
		"$URL/kumo.test.v1.EchoService/Echo"
	check "$proto/echo (schema from reflection)" "$T/o" \
		'j["message"] == "via buf curl" and j["payload"] == "AAEC" and j["headers"] == {"x-custom": "hello"}'
	bufcurl "$@" --protocol "$proto" -d '{"key":"k","kind":"KIND_FANCY"}' \
		"$URL/kumo.test.v1.EchoService/Lookup"
	check "$proto/lookup" "$T/o" \
		'j["value"] == "value-of-k" and j["kind"] == "KIND_FANCY" and j["big"] == "9007199254740993"'
	bufcurl "$@" --protocol "$proto" -d '{"code":5,"message":"h\u00e9llo"}' \
		"$URL/kumo.test.v1.EchoService/Fail"
	# buf curl prints the error as JSON on stderr and exits non-zero.
	grep -v 'npm warn' "$T/e" >"$T/err"
	if [ "$RC" -ne 0 ] && json_check "$T/err" 'j["code"] == "not_found" and j["message"] == "h\u00e9llo"' 2>/dev/null; then
		ok "$proto/fail -> not_found"
	else
		not_ok_run "$proto/fail -> not_found"
	fi
done

for rp in grpc-v1 grpc-v1alpha; do
	bufcurl "$@" --reflect-protocol "$rp" --protocol grpc -d '{"message":"r"}' \
		"$URL/kumo.test.v1.EchoService/Echo"
	check "reflection $rp/echo" "$T/o" 'j["message"] == "r"'
done

bufcurl "$@" --list-services "$URL"
if [ "$RC" -eq 0 ] && grep -qx 'kumo.test.v1.EchoService' "$T/o" && grep -qx 'grpc.health.v1.Health' "$T/o"; then
	ok "reflection/list-services"
else
	not_ok_run "reflection/list-services"
fi
bufcurl "$@" --list-methods "$URL"
missing=""
for m in Echo Fail Sleep Bytes Lookup; do
	grep -qx "kumo.test.v1.EchoService/$m" "$T/o" || missing="$missing $m"
done
if [ "$RC" -eq 0 ] && [ -z "$missing" ]; then ok "reflection/list-methods"; else
	not_ok_run "reflection/list-methods" "missing:$missing"
fi

bufcurl "$@" --protocol grpc -d '{}' "$URL/grpc.health.v1.Health/Check"
check "health/Check (schema from reflection)" "$T/o" 'j["status"] == "SERVING"'

[ "$FAILED" -eq 0 ]
