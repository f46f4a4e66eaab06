// The federation service's core: its lifetime, and frames in and out
// (spec/federation.md 7, 8; the class's contract is in federation.h).
//
// A request goes out as a frame {v, id, type, body} over the transport
// (transport.cpp); its answer is matched by id and handed to the caller's
// callback on a worker thread, never on the I/O thread (the pusher expires
// answers that never came after 30 s). CallAsync adds a deadline on the
// timer queue, so that nothing waits for a peer with a parked thread.
// Incoming requests are checked on the I/O thread (envelope, version, the
// peer's rate limit), then handed over by type: pushes and snapshots to the
// one applier thread, in order; submits and joins to a serial lane per
// sender; the other requests to the worker pool.
//
// Each mechanism has a file of its own:
//   peer_liveness.cpp  introductions; peers counted down and up again; the admin's view
//   home_push.cpp      the home's pushes and snapshots to participants
//   home_submit.cpp    the home sequencing peers' submits and joins
//   replica_apply.cpp  the participant applying pushes and snapshots to its replica
//   outbox.cpp         the participant's sends to homes, in each user's order
//   join.cpp           joins of remote groups, and replica repair after a crash
//   requests.cpp       catchup, profile and history, both sides
//   media_fetch.cpp    media.fetch: other nodes' media in chunks, both sides
//   frame_text.h       entries and frames assembled as text
//   inbound_checks.h   the checks of peers' frames and entries (pure functions)
//   peers.h            peer resolution, pinning and policy; transport.h the sockets
#include "federation/federation.h"

#include <chrono>

#include "federation/frame_text.h"
#include "federation/inbound_checks.h"
#include "federation/wire.h"
#include "node/common/address.h"
#include "node/common/barrier.h"
#include "node/common/completion.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "node/config/config.h"
#include "node/http/rate_limiter.h"
#include "node/identity/node_keys.h"

namespace gc {

using nlohmann::json;
using namespace wire;

namespace {

constexpr size_t kMaxFrame = 1 << 20;         // spec section 9


}  // namespace

// ------------------------------------------------------------------ lifetime

Federation::Federation(const Config& config, const NodeKeys& keys, FederationStore& store, PeerStore& peer_store,
                       LogEntryStore& entries, GroupLog& log)
    : config_(config),
      keys_(keys),
      store_(store),
      entries_(entries),
      log_(log),
      self_(config.node.name),
      peers_(peer_store, config),
      transport_(config.node.name, keys.transport_public, keys.transport_secret, kMaxFrame + 4096),
      limiter_(std::make_unique<RateLimiter>(config.federation.rate_per_peer, config.federation.burst_per_peer)) {}


Federation::~Federation() { Stop(); }


Status Federation::Bind() {
  GC_TRY(peers_.Load());
  return transport_.Bind(config_.federation.listen);
}

Status Federation::Start() {
  workers_ = std::make_unique<WorkerPool>(4, "gc-fed-work");
  for (int i = 0; i < 4; ++i) lanes_.push_back(std::make_unique<WorkerPool>(1, "gc-fed-lane"));
  applier_ = std::make_unique<WorkerPool>(1, "gc-fed-apply");
  timers_ = std::make_unique<TimerQueue>("gc-fed-timers");
  FederationTransport::Handlers h;
  h.admit = [this](const std::string& k) { return Admit(k); };
  h.on_request = [this](const std::string& p, std::string f) { OnRequest(p, std::move(f)); };
  h.on_answer = [this](const std::string& p, std::string f) { OnAnswer(p, std::move(f)); };
  transport_.Start(std::move(h));
  pusher_ = SpawnGuarded("gc-fed-push", [this] { PusherLoop(); });
  outbox_ = SpawnGuarded("gc-fed-out", [this] { OutboxLoop(); });
  // Entries committed lazily may have been lost in a crash (join.cpp).
  workers_->Post([this] { RepairReplicas(""); });
  return OkStatus();
}

void Federation::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  push_cv_.notify_all();
  out_cv_.notify_all();
  if (pusher_.joinable()) pusher_.join();
  if (outbox_.joinable()) outbox_.join();
  if (timers_) timers_->Stop();
  // Requests still waiting on a peer are answered now: sends stay queued
  // (pending), joins are unavailable.
  std::vector<std::shared_ptr<PendingSend>> sends;
  std::vector<std::shared_ptr<PendingJoin>> joins;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, s] : send_waits_) sends.push_back(s);
    for (const auto& [g, w] : applied_waits_) sends.push_back(w.second);
    for (const auto& [g, j] : join_waits_) joins.push_back(j);
  }
  for (const auto& s : sends) FinishSend(s);
  for (const auto& j : joins) FinishJoin(j, Error::Unavailable("the node is shutting down"));
  transport_.Stop();
  for (auto& l : lanes_) l->Stop();
  if (workers_) workers_->Stop();
  if (applier_) applier_->Stop();
  // Calls still waiting for a peer's answer get none now: their callbacks
  // go here, while what they hold (an HTTP session waiting to answer its
  // client) can still be released. After Stop they would live until this
  // object is destroyed, after the HTTP server (a use after free that
  // AddressSanitizer caught when a node stopped with joins waiting on a
  // frozen home).
  std::map<std::string, std::pair<int64_t, AnswerFn>> unanswered;
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    unanswered.swap(answers_);
  }
  unanswered.clear();
  peers_.FlushContacts();
}

