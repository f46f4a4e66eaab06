// The outbox: events of this node's users for groups homed elsewhere
// (spec/federation.md 9.6).
//
// An event is checked against the local replica, signed and stored in
// fed_outbox before anything is sent, so a send answered 2xx survives a crash.
// The home sequences each sender's events in the order they arrive, so the
// outbox sends each (home, sender)'s events one at a time, in the order they
// were queued: the next one leaves only when the home has answered the one
// before for good (sequenced or refused). Retries after a timeout can then
// never overtake a later event of the same user, whether the home is dead,
// frozen or slow; different senders still go out in parallel.
//
// The local user's request does not park a thread while the home answers:
// it is completed by the home's answer and the entry's arrival by push (read
// your own writes), or by a deadline (then it is answered "pending", and the
// event arrives by push once the home has sequenced it).
#include <algorithm>
#include <set>

#include "federation/federation.h"
#include "federation/wire.h"
#include "node/common/completion.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "node/identity/node_keys.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

using nlohmann::json;
using namespace wire;

namespace {

// How long a local sender waits for the home before the answer is 202 pending,
// then for the sequenced entry to arrive by push.
constexpr std::chrono::milliseconds kSenderWait{2500}, kArrivalWait{3000};
constexpr size_t kMaxInflight = 1024;

}  // namespace

// One local request's events on their way to the home.
struct Federation::PendingSend {
  Once once;
  SubmitDone done;
  std::string group_id;
  // What the sender gets back: the events as this node sent them, with their
  // seq once the home has sequenced them (0 while they wait in the outbox).
  std::vector<GroupEvent> events;  // GUARDED_BY(Federation::mu_)
  size_t unanswered = 0;           // GUARDED_BY(Federation::mu_)
  std::optional<Error> refused;    // GUARDED_BY(Federation::mu_)
};

void Federation::SubmitRemote(const GroupState& group, std::vector<Draft> drafts, SubmitDone done) {
  auto send = std::make_shared<PendingSend>();
  send->done = std::move(done);
  send->group_id = group.address;
  auto submitted = [&](const Draft& d, const std::string& event_id, int64_t seq, int64_t origin_ts) {
    GroupEvent ev;
    ev.event_id = event_id;
    ev.group_id = group.address;
    ev.group_row = group.row;
    ev.type = d.type;
    ev.sender = d.sender;
    ev.origin = self_;
    ev.origin_ts = origin_ts;
    ev.content = d.content;
    ev.relates_to = d.relates_to;
    ev.seq = seq;
    return ev;
  };
  std::vector<OutboxEntry> rows;
  std::set<std::string> checked;  // senders already looked up by PendingChange
  for (Draft& d : drafts) {
    // An idempotent retry of a send still waiting in the outbox.
    if (d.txn_id) {
      auto prior = store_.OutboxByTxn(d.sender, *d.txn_id);
      if (!prior.ok()) return send->done(prior.error());
      if (*prior) {
        if ((*prior)->state == "refused") {
          return send->done(Error::Forbidden("the home node refused this message: " + (*prior)->last_error));
        }
        send->events.push_back(submitted(d, (*prior)->event_id, (*prior)->seq, 0));
        continue;
      }
    }
    // Nothing is queued before every draft passed (the rows go in together
    // below); one look per sender (a request's drafts share theirs).
    if (checked.insert(d.sender).second) {
      Status pending = PendingChange(group, d.sender);
      if (!pending.ok()) return send->done(pending.error());
    }
    std::string event_id;
    auto body = SignOrigin(group.address, d, &event_id);
    if (!body.ok()) return send->done(body.error());
    send->events.push_back(submitted(d, event_id, 0, (*body)["event"]["origin_ts"].get<int64_t>()));
    bool own = d.type == "member" && d.content.is_object() && d.content.value("user_id", "") == d.sender;
    rows.push_back({event_id, d.sender, body->dump(), d.txn_id, own});
  }
  if (rows.empty()) return send->done(std::move(send->events));
  {
    // Waiting before the rows exist: the home's answer cannot come first.
    std::lock_guard<std::mutex> lock(mu_);
    for (const OutboxEntry& r : rows) send_waits_[r.event_id] = send;
    send->unanswered = rows.size();
  }
  // Queued durably (and in order) before anything is sent or answered.
  Status st = store_.QueueOutbox(group.server, group.address, rows, NowMs());
  if (!st.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const OutboxEntry& r : rows) send_waits_.erase(r.event_id);
    }
    if (send->once.Claim()) send->done(st.error());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    outbox_dirty_ = true;
  }
  out_cv_.notify_all();
  // Not at all while the home is known to be down (9.6).
  if (PeerDown(group.server)) return FinishSend(send);
  timers_->After(kSenderWait, [this, send] {
    bool answered;
    {
      std::lock_guard<std::mutex> lock(mu_);
      answered = send->unanswered == 0;
    }
    // Answered: the wait for the entry's arrival has its own deadline.
    if (!answered) workers_->Post([this, send] { FinishSend(send); });
  });
}

