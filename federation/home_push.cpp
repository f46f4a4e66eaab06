// The home's pushes: how every event of a group homed here reaches each node
// that holds a replica of it (spec/federation.md 8.1, 8.2, 9.1, 9.2, 9.5).
//
// The home keeps no send queue: the group's event log is the queue, and
// fed_group_peers says, for each (group, participant), how far the
// participant has acknowledged it (a Track here). The pusher thread sends
// each track what follows its acknowledged seq, in seq order, in batches of
// at most 500 entries and 768 KiB, with up to 8 pushes in flight; a
// participant without a replica (acked -1) first gets a snapshot: the
// group's state and its latest entries. The participant's `have` moves the
// track on, or back to what it holds after a gap or a refused entry (then
// after a backoff). Acknowledged positions are saved lazily: one lost in a
// crash only means sending some entries again, which the participant skips.
// A push left unanswered makes the peer count as down (peer_liveness.cpp).
//
// Entries travel as text: from the latest entries of each group kept in
// memory (Publish), else straight from the database rows (the store
// copies their JSON columns), never parsed and serialized again
// (frame_text.h).
#include <algorithm>

#include "federation/federation.h"
#include "federation/frame_text.h"
#include "federation/wire.h"
#include "node/common/log.h"

namespace gc {

using nlohmann::json;
using namespace wire;

namespace {

constexpr int kSnapshotEntries = 50;
constexpr size_t kRecentEntries = 2048;  // per group with participants, for pushes

int64_t Backoff(int attempts) {
  int64_t ms = 500LL << std::min(attempts, 7);
  return std::min<int64_t>(ms, 60000);
}

}  // namespace

void Federation::Publish(const GroupEvent& event, const std::vector<std::string>&, const std::vector<std::string>&) {
  if (ServerOf(event.group_id) != self_) return;
  std::lock_guard<std::mutex> lock(mu_);
  dirty_.insert(event.group_row);
  if (tracked_.count(event.group_row)) {
    // The latest entries of groups with participants, so that pushes need
    // not read them back from the database.
    auto& recent = recent_[event.group_row];
    if (!recent.empty() && recent.back().seq + 1 != event.seq) recent.clear();
    recent.push_back(event);
    if (recent.size() > kRecentEntries) recent.pop_front();
    if (event.type == "message.delete" && event.relates_to) {
      // What the database now holds for the erased message and its edits.
      for (auto& e : recent) {
        if (e.event_id == *event.relates_to) e.content = json::object();
        if (e.type == "message.edit" && e.relates_to == event.relates_to) e.content = {{"event_id", *event.relates_to}};
      }
    }
  }
  if (event.type == "member" && event.content.contains("user_id") && event.content["user_id"].is_string() &&
      ServerOf(event.content["user_id"].get<std::string>()) != self_) {
    reload_tracks_ = true;
  }
}

void Federation::EndBatch() {
  // One wake-up of the pusher per committed batch (Publish marked the groups).
  push_cv_.notify_all();
}

void Federation::PusherLoop() {
  constexpr size_t kWindow = 8;  // pushes in flight per (group, peer)
  int64_t last_reload = 0, last_ack_flush = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    int64_t now = NowMs();
    if (reload_tracks_ || now - last_reload > 5000) {
      reload_tracks_ = false;
      last_reload = now;
      lock.unlock();
      auto rows = store_.Tracks();
      lock.lock();
      if (rows.ok()) {
        std::set<std::pair<int64_t, std::string>> live;
        for (const PushTrack& row : *rows) {
          auto key = std::make_pair(row.group_row, row.peer);
          live.insert(key);
          // Memory is ahead of the database (acks are saved lazily); rewinds
          // change both (Rewind). Only a new track starts from the database.
          bool fresh = tracks_.count(key) == 0;
          Track& t = tracks_[key];
          if (fresh) t.acked = t.sent = row.acked;
          t.until = row.until;
          tracked_.insert(key.first);
        }
        for (auto it = tracks_.begin(); it != tracks_.end();) {
          it = live.count(it->first) || !it->second.inflight.empty() ? std::next(it) : tracks_.erase(it);
        }
      }
    }
    if (!unsaved_acks_.empty() && now - last_ack_flush > 250) {
      std::map<std::pair<int64_t, std::string>, int64_t> acks;
      acks.swap(unsaved_acks_);
      last_ack_flush = now;
      lock.unlock();
      (void)store_.SaveAcks(acks);
      lock.lock();
    }
    {
      // Expire answers that never came.
      std::lock_guard<std::mutex> alock(answers_mu_);
      for (auto it = answers_.begin(); it != answers_.end();) {
        it = now - it->second.first > 30000 ? answers_.erase(it) : std::next(it);
      }
    }
    dirty_.clear();
    for (auto& [key, t] : tracks_) {
      for (const auto& [id, f] : t.inflight) {
        if (now - f.second > kAnswerTimeoutMs) {
          Forget(key.second, t.acked < 0 ? "snapshot" : "push");
          Backoff(t, now);
          break;
        }
      }
      if (t.next_try_ms > now) continue;
      while (t.inflight.size() < kWindow && !stopping_) {
        bool snapshot = t.acked < 0;
        if (snapshot && !t.inflight.empty()) break;  // one snapshot at a time
        auto last = log_.Read(key.first, [](const GroupState& s) { return s.last_seq; });
        if (!last.ok()) break;  // deleted
        int64_t target = t.until ? std::min(*t.until, *last) : *last;
        int64_t from = std::max(t.acked, t.sent) + 1;
        if (!snapshot && from > target) break;
        if (!peers_.Admits(key.second)) break;
        lock.unlock();
        auto p = PreparePush(key.first, from, target, snapshot);
        lock.lock();
        if (!p.ok() || stopping_) break;
        // An answer meanwhile that only acknowledged earlier pushes leaves
        // this one valid; a rewind or a snapshot's outcome does not.
        if (t.next_try_ms > NowMs()) break;  // refused meanwhile: back off first
        if (std::max(t.acked, t.sent) + 1 != from || (t.acked < 0) != snapshot) continue;
        if (!snapshot && p->count == 0) break;
        std::string id = NewMsgId();
        t.inflight[id] = {p->to, now};
        t.sent = snapshot ? t.sent : p->to;
        auto k = key;
        int64_t to = snapshot ? 0 : p->to;
        size_t count = p->count;
        lock.unlock();
        RequestText(k.second, p->type, p->body, [this, k, id, to, count](bool ok, const json& answer) {
          OnPushAnswer(k, id, to, count, ok, answer);
        }, &id);
        lock.lock();
        if (snapshot) break;
      }
      if (stopping_) return;
    }
    push_cv_.wait_for(lock, std::chrono::milliseconds(200),
                      [&] { return stopping_ || poke_ || !dirty_.empty() || reload_tracks_; });
    poke_ = false;
  }
}