void Federation::Housekeeping() {
  peers_.FlushContacts();
  int64_t day_ago = NowMs() - int64_t{24} * 3600 * 1000;
  (void)store_.Prune(day_ago);
}

// ------------------------------------------------------------------ frames out

std::string Federation::NewMsgId() { return NewNonce(); }


bool Federation::RequestText(const std::string& peer, const std::string& type, const std::string& body_text,
                             AnswerFn on_answer, std::string* msg_id) {
  auto info = peers_.Resolve(peer);
  if (info.ok()) {
    Status intro = EnsureIntroduced(peer);
    if (!intro.ok()) info = intro.error();
  }
  if (!info.ok()) {
    if (on_answer) on_answer(false, {{"code", ErrorCodeName(info.error().code)}, {"message", info.error().message}});
    return false;
  }
  std::string id = msg_id && !msg_id->empty() ? *msg_id : NewMsgId();
  if (msg_id) *msg_id = id;
  std::string frame;
  frame.reserve(body_text.size() + 96);
  frame += "{\"v\":1,\"id\":";
  AppendQuoted(frame, id);
  frame += ",\"type\":";
  AppendQuoted(frame, type);
  frame += ",\"body\":";
  frame += body_text;
  frame += '}';
  if (on_answer) {
    std::lock_guard<std::mutex> lock(answers_mu_);
    answers_[id] = {NowMs(), std::move(on_answer)};
  }
  transport_.Send(peer, info->endpoint, info->transport_key, frame);
  return true;
}

bool Federation::Request(const std::string& peer, const std::string& type, json body, AnswerFn on_answer,
                         std::string* msg_id) {
  return RequestText(peer, type, body.dump(-1, ' ', false, json::error_handler_t::replace), std::move(on_answer),
                     msg_id);
}

void Federation::Answer(const std::string& peer, const std::string& re, bool ok, json body) {
  AnswerText(peer, re, body.dump(-1, ' ', false, json::error_handler_t::replace), ok);
}

void Federation::AnswerText(const std::string& peer, const std::string& re, const std::string& body_text, bool ok) {
  std::string frame = ok ? "{\"v\":1,\"type\":\"ack\",\"re\":" : "{\"v\":1,\"type\":\"error\",\"re\":";
  AppendQuoted(frame, re);
  frame += ",\"body\":";
  frame += body_text;
  frame += '}';
  transport_.Reply(peer, frame);
}

void Federation::AnswerError(const std::string& peer, const std::string& re, const Error& e) {
  ++rejected;
  LogWarn("federation request refused",
          {{"peer", peer}, {"code", ErrorCodeName(e.code)}, {"error", e.message}, {"re", re}});
  Answer(peer, re, false, {{"code", ErrorCodeName(e.code)}, {"message", e.message}});
}

void Federation::CallAsync(const std::string& peer, const std::string& type, json body,
                           std::chrono::milliseconds timeout, CallDone done) {
  auto once = std::make_shared<Once>();
  auto finish = std::make_shared<CallDone>(std::move(done));
  timers_->After(timeout, [this, once, finish, peer, type] {
    if (!once->Claim()) return;
    Forget(peer, type);
    (*finish)(Error::Unavailable(peer + " did not answer"));
  });
  workers_->Post([this, peer, type, body = std::move(body), once, finish]() mutable {
    Request(peer, type, std::move(body), [once, finish](bool ok, const json& answer) {
      if (!once->Claim()) return;  // the deadline has passed
      if (!ok) return (*finish)(ErrorFromAnswer(answer));
      (*finish)(answer);
    });
  });
}

Result<json> Federation::Call(const std::string& peer, const std::string& type, json body,
                              std::chrono::milliseconds timeout) {
  return Await<Result<json>>([&](CallDone done) { CallAsync(peer, type, std::move(body), timeout, done); });
}

// ------------------------------------------------------------------ frames in

