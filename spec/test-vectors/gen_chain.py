#!/usr/bin/env python3
"""Generates spec/test-vectors/chain.json (spec/federation.md sections 4-6).

An implementation independent of the C++ code: canonical JSON with the
standard json module (sort_keys, compact separators, ensure_ascii=False;
enough for the integers and strings used here), SHA-256 from hashlib,
unpadded base64url from base64, Ed25519 from the `cryptography` package
(OpenSSL), or from PyNaCl if that is what is installed. Ed25519 signatures
are deterministic, so the output is reproducible byte for byte.

Before writing, the script reproduces spec/test-vectors/event_signing.json
(same seed convention: the 32-byte seed is the RFC 8032 private key, as in
libsodium's crypto_sign_seed_keypair) to check its own conventions.

Usage: python3 spec/test-vectors/gen_chain.py            # (re)writes chain.json
       python3 spec/test-vectors/gen_chain.py --check    # exit 1 if chain.json differs
"""

import base64
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------ primitives

def canonical(value):
    """Canonical JSON (section 3) for values made of objects, arrays, strings,
    integers, booleans and null. Python's sort order on str is code point
    order, which is the bytewise order of the UTF-8 encoding."""
    def check(v):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return
        if isinstance(v, int):
            assert -(2**53 - 1) <= v <= 2**53 - 1, v
            return
        if isinstance(v, list):
            for x in v:
                check(x)
            return
        if isinstance(v, dict):
            for k, x in v.items():
                assert isinstance(k, str)
                check(x)
            return
        raise ValueError("no canonical form: %r" % (v,))
    check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sha256_b64(data):
    return b64url(hashlib.sha256(data).digest())


class Ed25519Key:
    def __init__(self, seed):
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
            self._sk = Ed25519PrivateKey.from_private_bytes(seed)
            self.public = self._sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            self._sign = self._sk.sign
            self.library = "cryptography (OpenSSL)"
        except ImportError:
            import nacl.signing
            self._sk = nacl.signing.SigningKey(seed)
            self.public = bytes(self._sk.verify_key)
            self._sign = lambda m: self._sk.sign(m).signature
            self.library = "PyNaCl"
        self.key_id = "ed25519:" + b64url(self.public)[:8]

    def sign(self, data):
        return b64url(self._sign(data))


# ------------------------------------------------------------------ the chain

def origin_event(group_id, type_, sender, origin, origin_ts, nonce, content_hash, relates_to=None):
    e = {"group_id": group_id, "type": type_, "sender": sender, "origin": origin,
         "origin_ts": origin_ts, "nonce": nonce, "content_hash": content_hash}
    if relates_to is not None:
        e["relates_to"] = relates_to
    return e


def entry(group_id, seq, prev, event_id, home_ts):
    return {"group_id": group_id, "seq": seq, "prev": prev, "event_id": event_id, "home_ts": home_ts}


def self_check():
    """Reproduces event_signing.json with the primitives above."""
    with open(os.path.join(HERE, "event_signing.json"), encoding="utf-8") as f:
        v = json.load(f)
    key = Ed25519Key(bytes.fromhex(v["seed_hex"]))
    assert b64url(key.public) == v["public_key"], "public key"
    assert key.key_id == v["key_id"], "key id"
    e = {k: x for k, x in v["event"].items() if k not in ("signatures", "unsigned")}
    data = canonical(e)
    assert data.decode("utf-8") == v["signing_bytes"], "signing bytes"
    assert hashlib.sha256(data).hexdigest() == v["sha256_hex"], "sha256"
    assert "$" + sha256_b64(data) == v["event_id"], "event id"
    assert key.sign(data) == v["signature"], "signature"