Result<Federation::Prepared> Federation::PreparePush(int64_t row, int64_t from, int64_t target, bool snapshot) {
  auto state = log_.Snapshot(row);
  if (!state.ok()) return state.error();
  Prepared p;
  std::vector<WireEntry> entries;
  std::string state_text;
  if (snapshot) {
    // The state now and the latest entries up to it.
    p.type = "snapshot";
    int64_t first = std::max(state->base_seq, state->last_seq - kSnapshotEntries + 1);
    auto loaded = LoadEntries(row, state->address, first, state->last_seq);
    if (!loaded.ok()) return loaded.error();
    entries = std::move(*loaded);
    json members = json::array();
    for (const auto& [u, m] : state->members) {
      if (m.membership == "leave") continue;
      members.push_back({{"user_id", u}, {"membership", m.membership}, {"role", m.role}});
    }
    state_text = json{{"title", state->title},         {"topic", state->topic},
                      {"visibility", state->visibility}, {"join_rule", state->join_rule},
                      {"created_by", state->created_by}, {"created_at", state->created_at},
                      {"members", members},              {"last_seq", state->last_seq}}
                     .dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    p.type = "push";
    auto loaded = LoadEntries(row, state->address, from, std::min(target, from + kPushBatch - 1));
    if (!loaded.ok()) return loaded.error();
    entries = std::move(*loaded);
  }
  // Entries beyond the frame limit go in the next push; a snapshot keeps its
  // latest ones.
  TrimToFrame(entries, /*keep_latest=*/snapshot);
  p.count = entries.size();
  p.to = entries.empty() ? from - 1 : entries.back().seq;
  p.body = EntriesBody(state->address, entries, state_text);
  return p;
}

