#!/usr/bin/env python3
"""Splits a node's perf profile by stage of a message's path.

Each sample of `perf script -F comm,ip,sym` (recorded with DWARF call graphs:
PERF_DIR=dir PERF_CALL_GRAPH=dwarf bash bench/ingest_bench.sh ingest5) goes to
the innermost stage its stack passes through (walking from the leaf to the
root); the Asio scheduler only takes what no other stage does. Prints each
stage's share of the node's samples, with the part of it in the kernel and in
malloc/free, then the shares by thread.

  perf script -i dir/ingest5.perf -F comm,ip,sym > ingest5.txt
  python3 bench/perf_stages.py ingest5.txt [STAGE-PREFIX]

With STAGE-PREFIX it also lists that stage's most frequent leaf frames.
"""
import collections
import re
import sys

# (stage, regex on a frame's symbol); order matters only among frames of one
# stack that match several stages at the same depth.
STAGES = [
    ("sign: Ed25519 (SignBytes)", r"gc::SignBytes"),
    ("chain: hashes, ids, canonical JSON", r"gc::(ContentHash|EventIdOf|CanonicalEntry|Sha256|NewNonce|CanonicalJson)"),
    ("writer: DB rows (COPY/INSERT text)", r"AppendCopyRow|gc::PgParam"),
    ("writer: libpq round trips", r"gc::PgConn::|PQ"),
    ("stream: direct sendmsg", r"WsSession::WriteDirect"),
    ("stream: hub fan-out (frames, inboxes)", r"gc::StreamHub::|gc::StreamDelivery::|WsSession::(DeliverRun|ToInbox)"),
    ("stream: I/O thread (drain, ws write)", r"gc::stream_session::"),
    ("writer: op (message draft)", r"SendAsync.*OpContext|gc::EventDraft|ExtractMentions"),
    ("writer: other (batch, client JSON)", r"gc::GroupLog::(TryBatch|RunBatch|Chain|Publish)|gc::ClientJsonText"),
    ("writer: loop/wait", r"gc::GroupLog::WriterLoop"),
    ("answer: access log", r"gc::Log$|gc::LogField"),
    ("answer: post to I/O strand", r"HttpSession::Dispatch<.*>\(.*\)::\{lambda"),
    ("answer: metrics, finish", r"gc::Gateway::Finish|gc::Metrics"),
    ("answer: JSON (EventJson, JsonResponse)", r"gc::EventJson|gc::JsonResponse|SendAsync.*Result<std::vector"),
    ("answer: completer other", r"gc::GroupLog::CompleterLoop"),
    ("http: write answer (+ sendmsg)", r"HttpSession::(Write|WritePlain|SendResponse|FillHead)"),
    ("http: route + handler", r"gc::Gateway::(Handle|Run|RunAsync)|AddMessagingRoutes|gc::Router|gc::MessagingService"),
    ("http: read + parse request", r"HttpSession::(OnRequest|OnHeader|ReadHeader|WaitForRequest|Dispatch|ReadBody)"
                                   r"|basic_parser|read_op|read_some_op|gc::Gateway::Body"),
    ("notifications", r"gc::Notification|gc::PgNotification|gc::PushSender|gc::Email"),
    ("search indexer", r"gc::SearchIndex|gc::PgSearchIndex"),
    ("federation pusher", r"gc::Federation"),
    ("signer helper wake-ups", r"gc::EntrySigner"),
]
FALLBACK = [("asio scheduler (epoll, recv, wake-ups)", r"boost::asio::detail::(scheduler|epoll_reactor)")]
MALLOC = re.compile(r"malloc|free|_int_|operator new|operator delete|consolidate|unlink_chunk|tcache")


def compile_stages(pairs):
    return [(s, re.compile(r)) for s, r in pairs]


STAGE_RE, FALLBACK_RE = compile_stages(STAGES), compile_stages(FALLBACK)


def classify(frames, comm):
    for table in (STAGE_RE, FALLBACK_RE):
        for f in frames:
            for stage, rx in table:
                if rx.search(f):
                    return stage
    return "other (" + comm + ")"


def samples(path):
    """Yields (comm, [frame symbols, leaf first]); kernel frames start with [k]."""
    comm, frames = None, []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            if not line.startswith("\t"):
                if comm is not None and frames:
                    yield comm, frames
                comm, frames = line.strip(), []
                continue
            parts = line.strip().split(None, 1)
            sym = parts[1] if len(parts) > 1 else "?"
            frames.append(("[k]" if parts[0].startswith("ffffffff") else "") + sym)
    if comm is not None and frames:
        yield comm, frames


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    want = sys.argv[2] if len(sys.argv) > 2 else None
    stages, comms, kinds = collections.Counter(), collections.Counter(), collections.defaultdict(collections.Counter)
    leaves = collections.Counter()
    total = 0
    for comm, frames in samples(sys.argv[1]):
        total += 1
        comms[comm] += 1
        stage = classify(frames, comm)
        stages[stage] += 1
        leaf = frames[0]
        kinds[stage]["kernel" if leaf.startswith("[k]") else "malloc" if MALLOC.search(leaf) else "user"] += 1
        if want and stage.startswith(want):
            user = [f for f in frames if not f.startswith("[k]")]
            leaves[user[0][:90] if user else leaf[:90]] += 1
    if not total:
        sys.exit("no samples in " + sys.argv[1])
    print("samples", total)
    for stage, n in stages.most_common():
        k = kinds[stage]
        print("%5.1f%%  %-45s kernel %5.1f%%  malloc/free %5.1f%%" %
              (100.0 * n / total, stage, 100.0 * k["kernel"] / n, 100.0 * k["malloc"] / n))
    print()
    for comm, n in comms.most_common():
        print("%5.1f%%  %s" % (100.0 * n / total, comm))
    if want:
        print("\nleaf frames of", want)
        for leaf, n in leaves.most_common(25):
            print("%6d  %s" % (n, leaf))


if __name__ == "__main__":
    main()