def build():
    home, group_id = "acme.test", "#eng:acme.test"
    seeds = {
        "acme.test": bytes(range(0, 32)),    # the seed of event_signing.json
        "beta.test": bytes(range(32, 64)),
    }
    keys = {name: Ed25519Key(seed) for name, seed in seeds.items()}

    # Event 1: a message by a user of a third node (origin beta.test), so it
    # carries the origin's signature. Its mentions are what the home's
    # mention extraction yields for the body (the home rebuilds the content
    # and refuses the event if content_hash differs).
    # Event 2: a reaction by a user of the home itself (origin == home): no
    # origin signature; relates_to is the target's event id.
    specs = [
        dict(type_="message", sender="@bob:beta.test", origin="beta.test", origin_ts=1795666519082,
             nonce=bytes(range(0, 16)),
             content={"body": "Hi @alice:acme.test, \"café\" 🚀\n", "mentions": ["@alice:acme.test"]},
             relates_to=None, home_ts=1795666519090),
        dict(type_="reaction", sender="@alice:acme.test", origin="acme.test", origin_ts=1795666520000,
             nonce=bytes(range(16, 32)),
             content=None,  # filled in: it names event 1
             relates_to=None, home_ts=1795666520005),
    ]

    events, entries, wire = [], [], []
    prev = ""
    for seq, s in enumerate(specs, start=1):
        if s["content"] is None:
            s["content"] = {"event_id": events[0]["event_id"], "key": "👍"}
            s["relates_to"] = events[0]["event_id"]
        content = s["content"]
        content_bytes = canonical(content)
        content_hash = sha256_b64(content_bytes)
        e = origin_event(group_id, s["type_"], s["sender"], s["origin"], s["origin_ts"], b64url(s["nonce"]),
                         content_hash, s["relates_to"])
        e_bytes = canonical(e)
        event_id = "$" + sha256_b64(e_bytes)
        osig = None
        if s["origin"] != home:
            k = keys[s["origin"]]
            osig = {"server": s["origin"], "key_id": k.key_id, "signature": k.sign(e_bytes)}
        events.append({
            "content": content,
            "content_canonical": content_bytes.decode("utf-8"),
            "content_hash": content_hash,
            "event": e,
            "event_canonical": e_bytes.decode("utf-8"),
            "event_id": event_id,
            "origin_signature": osig,
        })

        h = entry(group_id, seq, prev, event_id, s["home_ts"])
        h_bytes = canonical(h)
        h_hash = sha256_b64(h_bytes)
        hk = keys[home]
        home_sig = hk.sign(h_bytes)
        entries.append({
            "entry": h,
            "entry_canonical": h_bytes.decode("utf-8"),
            "entry_hash": h_hash,
            "home_signature": {"server": home, "key_id": hk.key_id, "signature": home_sig},
        })

        # The entry as it travels in a push or snapshot body.
        ev = dict(e)
        if osig:
            ev["signatures"] = {osig["server"]: {osig["key_id"]: osig["signature"]}}
        wire.append({"seq": seq, "event_id": event_id, "event": ev, "content": content,
                     "home_ts": s["home_ts"], "prev": prev,
                     "signatures": {home: {hk.key_id: home_sig}}})
        prev = h_hash

    lib = keys[home].library
    return {
        "description": (
            "Hash chain of a group log (spec/federation.md sections 4-6). Keys: Ed25519 from seed_hex "
            "(libsodium crypto_sign_seed_keypair; RFC 8032 private key), key_id = 'ed25519:' + the first 8 "
            "characters of base64url(public key). For each event: content_hash = base64url(SHA-256("
            "canonical(content))); event = the origin event E; event_id = '$' + base64url(SHA-256("
            "canonical(E))); origin_signature = base64url(Ed25519(canonical(E))) by the origin's key, null "
            "when the origin is the home node. For each entry: entry = H {group_id, seq, prev, event_id, "
            "home_ts}; entry_hash = base64url(SHA-256(canonical(H))); home_signature = base64url(Ed25519("
            "canonical(H))) by the home's key. prev of seq 1 is '', of seq 2 the entry_hash of seq 1. "
            "push_entries are the same entries as they travel in a push body; chain_head is the last "
            "entry_hash. base64url is unpadded everywhere."),
        "note": (
            "Generated by spec/test-vectors/gen_chain.py, independently of the C++ code: Python json "
            "(sort_keys, compact separators, ensure_ascii=False), hashlib SHA-256, base64, and Ed25519 from "
            + lib + ". The script first reproduces event_signing.json to check its conventions. Checked "
            "against the implementation by tests/unit/federation_chain_test.cpp."),
        "group_id": group_id,
        "home": home,
        "keys": {name: {"seed_hex": seeds[name].hex(), "public_key": b64url(k.public), "key_id": k.key_id}
                 for name, k in keys.items()},
        "events": events,
        "entries": entries,
        "push_entries": wire,
        "chain_head": prev,
    }


def main():
    self_check()
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    path = os.path.join(HERE, "chain.json")
    if "--check" in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            same = f.read() == text
        print("chain.json is up to date" if same else "chain.json differs from what gen_chain.py produces")
        return 0 if same else 1
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
