#include "node/stream/stream_hub.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "node/common/barrier.h"

namespace gc {

using nlohmann::json;

// A text frame of the concatenation of `parts`, built in place.
static Frame WsTextFrameOf(std::initializer_list<std::string_view> parts) {
  auto f = std::make_shared<std::string>();
  size_t n = 0;
  for (auto p : parts) n += p.size();
  f->reserve(n + 10);
  f->push_back(static_cast<char>(0x81));  // FIN, text
  if (n < 126) {
    f->push_back(static_cast<char>(n));
  } else if (n < 65536) {
    f->push_back(static_cast<char>(126));
    f->push_back(static_cast<char>(n >> 8));
    f->push_back(static_cast<char>(n & 0xff));
  } else {
    f->push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) f->push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff));
  }
  for (auto p : parts) f->append(p);
  return f;
}

Frame WsTextFrame(const std::string& payload) { return WsTextFrameOf({payload}); }

StreamHub::StreamHub(Audience presence_audience, int typing_ttl_s)
    : audience_(std::move(presence_audience)), typing_ttl_s_(typing_ttl_s) {
  typing_thread_ = SpawnGuarded("gc-typing", [this] { ExpireTyping(); });
}

StreamHub::~StreamHub() { Stop(); }

void StreamHub::Stop() {
  {
    std::lock_guard<std::mutex> lock(typing_mu_);
    stopping_ = true;
  }
  typing_cv_.notify_all();
  if (typing_thread_.joinable()) typing_thread_.join();
}

void StreamHub::Attach(const std::string& user, std::shared_ptr<StreamConnection> conn) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& v = by_user_[user];
    first = v.empty();
    v.push_back(std::move(conn));
  }
  ++connections_;
  if (first) PresenceChanged(user, true);
}

void StreamHub::Detach(const std::string& user, const StreamConnection* conn) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_user_.find(user);
    if (it == by_user_.end()) return;
    auto& v = it->second;
    auto pos = std::find_if(v.begin(), v.end(), [&](const auto& p) { return p.get() == conn; });
    if (pos == v.end()) return;
    v.erase(pos);
    if (v.empty()) {
      by_user_.erase(it);
      last = true;
      if (by_user_.empty()) none_left_.notify_all();
    }
  }
  --connections_;
  if (last) PresenceChanged(user, false);
}

void StreamHub::CloseSession(int64_t session_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [u, conns] : by_user_) {
    for (auto& c : conns) {
      if (c->session_id() == session_id) c->Kick(4002, "session ended");
    }
  }
}

std::vector<int64_t> StreamHub::OpenSessions() const {
  std::vector<int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [u, conns] : by_user_) {
    for (const auto& c : conns) out.push_back(c->session_id());
  }
  return out;
}

void StreamHub::CloseUser(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_user_.find(user);
  if (it == by_user_.end()) return;
  for (auto& c : it->second) c->Kick(4002, "session ended");
}

void StreamHub::CloseAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [u, conns] : by_user_) {
    for (auto& c : conns) c->Kick(1001, "server shutting down");
  }
}

bool StreamHub::WaitUntilNoConnections(std::chrono::milliseconds max) {
  std::unique_lock<std::mutex> lock(mu_);
  return none_left_.wait_for(lock, max, [&] { return by_user_.empty(); });
}

void StreamHub::DetachAll() {
  decltype(by_user_) gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gone.swap(by_user_);
  }
  connections_ = 0;
  // `gone` drops the references outside the lock: a session's destructor
  // calls Detach, which takes the lock.
}

std::vector<Frame> StreamHub::PresenceSnapshot(const std::string& user) {
  std::vector<std::string> audience = audience_ ? audience_(user) : std::vector<std::string>{};
  std::vector<Frame> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& u : audience) {
    if (u == user || !by_user_.count(u)) continue;
    out.push_back(WsTextFrame(json{{"type", "presence"}, {"user_id", u}, {"presence", "online"}}.dump()));
  }
  return out;
}

bool StreamHub::IsOnline(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_user_.count(user) > 0;
}

void StreamHub::Send(const std::vector<std::string>& users, const Frame& frame, int64_t pos) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& u : users) {
    auto it = by_user_.find(u);
    if (it == by_user_.end()) continue;
    for (const auto& c : it->second) {
      c->Deliver(frame, pos, /*flush=*/true);
      ++n;
    }
  }
  frames_delivered_ += n;
}

void StreamHub::DeliverRunLocked(const std::vector<std::string>& members, const std::vector<std::string>& extra,
                                 const FrameRunPtr& run) {
  uint64_t n = 0;
  for (const auto* users : {&members, &extra}) {
    for (const auto& u : *users) {
      auto it = by_user_.find(u);
      if (it == by_user_.end()) continue;
      for (const auto& c : it->second) {
        c->DeliverRun(run);
        ++n;
      }
    }
  }
  frames_delivered_ += n * run->frames.size();
}

// Asks each connection in `conns` to write what it was handed, once even if
// it is listed several times; empties `conns`.
static void FlushEachOnce(std::vector<std::shared_ptr<StreamConnection>>& conns) {
  std::sort(conns.begin(), conns.end());
  conns.erase(std::unique(conns.begin(), conns.end()), conns.end());
  for (auto& c : conns) c->Flush();
  conns.clear();
}

void StreamHub::BeginBatch() { in_batch_ = true; }

