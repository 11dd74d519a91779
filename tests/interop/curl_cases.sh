#!/bin/sh
# Connect unary over plain curl (--http2-prior-knowledge) with the JSON codec,
# against kumo-echo: what a developer debugging with curl sees.
#
# Usage: tests/interop/curl_cases.sh HOST:PORT
# Prints one TAP line per case ("ok - CASE"); exits 0 when all passed.
# JSON is checked with /usr/bin/python3 (jq is not a project dependency).
set -u

if [ $# -ne 1 ]; then
	echo "usage: curl_cases.sh HOST:PORT" >&2
	exit 2
fi
BASE="http://$1/kumo.test.v1.EchoService"
PY=/usr/bin/python3
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

# req METHOD URL [curl args...]: response headers in $T/h, body in $T/b,
# HTTP status in $STATUS.
req() {
	m=$1
	u=$2
	shift 2
	: >"$T/h"
	: >"$T/b"
	STATUS=$(curl -sS --http2-prior-knowledge --max-time 10 -X "$m" -D "$T/h" -o "$T/b" \
		-w '%{http_code}' -H 'connect-protocol-version: 1' "$@" "$u" 2>"$T/e") || STATUS="curl-failed: $(cat "$T/e")"
	# Without Accept-Encoding any coding is acceptable (RFC 9110), so a
	# gzip answer is legal: decode it here, checks see JSON either way.
	ENCODING=$(header content-encoding)
	if [ "$ENCODING" = gzip ]; then
		gzip -dc <"$T/b" >"$T/b.dec" 2>/dev/null && mv "$T/b.dec" "$T/b"
	fi
}

# header NAME: value of a response header (lowercase name), empty if absent.
header() {
	tr -d '\r' <"$T/h" | awk -v n="$1" 'BEGIN{IGNORECASE=1} index(tolower($0), n ": ")==1 {sub(/^[^:]*: /, ""); print; exit}'
}

# json_check PYEXPR: evaluates PYEXPR with j = the parsed body; 0 when true.
json_check() {
	"$PY" - "$T/b" "$1" <<'EOF'
import json, sys, base64
try:
    j = json.load(open(sys.argv[1], encoding="utf-8"))
except Exception as e:
    print("body is not JSON: %s" % e, file=sys.stderr)
    sys.exit(1)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

body() { head -c 400 "$T/b"; }

# check NAME WANT_STATUS PYEXPR [HEADER=VALUE...]
check() {
	name=$1
	want=$2
	expr=$3
	shift 3
	if [ "$STATUS" != "$want" ]; then
		not_ok "$name" "expected HTTP $want, got $STATUS" "body: $(body)"
		return
	fi
	if [ -n "$expr" ] && ! json_check "$expr" 2>"$T/pe"; then
		not_ok "$name" "body check failed: $expr" "body: $(body)" "$(cat "$T/pe")"
		return
	fi
	for hv in "$@"; do
		hn=${hv%%=*}
		hval=${hv#*=}
		got=$(header "$hn")
		if [ "$got" != "$hval" ]; then
			not_ok "$name" "header $hn: expected '$hval', got '$got'"
			return
		fi
	done
	ok "$name"
}

# jpost URL [curl args...]: a Connect unary POST with the JSON codec.
jpost() {
	u=$1
	shift
	req POST "$u" -H 'content-type: application/json' "$@"
}

# Unary POST with JSON: bytes are base64, headers echoed, header and trailer.
jpost "$BASE/Echo" -H 'x-custom: hello' -H 'x-request-id: curl-rid-1' \
	--data-binary '{"message":"hello","payload":"AAECAw==","echoHeaders":["x-custom"]}'
check "connect-json/echo" 200 \
	'j["message"] == "hello" and base64.b64decode(j["payload"]) == b"\0\1\2\3"' \
	content-type=application/json
check "connect-json/echo headers map" 200 'j.get("headers") == {"x-custom": "hello"}'
check "connect-json/echo request_id" 200 'j.get("requestId") == "curl-rid-1"'
check "connect-json/echo header x-echo-initial" 200 "" x-echo-initial=initial
check "connect-json/echo trailer as trailer-x-echo-trailer" 200 "" trailer-x-echo-trailer=trailing

# Lookup over POST: int64 as a JSON string, enum by name, Timestamp RFC 3339.
jpost "$BASE/Lookup" --data-binary '{"key":"k1","kind":"KIND_FANCY"}'
check "connect-json/lookup" 200 \
	'j["value"] == "value-of-k1" and j["kind"] == "KIND_FANCY" and j["big"] == "9007199254740993" and j["lookedUpAt"].endswith("Z")'
# Enum given by number, int64 given as a string, are accepted on input.
jpost "$BASE/Lookup" --data-binary '{"key":"k1","kind":2}'
check "connect-json/lookup with enum number" 200 'j["kind"] == "KIND_FANCY"'

# GET with ?encoding=json&message=... (URL-encoded JSON).
MSG=$("$PY" -c 'import urllib.parse; print(urllib.parse.quote("{\"key\":\"k 1/\u00e9\",\"kind\":\"KIND_PLAIN\"}"))')
req GET "$BASE/Lookup?connect=v1&encoding=json&message=$MSG"
check "connect-json/GET lookup" 200 \
	'j["value"] == "value-of-k 1/\u00e9" and j["kind"] == "KIND_PLAIN" and j["big"] == "9007199254740993"' \
	content-type=application/json
# GET with base64=1 (URL-safe, unpadded) JSON.
MSG=$("$PY" -c 'import base64; print(base64.urlsafe_b64encode(b"{\"key\":\"k2\"}").decode().rstrip("="))')
req GET "$BASE/Lookup?connect=v1&encoding=json&base64=1&message=$MSG"
check "connect-json/GET lookup base64" 200 'j["value"] == "value-of-k2"'

# Errors: JSON body {"code","message"} and the HTTP status of the Connect spec.
for pair in 1:canceled:499 2:unknown:500 3:invalid_argument:400 4:deadline_exceeded:504 \
	5:not_found:404 6:already_exists:409 7:permission_denied:403 8:resource_exhausted:429 \
	9:failed_precondition:400 10:aborted:409 11:out_of_range:400 12:unimplemented:501 \
	13:internal:500 14:unavailable:503 15:data_loss:500 16:unauthenticated:401; do
	n=${pair%%:*}
	rest=${pair#*:}
	code=${rest%%:*}
	http=${rest#*:}
	jpost "$BASE/Fail" --data-binary "{\"code\":$n,\"message\":\"h\\u00e9llo \\u4e16\\u754c %\"}"
	check "connect-json/fail/$n -> HTTP $http {\"code\":\"$code\"}" "$http" \
		"j == {\"code\": \"$code\", \"message\": \"h\u00e9llo \u4e16\u754c %\"}" \
		content-type=application/json
done
# Error details: type without the type.googleapis.com/ prefix, value base64.
jpost "$BASE/Fail" --data-binary '{"code":5,"message":"m","detail":"the detail"}'
check "connect-json/fail with detail" 404 \
	'j["code"] == "not_found" and len(j["details"]) == 1 and j["details"][0]["type"] == "kumo.test.v1.EchoResponse" and base64.b64decode(j["details"][0]["value"] + "=" * (-len(j["details"][0]["value"]) % 4)) == b"\n\nthe detail"'

# Deadline: Connect-Timeout-Ms 200 on a 2 s Sleep -> 504 deadline_exceeded fast.
START=$(date +%s%N)
jpost "$BASE/Sleep" -H 'connect-timeout-ms: 200' --data-binary '{"durationMs":"2000"}'
ELAPSED=$((($(date +%s%N) - START) / 1000000))
check "connect-json/deadline -> HTTP 504 deadline_exceeded" 504 'j["code"] == "deadline_exceeded"'
if [ "$ELAPSED" -le 1500 ]; then ok "connect-json/deadline returned within 1.5 s"; else
	not_ok "connect-json/deadline returned within 1.5 s" "took $ELAPSED ms"; fi

# gzip response: Accept-Encoding gzip on a large compressible answer.
"$PY" -c 'import json,base64; print(json.dumps({"message":"gz","payload":base64.b64encode(b"abcdefgh"*8192).decode()}))' >"$T/big.json"
jpost "$BASE/Echo" -H 'accept-encoding: gzip' --data-binary @"$T/big.json"
if [ "$ENCODING" = gzip ]; then
	check "connect-json/gzip response" 200 'j["message"] == "gz" and len(base64.b64decode(j["payload"])) == 65536'
else
	not_ok "connect-json/gzip response" "HTTP $STATUS content-encoding='$ENCODING'"
fi
# gzip request: Content-Encoding gzip body.
gzip -c <"$T/big.json" >"$T/big.json.gz"
jpost "$BASE/Echo" -H 'content-encoding: gzip' --data-binary @"$T/big.json.gz"
check "connect-json/gzip request" 200 'j["message"] == "gz" and len(base64.b64decode(j["payload"])) == 65536'

# Unknown procedure and wrong method, as curl users meet them.
jpost "$BASE/NoSuchMethod" --data-binary '{}'
check "connect-json/unknown method -> 404 unimplemented" 404 'j["code"] == "unimplemented"'
req PUT "$BASE/Echo" -H 'content-type: application/json' --data-binary '{}'
check "connect-json/PUT -> 405" 405 ""

[ "$FAILED" -eq 0 ]