Status Federation::PendingChange(const GroupState& group, const std::string& user) {
  auto r = store_.HasPendingChange(user, group.address, group.last_seq);
  if (!r.ok()) return r.error();
  if (!*r) return OkStatus();
  Error e = Error::Conflict("your earlier membership change in this group is still on its way to " + group.server +
                            "; try again once it has arrived");
  e.detail_code = "pending_change";
  return e;
}

void Federation::OnSendAnswer(const std::string& event_id, bool ok, const json& answer) {
  std::shared_ptr<PendingSend> send;
  bool finish = false;
  int64_t wait_for = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = send_waits_.find(event_id);
    if (it == send_waits_.end()) return;  // no one waits any more
    send = it->second;
    send_waits_.erase(it);
    if (!ok) {
      send->refused = ErrorFromAnswer(answer);
    } else if (answer.contains("seq") && answer["seq"].is_number_integer()) {
      for (auto& ev : send->events) {
        if (ev.event_id == event_id) ev.seq = answer["seq"].get<int64_t>();
      }
    }
    if (--send->unanswered > 0) return;
    for (const auto& ev : send->events) wait_for = std::max(wait_for, ev.seq);
    finish = send->refused.has_value() || wait_for == 0;
    // Read your own writes: the push with the sequenced entries follows the
    // answer closely; answer once it is applied (registered before looking,
    // so that an apply in between is not missed).
    if (!finish) applied_waits_.emplace(send->group_id, std::make_pair(wait_for, send));
  }
  if (finish) return FinishSend(send);
  timers_->After(kArrivalWait, [this, send] { workers_->Post([this, send] { FinishSend(send); }); });
  auto row = log_.FindByAddress(send->group_id);
  auto last = row.ok() ? log_.Read(*row, [](const GroupState& s) { return s.last_seq; }) : Result<int64_t>(0);
  if (!last.ok()) return FinishSend(send);
  SendsApplied(send->group_id, *last);
}

void Federation::SendsApplied(const std::string& group_id, int64_t last) {
  std::vector<std::shared_ptr<PendingSend>> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [from, to] = applied_waits_.equal_range(group_id);
    for (auto it = from; it != to;) {
      if (it->second.first <= last) {
        ready.push_back(it->second.second);
        it = applied_waits_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& send : ready) FinishSend(send);
}

void Federation::FinishSend(const std::shared_ptr<PendingSend>& send) {
  if (!send->once.Claim()) return;
  Result<std::vector<GroupEvent>> result = Error::Internal("unset");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& ev : send->events) {
      auto it = send_waits_.find(ev.event_id);
      if (it != send_waits_.end() && it->second == send) send_waits_.erase(it);
    }
    auto [from, to] = applied_waits_.equal_range(send->group_id);
    for (auto it = from; it != to;) it = it->second.second == send ? applied_waits_.erase(it) : std::next(it);
    if (send->refused) result = *send->refused;
    else result = send->events;
  }
  send->done(std::move(result));
}

