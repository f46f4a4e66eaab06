// Introductions and the liveness of peers (spec/federation.md 2.6, 9.5, 9.7).
//
// Before its first frame to a peer, this node introduces itself over HTTP
// (POST /_federation/v1/hello) so that the peer resolves its node document
// and pins its keys; concurrent requests to the same peer share one
// introduction, and a failed one is not tried again for 2 s. A request left
// unanswered in time (a push, a call) makes this node forget the
// introduction, count the peer as down (local senders then stop waiting for
// it, outbox.cpp) and drop the connection, which after a partition may be
// half open and swallow frames. Any frame from the peer counts it up again:
// its pushes and queued sends go out at once instead of when their backoff
// ends, and the replicas it is the home of catch up on what they may have
// missed. The admin sees each peer's state (PeersJson) and can block,
// unblock or retry it.
#include <algorithm>

#include "federation/federation.h"
#include "federation/wire.h"
#include "node/common/address.h"
#include "node/common/encoding.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"

namespace gc {

using nlohmann::json;
using namespace wire;

Status Federation::Hello(const std::string& name) {
  if (!IsValidServerName(name)) return Error::Invalid("name must be a server name");
  // A known peer introducing itself again (it restarted, or lost contact)
  // gets its document checked again: a rotated key is followed, a changed
  // key without hand-over is refused here and shown to the admin.
  auto p = peers_.Lookup(name) ? peers_.Refresh(name) : peers_.Resolve(name);
  if (!p.ok()) {
    ++rejected;
    LogWarn("federation introduction refused", {{"peer", name}, {"error", p.error().message}});
    return p.error();
  }
  return OkStatus();
}

Status Federation::EnsureIntroduced(const std::string& peer) {
  std::unique_lock<std::mutex> lock(intro_mu_);
  for (;;) {
    auto it = introduced_.find(peer);
    if (it != introduced_.end() && it->second.ok) return OkStatus();
    if (it != introduced_.end() && NowMs() - it->second.at < 2000) return it->second.error;
    if (!introducing_.count(peer)) break;
    // Another thread is introducing this node to `peer` (many joins at
    // once): its outcome is this one's too. Bounded by the introduction's own
    // timeout (2.6).
    if (!intro_cv_.wait_for(lock, std::chrono::seconds(15), [&] { return !introducing_.count(peer); })) {
      return Error::Unavailable("introducing this node to " + peer + " takes too long");
    }
  }
  introducing_.insert(peer);
  lock.unlock();
  Status st = peers_.Introduce(peer);
  lock.lock();
  introducing_.erase(peer);
  intro_cv_.notify_all();
  if (!st.ok()) {
    LogWarn("cannot introduce this node to a peer", {{"peer", peer}, {"error", st.error().message}});
    peers_.RecordError(peer, st.error().message);
    introduced_[peer] = Intro{false, NowMs(), st.error()};
    down_since_.emplace(peer, NowMs());
    return st;
  }
  introduced_[peer] = Intro{true, NowMs(), Error::Internal("")};
  return OkStatus();
}

void Federation::Forget(const std::string& peer, const std::string& what) {
  bool was_up;
  {
    std::lock_guard<std::mutex> lock(intro_mu_);
    introduced_.erase(peer);
    // Until it answers again, local senders do not wait for it.
    was_up = down_since_.emplace(peer, NowMs()).second;
  }
  if (was_up) {
    LogInfo("peer did not answer in time", {{"peer", peer}, {"request", what}});
    // The connection may be the problem (a half-open one after a partition
    // swallows frames): the next frame to the peer opens a new one. Frames
    // still queued on the old one are retried by their senders.
    transport_.Drop(peer);
  }
}

bool Federation::PeerDown(const std::string& peer) {
  std::lock_guard<std::mutex> lock(intro_mu_);
  return down_since_.count(peer) > 0;
}

void Federation::PeerAlive(const std::string& peer) {
  bool was_down;
  {
    std::lock_guard<std::mutex> lock(intro_mu_);
    was_down = down_since_.erase(peer) > 0;
  }
  // Back after an outage: deliver now instead of when the backoff ends.
  if (was_down && workers_) {
    LogInfo("peer reachable again", {{"peer", peer}});
    workers_->Post([this, peer] {
      RetryPeer(peer);
      RepairReplicas(peer);  // what this node may have missed meanwhile
    });
  }
}

void Federation::RetryPeer(const std::string& name) {
  (void)store_.OutboxRetryNow(name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, t] : tracks_) {
      if (key.second == name) {
        t.attempts = 0;
        t.next_try_ms = 0;
      }
    }
    peer_backoff_until_.erase(name);
    // Events sent while the peer was away were most likely lost: send them
    // again now (a resend is harmless, 9.4) rather than after their timeout.
    int64_t now = NowMs();
    for (auto it = out_inflight_.begin(); it != out_inflight_.end();) {
      bool stale = it->second.peer == name && now - it->second.sent_ms > 1000;
      it = stale ? out_inflight_.erase(it) : std::next(it);
    }
    outbox_dirty_ = true;
    poke_ = true;
  }
  push_cv_.notify_all();
  out_cv_.notify_all();
}