void Federation::OnRequest(const std::string& peer, std::string frame) {
  // Runs on the I/O thread: check the envelope, then hand over.
  peers_.Touch(peer);
  PeerAlive(peer);
  int retry = 0;
  std::string re;
  auto parsed = ParseRequestFrame(frame, &re);
  if (!parsed.ok()) {
    ++rejected;
    LogWarn("federation frame refused: malformed", {{"peer", peer}, {"bytes", static_cast<int64_t>(frame.size())}});
    Answer(peer, re, false, {{"code", ErrorCodeName(ErrorCode::kInvalid)}, {"message", "malformed frame"}});
    return;
  }
  json f = std::move(*parsed);
  std::string type = f["type"];
  if (f["v"] != 1) return AnswerError(peer, re, Error::Invalid("unsupported protocol version"));
  if (!limiter_->Allow(peer, MonotonicSeconds(), &retry)) {
    return AnswerError(peer, re, Error::RateLimited(retry));
  }
  json body = std::move(f["body"]);
  if (type == "push" || type == "snapshot") {
    bool snap = type == "snapshot";
    applier_->Post([this, peer, re, body = std::move(body), snap] { HandleEntries(peer, re, body, snap); });
  } else if (type == "submit" || type == "join") {
    bool join = type == "join";
    // One sender's events are sequenced in the order they were sent: each
    // sender maps to one serial lane; different senders run in parallel.
    std::string sender = body.contains("event") && IsStr(body["event"], "sender") ? body["event"]["sender"].get<std::string>() : "";
    size_t lane = std::hash<std::string>{}(sender) % lanes_.size();
    lanes_[lane]->Post([this, peer, re, body = std::move(body), join] { HandleSubmit(peer, re, body, join); });
  } else if (type == "history") {
    workers_->Post([this, peer, re, body = std::move(body)] { HandleHistory(peer, re, body); });
  } else if (type == "catchup") {
    workers_->Post([this, peer, re, body = std::move(body)] { HandleCatchup(peer, re, body); });
  } else if (type == "profile") {
    workers_->Post([this, peer, re, body = std::move(body)] { HandleProfile(peer, re, body); });
  } else if (type == "media.fetch") {
    workers_->Post([this, peer, re, body = std::move(body)] { HandleMediaFetch(peer, re, body); });
  } else if (type == "key_query") {
    Answer(peer, re, true, {{"document", json::parse(node_document_, nullptr, false)}});
  } else {
    AnswerError(peer, re, Error::Invalid("unknown frame type " + type));
  }
}

namespace {

// True if `text` nests objects and arrays at most `max` deep (strings are
// skipped). nlohmann-json parses without recursion but copies and
// serializes recursively: a peer's answer nested 500,000 deep would overflow
// the stack, which no barrier can catch.
bool NestingWithin(std::string_view text, int max) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace

void Federation::OnAnswer(const std::string& peer, std::string frame) {
  peers_.Touch(peer);
  PeerAlive(peer);
  if (!NestingWithin(frame, 64)) {
    LogWarn("federation answer refused: nested too deep", {{"peer", peer}});
    return;
  }
  json f = json::parse(frame, nullptr, false);
  if (!f.is_object() || !IsStr(f, "re") || !IsStr(f, "type")) {
    LogWarn("federation answer refused: malformed", {{"peer", peer}});
    return;
  }
  AnswerFn fn;
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    auto it = answers_.find(f["re"].get<std::string>());
    if (it == answers_.end()) return;  // late or unknown: the sender has moved on
    fn = std::move(it->second.second);
    answers_.erase(it);
  }
  json body = f.contains("body") && f["body"].is_object() ? std::move(f["body"]) : json::object();
  bool ok = f["type"] == "ack";
  // Callbacks may touch the database: not on the I/O thread.
  workers_->Post([fn = std::move(fn), ok, body = std::move(body)] { fn(ok, body); });
}

// ------------------------------------------------------------------ peers' keys

std::string Federation::Admit(const std::string& key) { return peers_.AdmitsConnection(key); }


Result<std::string> Federation::KeyOf(const std::string& server, const std::string& key_id) {
  if (server == self_) {
    if (key_id == keys_.key_id) return keys_.identity_public;
    for (const auto& o : keys_.old_keys) {
      if (o.key_id == key_id) return o.public_key;
    }
    return Error::Unauthorized("no key " + key_id + " of this node");
  }
  return peers_.KeyFor(server, key_id);
}

Status Federation::CheckRemoteUser(const std::string& user_id) {
  auto u = ParseUserId(user_id);
  if (!u) return Error::Invalid("user_id must be an address like @alice:example.org");
  auto p = peers_.Resolve(u->server);
  if (!p.ok()) return p.error();
  return OkStatus();
}

}  // namespace gc
