// Sessions of the user service: turning a credential into a principal.
//
// Three credentials lead to a session: an access token (Bearer header, or the
// stream's ?access_token=), and a one-time stream ticket. Tokens are checked
// in memory when cached (kTokenCacheTtlS) and in the UserStore otherwise; a
// cached use is written back as last_used_at by FlushActivity every few
// seconds. A session unused for longer than sessions.idle_timeout_s fails
// authentication at once and is ended (revoked, its streams closed) by the
// next ExpireIdleSessions sweep.
#include <algorithm>

#include "node/common/log.h"
#include "services/users/user_internal.h"
#include "services/users/user_service.h"

namespace gc {

using namespace users_internal;  // NOLINT: the service's own helpers

namespace {

const Error kBadToken = Error::Unauthorized("the access token is invalid, revoked or expired");

}  // namespace

std::optional<Principal> UserService::CachedPrincipal(std::string_view token) {
  if (token.size() > 128) return std::nullopt;
  std::string hash = HashToken(token);
  std::shared_lock lock(cache_mu_);
  auto it = tokens_.find(hash);
  int64_t now = NowS();
  if (it == tokens_.end() || it->second.expires_at_s < now) return std::nullopt;
  // Idle too long: the database decides (and refuses).
  if (idle_timeout_s_ > 0 && now - it->second.last_used_s.load(std::memory_order_relaxed) > idle_timeout_s_) {
    return std::nullopt;
  }
  auto u = users_.find(it->second.user_row_id);
  if (u == users_.end() || u->second->deactivated) return std::nullopt;
  it->second.touched.store(true, std::memory_order_relaxed);
  it->second.last_used_s.store(now, std::memory_order_relaxed);
  return Principal{it->second.session_id, u->second};
}

Result<Principal> UserService::Authenticate(std::string_view token) {
  if (auto p = CachedPrincipal(token)) return *p;
  if (token.size() > 128) return kBadToken;
  std::string hash = HashToken(token);
  uint64_t gen;
  {
    std::shared_lock lock(cache_mu_);
    gen = generation_;
  }
  auto r = store_.SessionByToken(hash, idle_timeout_s_);
  if (!r.ok()) return r.error();
  if (!*r) return kBadToken;
  auto p = PrincipalOf((*r)->session_id, (*r)->user_row);
  if (!p.ok()) return p.error();
  {
    std::unique_lock lock(cache_mu_);
    // A revocation that ran while we read the database wins.
    if (gen == generation_) {
      if (tokens_.size() >= kMaxCachedTokens) tokens_.clear();
      tokens_.insert_or_assign(hash, CacheEntry{p->session_id, p->user->id, NowS() + kTokenCacheTtlS, NowS()});
    }
  }
  return p;
}

Result<Principal> UserService::PrincipalOf(int64_t session_id, int64_t user_row) {
  auto user = CachedUser(user_row);
  if (!user) {
    auto loaded = LoadUserByRowId(user_row);
    if (!loaded.ok()) return loaded.error();
    user = *loaded;
  }
  if (user->deactivated) return kBadToken;
  return Principal{session_id, user};
}

Result<std::string> UserService::IssueStreamTicket(const Principal& p) {
  std::string ticket = "gcst_" + RandomToken(24);
  GC_TRY(store_.InsertTicket(HashToken(ticket), p.session_id, kStreamTicketTtlS));
  return ticket;
}

Result<Principal> UserService::RedeemStreamTicket(std::string_view ticket) {
  const Error kBad = Error::Unauthorized("the stream ticket is invalid, used or expired: get a new one");
  if (ticket.empty() || ticket.size() > 128) return kBad;
  auto r = store_.RedeemTicket(HashToken(ticket), idle_timeout_s_);
  if (!r.ok()) return r.error();
  if (!*r) return kBad;
  return PrincipalOf((*r)->session_id, (*r)->user_row);
}

Result<int> UserService::ExpireIdleSessions() {
  int64_t now = NowS();
  int64_t due = next_idle_sweep_s_.load();
  int64_t every = idle_timeout_s_ > 0 ? std::min<int64_t>(60, idle_timeout_s_) : 60;
  if (now < due || !next_idle_sweep_s_.compare_exchange_strong(due, now + every)) return 0;
  GC_TRY(store_.ForgetExpiredTickets());
  if (idle_timeout_s_ <= 0) return 0;
  // Keep what cached requests and open streams used meanwhile from looking idle.
  FlushActivity();
  std::vector<int64_t> open = open_sessions_ ? open_sessions_() : std::vector<int64_t>{};
  auto r = store_.ExpireIdle(open, idle_timeout_s_);
  if (!r.ok()) return r.error();
  if (r->empty()) return 0;
  std::vector<int64_t> ended = std::move(*r);
  std::sort(ended.begin(), ended.end());
  {
    std::unique_lock lock(cache_mu_);
    ++generation_;
    for (auto it = tokens_.begin(); it != tokens_.end();) {
      it = std::binary_search(ended.begin(), ended.end(), it->second.session_id) ? tokens_.erase(it) : std::next(it);
    }
  }
  for (int64_t id : ended) {
    if (on_revoked_) on_revoked_(id, "");
  }
  LogInfo("idle sessions ended", {{"sessions", static_cast<int64_t>(ended.size())},
                                  {"idle_timeout_s", idle_timeout_s_}});
  return static_cast<int>(ended.size());
}

void UserService::FlushActivity() {
  std::vector<int64_t> sessions, users;
  {
    std::shared_lock lock(cache_mu_);
    for (auto& [hash, e] : tokens_) {
      if (e.touched.exchange(false, std::memory_order_relaxed)) {
        sessions.push_back(e.session_id);
        users.push_back(e.user_row_id);
      }
    }
  }
  if (sessions.empty()) return;
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  Status r = store_.Touch(sessions, users);
  if (!r.ok()) LogWarn("could not record session activity", {{"error", r.error().message}});
}

}  // namespace gc