Result<json> Federation::PeersJson() {
  // Per peer: its deliveries, and the entries they have not acknowledged
  // (up to the group's last seq, or to where a leaver stops).
  auto tracks = store_.AllTracks();
  if (!tracks.ok()) return tracks.error();
  std::vector<int64_t> rows;
  for (const PushTrack& t : *tracks) rows.push_back(t.group_row);
  auto last = entries_.LastSeqs(rows);
  if (!last.ok()) return last.error();
  auto out = store_.OutboxDepths();
  if (!out.ok()) return out.error();
  std::map<std::string, std::pair<int64_t, int64_t>> pushes;  // peer -> (entries, groups)
  for (const PushTrack& t : *tracks) {
    auto seq = last->find(t.group_row);
    if (seq == last->end()) continue;
    int64_t upto = t.until ? std::min(*t.until, seq->second) : seq->second;
    auto& [queued, groups] = pushes[t.peer];
    queued += std::max<int64_t>(0, upto - std::max<int64_t>(t.acked, 0));
    ++groups;
  }
  std::map<std::string, json> extra;
  for (const auto& [peer, p] : pushes) {
    extra[peer]["push_queue"] = p.first;
    extra[peer]["groups"] = p.second;
  }
  int64_t now = NowMs();
  for (const PeerOutboxDepth& d : *out) {
    json& e = extra[d.peer];
    e["outbox_pending"] = d.pending;
    e["outbox_lag_ms"] = d.oldest_pending_at ? now - *d.oldest_pending_at : 0;
    e["outbox_refused"] = d.refused;
  }
  std::set<std::string> backing_off;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, t] : tracks_) {
      if (t.attempts > 0) backing_off.insert(key.second);
    }
  }
  json list = json::array();
  for (const PeerInfo& p : peers_.List()) {
    json j = {{"name", p.name},
              {"key_id", p.key_id},
              {"fingerprint", p.identity_key.empty() ? "" : Base64Url(p.identity_key)},
              {"endpoint", p.endpoint},
              {"first_seen", p.first_seen},
              {"last_seen", p.last_seen},
              {"admin_state", p.admin_state},
              {"admitted", peers_.Admits(p.name)},
              {"key_conflict", p.key_conflict ? json(*p.key_conflict) : json(nullptr)},
              {"last_error", p.last_error ? json(*p.last_error) : json(nullptr)},
              {"push_queue", 0}, {"groups", 0}, {"outbox_pending", 0}, {"outbox_lag_ms", 0}, {"outbox_refused", 0}};
    auto it = extra.find(p.name);
    if (it != extra.end()) j.update(it->second);
    std::string status = "up";
    if (!peers_.Admits(p.name)) status = "blocked";
    else if (p.key_conflict) status = "key_changed";
    else if (p.identity_key.empty()) status = "unresolved";
    else if (backing_off.count(p.name) || now - p.last_seen > 60000) status = "down";
    j["status"] = status;
    list.push_back(std::move(j));
  }
  return list;
}

Status Federation::SetPeerState(const std::string& name, const std::string& state) {
  GC_TRY(peers_.SetAdminState(name, state));
  if (state == "blocked") transport_.Drop(name);
  else RetryPeer(name);
  return OkStatus();
}

}  // namespace gc