void Federation::OutboxLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  int64_t last_scan = 0;
  while (!stopping_) {
    int64_t now = NowMs();
    // Expire sends the home never answered: they go again after a backoff,
    // still ahead of their sender's later events.
    std::vector<OutItem> expired;
    for (auto it = out_inflight_.begin(); it != out_inflight_.end();) {
      if (now - it->second.sent_ms > kAnswerTimeoutMs) {
        expired.push_back(it->second);
        it = out_inflight_.erase(it);
      } else {
        ++it;
      }
    }
    // A scan on news (queued, answered, retry due) and at least once a second
    // for retries that came due.
    bool scan = outbox_dirty_ || !expired.empty() || now - last_scan >= 1000;
    outbox_dirty_ = false;
    if (!expired.empty()) {
      lock.unlock();
      for (const auto& item : expired) {
        Forget(item.peer, "submit");
        (void)store_.OutboxRetry(item.id, now, "no answer from the home node");
      }
      lock.lock();
    }
    if (scan) {
      last_scan = now;
      SendOutboxHeads(lock, now);
    }
    out_cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_ || outbox_dirty_; });
  }
}

void Federation::SendOutboxHeads(std::unique_lock<std::mutex>& lock, int64_t now) {
  lock.unlock();
  auto heads = store_.OutboxHeads();
  lock.lock();
  if (!heads.ok()) return;
  std::set<int64_t> busy;
  for (const auto& [msg, item] : out_inflight_) busy.insert(item.id);
  // Oldest first across senders.
  std::sort(heads->begin(), heads->end(), [](const OutboxHead& a, const OutboxHead& b) { return a.id < b.id; });
  for (const OutboxHead& head : *heads) {
    if (out_inflight_.size() >= kMaxInflight || stopping_) break;
    int64_t id = head.id;
    std::string peer = head.peer;
    if (busy.count(id) || head.next_at > now) continue;  // in flight, or its retry is not due
    auto bo = peer_backoff_until_.find(peer);
    if (bo != peer_backoff_until_.end() && bo->second > now) continue;
    std::string event_id = head.event_id, sender = head.sender;
    json body = json::parse(head.body, nullptr, false);
    std::string msg = NewMsgId();
    out_inflight_[msg] = OutItem{id, peer, sender, event_id, now};
    lock.unlock();
    bool sent = Request(peer, "submit", body, [this, id, msg, peer, event_id](bool ok, const json& answer) {
      bool retry = !ok && Retryable(answer);
      if (ok) {
        int64_t seq = answer.contains("seq") && answer["seq"].is_number_integer() ? answer["seq"].get<int64_t>() : 0;
        (void)store_.OutboxDone(id, seq);
      } else if (retry) {
        (void)store_.OutboxRetry(id, NowMs(), StrOr(answer, "message", ""));
      } else {
        LogWarn("home node refused an event", {{"peer", peer}, {"event_id", event_id}, {"answer", answer.dump()}});
        (void)store_.OutboxRefused(id, StrOr(answer, "message", "refused"));
      }
      if (!retry) OnSendAnswer(event_id, ok, answer);
      std::lock_guard<std::mutex> l(mu_);
      out_inflight_.erase(msg);
      outbox_dirty_ = true;
      out_cv_.notify_all();
    }, &msg);
    lock.lock();
    if (!sent) peer_backoff_until_[peer] = now + 2000;
  }
}

// A local user's draft as an origin event signed by this node (spec 5): what
// the outbox queues, and what a join of a remote group sends (join.cpp).
Result<json> Federation::SignOrigin(const std::string& group_id, const Draft& d, std::string* event_id) {
  auto chash = ContentHash(d.content);
  if (!chash.ok()) return chash.error();
  ChainEvent ce{group_id, d.type, d.sender, self_, NowMs(), NewNonce(), *chash, d.relates_to};
  json e = OriginEventJson(ce);
  auto bytes = SigningBytes(e);
  if (!bytes.ok()) return bytes.error();
  e["signatures"] = {{self_, {{keys_.key_id, SignBytes(*bytes, keys_.identity_secret)}}}};
  auto id = ContentId(e);
  if (!id.ok()) return id.error();
  *event_id = *id;
  return json{{"event", e}, {"content", d.content}};
}

}  // namespace gc