Result<std::vector<WireEntry>> Federation::LoadEntries(int64_t row, const std::string& group_id, int64_t from_seq,
                                                      int64_t to_seq) {
  std::vector<WireEntry> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = recent_.find(row);
    if (it != recent_.end() && !it->second.empty() && it->second.front().seq <= from_seq &&
        it->second.back().seq >= from_seq) {
      for (const auto& ev : it->second) {
        if (ev.seq >= from_seq && ev.seq <= to_seq) {
          entries.push_back({ev.seq, EntryOf(ev).dump(-1, ' ', false, json::error_handler_t::replace)});
        }
      }
      return entries;
    }
  }
  auto stored = entries_.Entries(row, from_seq, to_seq);
  if (!stored.ok()) return stored.error();
  entries.reserve(stored->size());
  for (const StoredEntry& e : *stored) entries.push_back({e.seq, wire::EntryText(e, group_id)});
  return entries;
}

json Federation::EntryOf(const GroupEvent& ev) {
  json e = {{"group_id", ev.group_id}, {"type", ev.type},   {"sender", ev.sender},
            {"origin", ev.origin},     {"origin_ts", ev.origin_ts}, {"nonce", ev.nonce},
            {"content_hash", ev.content_hash}};
  if (ev.relates_to) e["relates_to"] = *ev.relates_to;
  if (!ev.origin_signatures.is_null()) e["signatures"] = ev.origin_signatures;
  return {{"seq", ev.seq},         {"event_id", ev.event_id}, {"event", std::move(e)}, {"content", ev.content},
          {"home_ts", ev.home_ts}, {"prev", ev.prev_hash},    {"signatures", ev.signatures}};
}

void Federation::OnPushAnswer(const std::pair<int64_t, std::string>& key, const std::string& id, int64_t to,
                              size_t count, bool ok, const json& answer) {
  bool has_have = ok && answer.contains("have") && answer["have"].is_number_integer();
  int64_t have = has_have ? answer["have"].get<int64_t>() : 0;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tracks_.find(key);
  if (it == tracks_.end() || !it->second.inflight.erase(id)) return;  // timed out or reset meanwhile
  Track& t = it->second;
  if (has_have && have >= to) {
    t.acked = std::max(t.acked, have);
    t.sent = std::max(t.sent, t.acked);
    t.attempts = 0;
    entries_pushed += count;
    // Persisted by the pusher a moment later: a position lost in a crash
    // only means sending some entries again, which the peer ignores.
    unsaved_acks_[key] = t.acked;
  } else {
    // A gap the peer reports, an entry it refused, or an error: go back to
    // what it holds, after a backoff rather than at once.
    if (has_have) {
      t.acked = have;
      unsaved_acks_[key] = have;
    }
    if (!has_have) LogWarn("federation push not accepted", {{"peer", key.second}, {"answer", answer.dump()}});
    Backoff(t, NowMs());
  }
  poke_ = true;
  push_cv_.notify_all();
}

void Federation::Backoff(Track& t, int64_t now) {
  t.inflight.clear();  // their answers are ignored from now on
  t.sent = t.acked;
  t.attempts++;
  t.next_try_ms = now + ::gc::Backoff(t.attempts);
}

void Federation::Rewind(int64_t row, const std::string& peer, int64_t acked) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(row, peer);
  unsaved_acks_.erase(key);
  auto it = tracks_.find(key);
  if (it != tracks_.end()) {
    it->second.acked = std::min(it->second.acked, acked);
    it->second.sent = it->second.acked;
    it->second.inflight.clear();
    it->second.next_try_ms = 0;
    it->second.attempts = 0;
  }
  reload_tracks_ = true;
  poke_ = true;
  push_cv_.notify_all();
}

void Federation::NeedSnapshot(int64_t row, const std::string& peer) {
  (void)store_.NeedSnapshot(row, peer);
  Rewind(row, peer, -1);
}

}  // namespace gc
