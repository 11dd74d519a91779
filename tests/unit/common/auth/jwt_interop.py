#!/usr/bin/python3
"""Independent JWT implementation (PyJWT + cryptography) for kumo's tests.

Run by tests/unit/common/auth/test_jwt_*.c with /usr/bin/python3 (Debian's
python3-jwt and python3-cryptography). Modes:

  forge --priv P --pub P --jwks J --kid K --iss I --aud A --now N
      Prints one line per token: "<expect>\t<name>\t<token>", where expect
      is "ok" or the KUMO_JWT_ERR_* name (without prefix) kumo's verifier
      must return. Valid tokens are signed by PyJWT; attacks are built here.
  verify --jwks J --iss I --aud A --token TOKEN
      Verifies TOKEN with PyJWT using the key named by its kid in the JWKS
      (ES256 only) and prints "ok <sub> <tid> <roles,...>" or "error <why>".
  thumbprint --pem P
      Prints the RFC 7638 thumbprint of the key (computed here from the
      public numbers) for comparison with kumo_jwt_key_thumbprint.
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seg(obj_or_text):
    text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text, separators=(",", ":"))
    return b64u(text.encode())


def es_sign(key, digest, size, signing_input):
    der = key.sign(signing_input.encode(), ec.ECDSA(digest))
    r, s = decode_dss_signature(der)
    return b64u(r.to_bytes(size, "big") + s.to_bytes(size, "big"))


def raw_token(header, payload, sign):
    """header/payload: dict or raw JSON text; sign(signing_input) -> b64 sig."""
    si = seg(header) + "." + seg(payload)
    return si + "." + sign(si)


def hs256(secret):
    return lambda si: b64u(hmac.new(secret, si.encode(), hashlib.sha256).digest())


def load_priv(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def forge(a):
    priv = load_priv(a.priv)
    with open(a.pub, "rb") as f:
        pub_pem = f.read()
    with open(a.jwks, "rb") as f:
        jwks_text = f.read()
    now = a.now
    claims = {
        "iss": a.iss, "aud": a.aud, "sub": "user-1", "tid": "tenant-a",
        "roles": ["editor"], "iat": now, "nbf": now, "exp": now + 900, "jti": "py-jti-1",
    }
    hdr = {"alg": "ES256", "typ": "JWT", "kid": a.kid}
    es256 = lambda si: es_sign(priv, hashes.SHA256(), 32, si)
    out = []

    def emit(expect, name, tok):
        out.append("%s\t%s\t%s" % (expect, name, tok))

    def with_claims(**kw):
        c = dict(claims)
        for k, v in kw.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    # Accepted: PyJWT's own encoder.
    emit("ok", "pyjwt_es256", jwt.encode(claims, priv, algorithm="ES256", headers={"kid": a.kid}))
    emit("ok", "pyjwt_es256_no_typ", raw_token({"alg": "ES256", "kid": a.kid}, claims, es256))
    emit("ok", "pyjwt_es256_admin_service",
         jwt.encode(with_claims(roles=["admin", "service"]), priv, algorithm="ES256",
                    headers={"kid": a.kid}))

    # alg none in its spellings, with and without a signature.
    for alg in ("none", "None", "NONE", "nOnE"):
        emit("ALG", "alg_" + alg, raw_token({"alg": alg, "typ": "JWT", "kid": a.kid}, claims,
                                            lambda si: ""))
    emit("ALG", "alg_none_no_kid", raw_token({"alg": "none"}, claims, lambda si: ""))
    emit("ALG", "alg_none_with_sig", raw_token({"alg": "none", "kid": a.kid}, claims, es256))
    emit("ALG", "alg_missing", raw_token({"typ": "JWT", "kid": a.kid}, claims, es256))
    # Key confusion: HS256 MACed with the public key (PEM, JWKS, raw point).
    emit("ALG", "hs256_pub_pem", raw_token(dict(hdr, alg="HS256"), claims, hs256(pub_pem)))
    emit("ALG", "hs256_jwks_json", raw_token(dict(hdr, alg="HS256"), claims, hs256(jwks_text)))
    emit("ALG", "hs256_pub_pem_stripped",
         raw_token(dict(hdr, alg="HS256"), claims, hs256(pub_pem.strip())))
    # Other asymmetric algorithms.
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    emit("ALG", "rs256", jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": a.kid}))
    emit("ALG", "ps256", jwt.encode(claims, rsa_key, algorithm="PS256", headers={"kid": a.kid}))
    p384 = ec.generate_private_key(ec.SECP384R1())
    emit("ALG", "es384", jwt.encode(claims, p384, algorithm="ES384", headers={"kid": a.kid}))
    emit("ALG", "es256k_like", raw_token(dict(hdr, alg="ES256K"), claims, es256))
    # kid games.
    for name, kid in (("kid_unknown", "nope"), ("kid_path", "../../etc/passwd"),
                      ("kid_sql", "' OR 1=1 --"), ("kid_empty", ""),
                      ("kid_url", "https://evil.example/jwks.json")):
        emit("KID", name, raw_token(dict(hdr, kid=kid), claims, es256))
    emit("KID", "kid_missing", raw_token({"alg": "ES256", "typ": "JWT"}, claims, es256))
    # Another key, same kid.
    other = ec.generate_private_key(ec.SECP256R1())
    emit("SIGNATURE", "other_key_same_kid",
         jwt.encode(claims, other, algorithm="ES256", headers={"kid": a.kid}))
    # Embedded-key header attacks.
    jwk_hdr = dict(hdr, jwk=json.loads(jwt.algorithms.ECAlgorithm.to_jwk(other.public_key())))
    emit("HEADER", "embedded_jwk", raw_token(jwk_hdr, claims,
                                             lambda si: es_sign(other, hashes.SHA256(), 32, si)))
    emit("HEADER", "jku_header", raw_token(dict(hdr, jku="https://evil.example/k"), claims, es256))
    # Time claims.
    emit("EXPIRED", "expired", jwt.encode(with_claims(iat=now - 1000, nbf=now - 1000,
                                                      exp=now - 100), priv, algorithm="ES256",
                                          headers={"kid": a.kid}))
    emit("NOT_YET_VALID", "nbf_future",
         raw_token(hdr, with_claims(nbf=now + 600, exp=now + 900), es256))
    emit("CLAIMS", "exp_missing", raw_token(hdr, with_claims(exp=None), es256))
    emit("CLAIMS", "exp_string", raw_token(hdr, with_claims(exp=str(now + 900)), es256))
    emit("CLAIMS", "exp_float", raw_token(hdr, with_claims(exp=float(now + 900)), es256))
    emit("CLAIMS", "exp_1e300", raw_token(hdr, '{"iss":"%s","aud":"%s","sub":"u","tid":"t",'
                                          '"roles":["viewer"],"iat":%d,"exp":1e300,"jti":"j"}'
                                          % (a.iss, a.aud, now), es256))
    emit("MALFORMED", "exp_2_63", raw_token(hdr, with_claims(exp=2**63), es256))
    emit("CLAIMS", "exp_2_63_minus_1", raw_token(hdr, with_claims(exp=2**63 - 1), es256))
    emit("CLAIMS", "exp_true", raw_token(hdr, with_claims(exp=True), es256))
    # Issuer and audience.
    emit("ISSUER", "wrong_iss", raw_token(hdr, with_claims(iss="https://evil.example"), es256))
    emit("AUDIENCE", "wrong_aud", raw_token(hdr, with_claims(aud="other"), es256))
    emit("AUDIENCE", "aud_array", raw_token(hdr, with_claims(aud=[a.aud]), es256))
    # Duplicate keys, validly signed.
    dup_h = '{"alg":"ES256","kid":"%s","alg":"none"}' % a.kid
    emit("MALFORMED", "dup_header_key", raw_token(dup_h, claims, es256))
    body = json.dumps(claims, separators=(",", ":"))
    dup_p = body[:-1] + ',"tid":"tenant-b"}'
    emit("MALFORMED", "dup_payload_key", raw_token(hdr, dup_p, es256))
    # Segments.
    good = jwt.encode(claims, priv, algorithm="ES256", headers={"kid": a.kid})
    h, p, s = good.split(".")
    emit("MALFORMED", "two_segments", h + "." + p)
    emit("MALFORMED", "four_segments", good + "." + s)
    emit("MALFORMED", "five_segments", good + ".AAAA.AAAA")
    emit("SIGNATURE", "empty_signature", h + "." + p + ".")
    emit("SIGNATURE", "truncated_signature", h + "." + p + "." + s[:-2])
    sig = bytearray(base64.urlsafe_b64decode(s + "=="))
    sig[10] ^= 0x01
    emit("SIGNATURE", "bit_flipped_signature", h + "." + p + "." + b64u(bytes(sig)))
    emit("MALFORMED", "padded_payload", h + "." + p + "=" * (-len(p) % 4 or 4) + "." + s)
    print("\n".join(out))


def verify(a):
    with open(a.jwks) as f:
        jwks = jwt.PyJWKSet.from_json(f.read())
    kid = jwt.get_unverified_header(a.token).get("kid")
    key = next(k for k in jwks.keys if k.key_id == kid)
    try:
        c = jwt.decode(a.token, key.key, algorithms=["ES256"], audience=a.aud, issuer=a.iss,
                       options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
                       leeway=30)
    except jwt.PyJWTError as e:
        print("error", type(e).__name__)
        return
    print("ok", c["sub"], c["tid"], ",".join(c["roles"]))


def thumbprint(a):
    with open(a.pem, "rb") as f:
        data = f.read()
    try:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    except ValueError:
        key = serialization.load_pem_public_key(data)
    n = key.public_numbers()
    jwk = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (
        b64u(n.x.to_bytes(32, "big")), b64u(n.y.to_bytes(32, "big")))
    print(b64u(hashlib.sha256(jwk.encode()).digest()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["forge", "verify", "thumbprint"])
    ap.add_argument("--priv")
    ap.add_argument("--pub")
    ap.add_argument("--pem")
    ap.add_argument("--jwks")
    ap.add_argument("--kid")
    ap.add_argument("--iss")
    ap.add_argument("--aud")
    ap.add_argument("--now", type=int)
    ap.add_argument("--token")
    a = ap.parse_args()
    {"forge": forge, "verify": verify, "thumbprint": thumbprint}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
