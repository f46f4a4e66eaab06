#!/usr/bin/env python3
"""Writes the committed seed corpus fuzz/corpus/<target>/ (see README.md).

Seeds are small hand-made inputs: valid ones for each target to start from,
and the hostile cases each target exists for. Signed federation entries come
from spec/test-vectors/chain.json; other frames carry "fuzz_fixup": true so
that the harness computes their hashes and signatures. Run it again after
changing a seed; it rewrites every seed file it owns (names s-*), and leaves
the files libFuzzer added alone.
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "s-" + name), "wb") as f:
        f.write(data)


def compact(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def canonical_json():
    vectors = json.load(open(os.path.join(ROOT, "spec", "test-vectors", "canonical_json.json")))
    for i, v in enumerate(vectors["valid"]):
        write("canonical_json", "valid-%d" % i, v["input"])
    for i, v in enumerate(vectors["invalid"]):
        write("canonical_json", "invalid-%d" % i, v["input"])
    write("canonical_json", "escapes", r'["\u00e9\u0000\/\b\f\n\r\t\"\\","\ud83d\ude80",-0,9007199254740991]')
    write("canonical_json", "depth-64", "[" * 64 + "]" * 64)
    write("canonical_json", "depth-65", "[" * 65 + "]" * 65)
    write("canonical_json", "bad-utf8", b'{"a":"\xc3\x28"}')
    write("canonical_json", "unsigned", '{"u":18446744073709551615,"n":-9007199254740991}')


def frame(type_, body, fixup=False, id_="m1"):
    f = {"v": 1, "id": id_, "type": type_, "body": body}
    if fixup:
        f["fuzz_fixup"] = True
    return compact(f)


def federation_frame():
    chain = json.load(open(os.path.join(ROOT, "spec", "test-vectors", "chain.json")))
    gid = chain["group_id"]
    entries = chain["push_entries"]
    write("federation_frame", "push-signed", frame("push", {"group_id": gid, "entries": entries}))
    write("federation_frame", "snapshot-signed",
          frame("snapshot", {"group_id": gid, "entries": entries[-1:], "state": {"title": "eng"}}))
    ev = entries[0]
    write("federation_frame", "submit-signed",
          frame("submit", {"event": ev["event"], "content": ev["content"]}))

    def entry(seq, type_, content, sender="@alice:acme.test", relates_to=None, prev=""):
        origin = sender.split(":", 1)[1]
        e = {"group_id": gid, "type": type_, "sender": sender, "origin": origin,
             "origin_ts": 1795666519082 + seq, "nonce": "AAECAwQFBgcICQoLDA0ODw", "content_hash": ""}
        if relates_to:
            e["relates_to"] = relates_to
        return {"seq": seq, "event_id": "", "event": e, "content": content, "home_ts": 1795666519090 + seq,
                "prev": prev, "signatures": {}}

    target = "$VQRKQ1ku5Hfm2IiMOHlNH8l_EaUcB3YS446e_oiFB48"
    fixed = [
        entry(1, "group.create", {}),
        entry(2, "member", {"user_id": "@bob:beta.test", "membership": "join", "role": "member"},
              sender="@bob:beta.test"),
        entry(3, "group.settings", {"title": "t", "topic": "", "visibility": "public", "join_rule": "open"}),
        entry(4, "message", {"body": "hi @bob:beta.test", "mentions": ["@bob:beta.test"]}),
        entry(5, "message.edit", {"event_id": target, "body": "edited"}, relates_to=target),
        entry(6, "message.delete", {"event_id": target}, relates_to=target),
        entry(7, "reaction", {"event_id": target, "key": "+1"}, sender="@bob:beta.test", relates_to=target),
        entry(8, "message", {}),
        entry(9, "message.edit", {"event_id": target}, relates_to=target),
        entry(10, "group.delete", {"group_id": gid}),
    ]
    write("federation_frame", "push-fixup", frame("push", {"group_id": gid, "entries": fixed}, fixup=True))
    write("federation_frame", "history-fixup",
          frame("history", {"group_id": gid, "entries": fixed[3:5]}, fixup=True))
    sub = entry(0, "message", {"body": "from beta"}, sender="@bob:beta.test")
    write("federation_frame", "submit-fixup", frame("submit", {"event": sub["event"], "content": sub["content"]},
                                                     fixup=True))
    join = entry(0, "member", {"user_id": "@bob:beta.test", "membership": "join"}, sender="@bob:beta.test")
    write("federation_frame", "join-fixup", frame("join", {"event": join["event"], "content": join["content"]},
                                                   fixup=True))
    write("federation_frame", "envelope-no-body", '{"v":1,"id":"x","type":"push"}')
    write("federation_frame", "envelope-bad-v", '{"v":"1","id":"x","type":"push","body":{}}')
    write("federation_frame", "envelope-array", '[{"v":1}]')
    write("federation_frame", "entries-not-array", frame("push", {"group_id": gid, "entries": {"seq": 1}}))
    write("federation_frame", "big-seq", frame("push", {"group_id": gid, "entries": [
        dict(fixed[0], seq=18446744073709551615, home_ts=-9223372036854775808)]}, fixup=True))


def event_content():
    msgs = [
        {"body": "hello"},
        {"body": "hi @alice:acme.test and @bob:beta.test:8448, mail me at x@y:z.", "reply_to": "$abc"},
        {"body": "", "media_id": "m123"},
        {"body": "tab\tnewline\ncr\r", "client_txn_id": "t-1"},
        {"body": "\u0085 C1 control"},
        {"body": " ".join("@u%d:acme.test" % i for i in range(60))},
        {"body": 5},
    ]
    for i, m in enumerate(msgs):
        write("event_content", "client-%d" % i, compact(m))
    target = "$VQRKQ1ku5Hfm2IiMOHlNH8l_EaUcB3YS446e_oiFB48"
    peer = [
        {"type": "member", "content": {"user_id": "@bob:beta.test", "membership": "ban", "role": "admin"}},
        {"type": "member", "content": {"user_id": "bob", "membership": "join"}},
        {"type": "group.settings",
         "content": {"title": "t", "topic": "x", "visibility": "private", "join_rule": "invite"}},
        {"type": "message", "content": {"body": "x", "mentions": ["@a:b.test", 1]}},
        {"type": "message", "content": {}},
        {"type": "message.edit", "relates_to": target, "content": {"event_id": target, "body": "y"}},
        {"type": "message.edit", "relates_to": target, "content": {"event_id": target}},
        {"type": "message.delete", "relates_to": "$other", "content": {"event_id": target}},
        {"type": "reaction", "relates_to": target, "content": {"event_id": target, "key": "k", "removed": True}},
        {"type": "group.create", "content": []},
        {"type": "unknown", "content": {}},
    ]
    for i, p in enumerate(peer):
        write("event_content", "peer-%d" % i, compact(p))


def config():
    for name in ("node.yaml", "beta.yaml"):
        write("config", name, open(os.path.join(ROOT, "config", name), "rb").read())
    write("config", "minimal", "node:\n  name: a.test\n  data_dir: ./d\n")
    write("config", "flow", "node: {name: a.test, data_dir: d}\nfederation: {allow: [b.test], resolve: {b.test: 'http://127.0.0.1:1'}}\n")
    write("config", "duplicate", "node:\n  name: a.test\n  name: b.test\n  data_dir: d\n")
    write("config", "unknown-key", "node:\n  name: a.test\n  data_dir: d\n  colour: red\n")
    write("config", "bad-types", "node: {name: a.test, data_dir: d}\nhttp: {threads: many, listen: '[::1]:99999'}\n")
    write("config", "anchors", "a: &x {name: a.test, data_dir: d}\nnode: *x\n")
    write("config", "unclosed", "node: [name: a.test\n")
    write("config", "tags", "node: !!map {name: !!str a.test, data_dir: !!binary ZA==}\n")
    write("config", "empty", "")


def http_head():
    reqs = [
        "GET /api/v1/groups?limit=10&before=5&q=a%20b+c HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-1.a:b\r\n\r\n",
        "POST /api/v1/groups/%23eng%3Aacme.test/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 15\r\n\r\n{\"body\":\"hi\"}\r\n",
        "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /api/v1/stream?token=abc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nX-Request-Id: bad id\r\n\r\n",
        "GET /?%zz=1&a=%4&=&&b HTTP/1.0\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HEAD /x HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\n",
        "GET http://example.test/abs?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n",
    ]
    for i, r in enumerate(reqs):
        write("http_head", "req-%d" % i, bytes([i * 7 % 64]) + r.encode())


def ws_frame():
    key = b"\x12\x34\x56\x78"

    def frame(op, payload=b"", fin=True, length=None, mask=True):
        b0 = (0x80 if fin else 0) | op
        n = len(payload) if length is None else length
        if length is not None and length > 0xFFFF or (length is None and n > 0xFFFF):
            hdr = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
        elif n >= 126:
            hdr = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr = bytes([b0, 0x80 | n])
        if not mask:
            return bytes([hdr[0], hdr[1] & 0x7F]) + hdr[2:] + payload
        return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

    def seed(name, data, limit=3, chunk=7):
        write("ws_frame", name, bytes([limit, chunk]) + data)

    seed("text", frame(1, b"hello"))
    seed("binary-126", frame(2, bytes(300)), limit=3, chunk=50)
    seed("ping-pong", frame(9, b"ping") + frame(10, b"pong") + frame(1, b"after"))
    seed("close-code", frame(8, struct.pack(">H", 1000) + b"bye"))
    seed("close-bad-code", frame(8, struct.pack(">H", 1005)))
    seed("fragments", frame(1, b"hel", fin=False) + frame(0, b"l", fin=False) + frame(0, b"o"))
    seed("unmasked", frame(1, b"x", mask=False))
    seed("bad-utf8", frame(1, b"\xc3\x28"))
    seed("non-minimal-64", bytes([0x81, 0x80 | 127]) + struct.pack(">Q", 3) + key + b"abc")
    # The lengths a size check must not wrap on: a text fragment without FIN,
    # then a continuation claiming ~2^63 or ~2^64 bytes; and a top-bit length.
    seed("wrap-len-2pow63-minus-2", frame(1, b"abc", fin=False) + frame(0, length=(1 << 63) - 2), chunk=1)
    seed("wrap-len-2pow64-minus-3", frame(1, b"abc", fin=False) + frame(0, length=(1 << 64) - 3), chunk=1)
    seed("top-bit", frame(2, length=1 << 63))
    seed("over-limit", frame(2, length=257), limit=0)
    seed("control-126", frame(9, length=126))


def main():
    for make in (canonical_json, federation_frame, event_content, config, http_head, ws_frame):
        make()
    return 0


if __name__ == "__main__":
    sys.exit(main())