void StreamHub::EndBatch() {
  in_batch_ = false;
  connected_cache_.clear();
  std::vector<Pending> events;
  events.swap(batch_);
  // Same audience: the same members object (the group log shares one per
  // group state) and the same or no extra users.
  auto same_audience = [](const Pending& a, const Pending& b) {
    return a.members == b.members && (a.extra == b.extra || (a.extra->empty() && b.extra->empty()));
  };
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < events.size();) {
    size_t j = i + 1;
    while (j < events.size() && same_audience(events[i], events[j])) ++j;
    auto run = std::make_shared<FrameRun>();
    run->frames.reserve(j - i);
    for (size_t k = i; k < j; ++k) {
      run->bytes += events[k].frame->size();
      run->frames.emplace_back(std::move(events[k].frame), events[k].pos);
    }
    DeliverRunLocked(*events[i].members, *events[i].extra, run);
    i = j;
  }
}

bool StreamHub::AnyConnected(const std::vector<std::string>& users) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(users.begin(), users.end(), [&](const std::string& u) { return by_user_.count(u) > 0; });
}

bool StreamHub::AudienceConnected(const std::vector<std::string>& members, const std::vector<std::string>& extra) {
  if (!extra.empty() && AnyConnected(extra)) return true;
  if (!in_batch_) return AnyConnected(members);
  for (const auto& [m, connected] : connected_cache_) {
    if (m == &members) return connected;
  }
  bool connected = AnyConnected(members);
  connected_cache_.emplace_back(&members, connected);
  return connected;
}

void StreamHub::Publish(const StreamEvent& event, const std::vector<std::string>& members,
                        const std::vector<std::string>& extra) {
  PublishText(event.stream_pos, event.event.dump(-1, ' ', false, json::error_handler_t::replace), members, extra);
}

void StreamHub::PublishText(int64_t stream_pos, std::string_view event_json, const std::vector<std::string>& members,
                            const std::vector<std::string>& extra) {
  // Serialized once, shared by every receiver: what dumping
  // {"type": "event", "event": {...}} gives (an object's keys in order).
  constexpr std::string_view kOpen = "{\"event\":", kClose = ",\"type\":\"event\"}";
  auto frame = WsTextFrameOf({kOpen, event_json, kClose});
  if (in_batch_) {
    batch_.push_back({std::move(frame), stream_pos, &members, &extra});
    return;
  }
  auto run = std::make_shared<FrameRun>();
  run->bytes = frame->size();
  run->frames.emplace_back(std::move(frame), stream_pos);
  std::lock_guard<std::mutex> lock(mu_);
  DeliverRunLocked(members, extra, run);
}

void StreamHub::EndTyping(const std::string& group_id, const std::string& user) {
  std::lock_guard<std::mutex> lock(typing_mu_);
  typing_.erase({group_id, user});
}

void StreamHub::Typing(const std::string& group_id, const std::string& user, bool typing,
                       std::shared_ptr<const std::vector<std::string>> recipients) {
  {
    std::lock_guard<std::mutex> lock(typing_mu_);
    auto key = std::make_pair(group_id, user);
    if (typing) {
      typing_[key] = {std::chrono::steady_clock::now() + std::chrono::seconds(typing_ttl_s_), recipients};
    } else if (!typing_.erase(key)) {
      return;  // was not typing: nothing to tell
    }
  }
  auto frame = WsTextFrame(
      json{{"type", "typing"}, {"group_id", group_id}, {"user_id", user}, {"typing", typing},
           {"timeout_ms", typing ? typing_ttl_s_ * 1000 : 0}}
          .dump());
  std::vector<std::string> others;
  for (const auto& u : *recipients) {
    if (u != user) others.push_back(u);
  }
  Send(others, frame, 0);
}

void StreamHub::ReadMarker(const std::string& user, const std::string& group_id, int64_t seq) {
  auto frame = WsTextFrame(
      json{{"type", "read"}, {"group_id", group_id}, {"seq", seq}}.dump());
  Send({user}, frame, 0);
}

void StreamHub::SendToUser(const std::string& user, const std::string& payload) { SendToUsers({{user, payload}}); }

void StreamHub::SendToUsers(const std::vector<std::pair<std::string, std::string>>& frames) {
  std::vector<std::shared_ptr<StreamConnection>> flush;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = 0;
    for (const auto& [user, payload] : frames) {
      auto it = by_user_.find(user);
      if (it == by_user_.end()) continue;
      Frame frame = WsTextFrame(payload);
      for (const auto& c : it->second) {
        c->Deliver(frame, 0, /*flush=*/false);
        flush.push_back(c);
        ++n;
      }
    }
    frames_delivered_ += n;
  }
  FlushEachOnce(flush);
}

void StreamHub::PresenceChanged(const std::string& user, bool online) {
  std::vector<std::string> audience = audience_ ? audience_(user) : std::vector<std::string>{};
  auto frame = WsTextFrame(
      json{{"type", "presence"}, {"user_id", user}, {"presence", online ? "online" : "offline"}}.dump());
  audience.erase(std::remove(audience.begin(), audience.end(), user), audience.end());
  Send(audience, frame, 0);
}

void StreamHub::ExpireTyping() {
  std::unique_lock<std::mutex> lock(typing_mu_);
  while (!stopping_) {
    typing_cv_.wait_for(lock, std::chrono::milliseconds(500));
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::pair<std::string, std::string>, TypingEntry>> expired;
    for (auto it = typing_.begin(); it != typing_.end();) {
      if (it->second.expires <= now) {
        expired.emplace_back(it->first, it->second);
        it = typing_.erase(it);
      } else {
        ++it;
      }
    }
    if (expired.empty()) continue;
    lock.unlock();
    for (auto& [key, entry] : expired) {
      auto frame = WsTextFrame(
          json{{"type", "typing"}, {"group_id", key.first}, {"user_id", key.second}, {"typing", false},
               {"timeout_ms", 0}}
              .dump());
      std::vector<std::string> others;
      for (const auto& u : *entry.recipients) {
        if (u != key.second) others.push_back(u);
      }
      Send(others, frame, 0);
    }
    lock.lock();
  }
}

}  // namespace gc
