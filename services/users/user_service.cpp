#include "services/users/user_service.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include "node/common/log.h"
#include "node/common/text.h"
#include "node/http/rate_limiter.h"
#include "services/users/user_internal.h"

namespace gc {

using namespace users_internal;  // NOLINT: the service's own helpers

// ---------------------------------------------------------------- validation

Result<std::string> NormalizeUsername(std::string_view username) {
  if (username.empty()) return Error::Invalid("username must not be empty");
  if (username.size() > 64) return Error::Invalid("username must be at most 64 characters");
  std::string out(username);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return Error::Invalid("username may contain only a-z, 0-9, '.', '_' and '-'", "invalid_username");
  }
  return out;
}

Result<std::string> LoginUsername(std::string_view name, std::string_view server_name) {
  if (!name.empty() && name[0] == '@') {  // the full address
    size_t colon = name.find(':');
    if (colon == std::string_view::npos) return Error::Invalid("not a user address");
    std::string_view server = name.substr(colon + 1);
    bool same = server.size() == server_name.size();
    for (size_t i = 0; same && i < server.size(); ++i) {
      same = std::tolower(static_cast<unsigned char>(server[i])) == std::tolower(static_cast<unsigned char>(server_name[i]));
    }
    if (!same) return Error::Invalid("not a user of this node");
    name = name.substr(1, colon - 1);
  }
  return NormalizeUsername(name);
}

Status ValidatePassword(std::string_view password) {
  auto len = Utf8Length(password);
  if (!len) return Error::Invalid("password must be valid UTF-8", "invalid_password");
  if (*len < 8) return Error::Invalid("password must be at least 8 characters", "weak_password");
  if (*len > 1024) return Error::Invalid("password must be at most 1024 characters", "invalid_password");
  return OkStatus();
}

Status ValidateDisplayName(std::string_view name) {
  auto len = Utf8Length(name);
  if (!len) return Error::Invalid("display_name must be valid UTF-8");
  if (*len > 256) return Error::Invalid("display_name must be at most 256 characters");
  if (HasControlChars(name, false)) return Error::Invalid("display_name must not contain control characters");
  return OkStatus();
}

std::string HashToken(std::string_view token) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
  return out;
}

UserService::UserService(UserStore& store, std::string server_name, std::string default_registration_mode,
                         int64_t idle_timeout_s, PasswordHashing hashing)
    : store_(store),
      idle_timeout_s_(idle_timeout_s),
      server_name_(std::move(server_name)),
      default_mode_(std::move(default_registration_mode)),
      hashing_(std::clamp(hashing.threads, 1, 64)),
      hash_queue_(static_cast<size_t>(std::max(0, hashing.queue))),
      hash_memory_(static_cast<size_t>(std::clamp(hashing.memory_mib, 1, 4096)) << 20),
      hash_pool_(std::clamp(hashing.threads, 1, 64), "gc-pwhash", hashing.nice) {
  dummy_hash_ = HashPassword("a password nobody has, for timing");
}

// The pool's threads finish what is queued before the rest of the service
// goes away (its tasks use it).
UserService::~UserService() { hash_pool_.Stop(); }

namespace {
Error HashingBusy() {
  Error e = Error::Unavailable("too many logins at once: retry in a moment");
  e.detail_code = "busy";
  return e;
}
}  // namespace

void UserService::LoginAsync(std::string username, std::string password, ClientInfo client, LoginDone done) {
  auto task = [this, username = std::move(username), password = std::move(password), client = std::move(client),
               done]() { done(Login(username, password, client)); };
  if (!hash_pool_.TryPost(std::move(task), hash_queue_)) done(HashingBusy());
}

void UserService::RegisterAsync(std::string username, std::string password, std::optional<std::string> display_name,
                                std::optional<std::string> invite_token, ClientInfo client, LoginDone done) {
  auto task = [this, username = std::move(username), password = std::move(password),
               display_name = std::move(display_name), invite_token = std::move(invite_token),
               client = std::move(client), done]() {
    done(Register(username, password, display_name, invite_token, client));
  };
  if (!hash_pool_.TryPost(std::move(task), hash_queue_)) done(HashingBusy());
}

std::string UserService::HashPassword(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  hashing_.acquire();
  int rc = crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             hash_memory_);
  hashing_.release();
  if (rc != 0) return {};
  return out;
}

bool UserService::VerifyPassword(const std::string& hash, std::string_view password) {
  hashing_.acquire();
  int rc = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size());
  hashing_.release();
  return rc == 0;
}

Result<std::string> UserService::LocalPartOf(std::string_view user_id) {
  std::string_view local = user_id;
  if (!user_id.empty() && user_id[0] == '@') {
    size_t colon = user_id.find(':');
    if (colon == std::string_view::npos) return Error::NotFound("no such user");
    if (user_id.substr(colon + 1) != server_name_) return Error::NotFound("no such user on this node");
    local = user_id.substr(1, colon - 1);
  }
  auto n = NormalizeUsername(local);
  if (!n.ok()) return Error::NotFound("no such user");
  return n;
}

std::shared_ptr<const UserProfile> UserService::CachedUser(int64_t id) {
  std::shared_lock lock(cache_mu_);
  auto it = users_.find(id);
  return it == users_.end() ? nullptr : it->second;
}

void UserService::PutUser(std::shared_ptr<const UserProfile> u) {
  std::unique_lock lock(cache_mu_);
  users_[u->id] = std::move(u);
}

Result<std::shared_ptr<const UserProfile>> UserService::LoadUserByRowId(int64_t id) {
  auto u = store_.UserByRow(id);
  if (!u.ok()) return u.error();
  PutUser(*u);
  return u;
}

void UserService::ForgetUserSessions(int64_t user_row_id) {
  std::unique_lock lock(cache_mu_);
  ++generation_;
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second.user_row_id == user_row_id ? tokens_.erase(it) : std::next(it);
  }
  users_.erase(user_row_id);
}

// ---------------------------------------------------------------- registration and login

Result<std::string> UserService::RegistrationMode() {
  auto r = store_.Setting("registration.mode");
  if (!r.ok()) return r.error();
  return r->value_or(default_mode_);
}

Status UserService::SetRegistrationMode(std::string_view mode) {
  if (mode != "open" && mode != "invite" && mode != "closed") {
    return Error::Invalid("mode must be open, invite or closed");
  }
  return store_.PutSetting("registration.mode", std::string(mode));
}

Result<LoginResult> UserService::Register(std::string_view username, std::string_view password,
                                          std::optional<std::string> display_name,
                                          std::optional<std::string> invite_token, const ClientInfo& client) {
  auto mode = RegistrationMode();
  if (!mode.ok()) return mode.error();
  if (*mode == "closed") {
    Error e = Error::Forbidden("registration is closed on this node");
    e.detail_code = "registration_closed";
    return e;
  }
  auto local = NormalizeUsername(username);
  if (!local.ok()) return local.error();
  GC_TRY(ValidatePassword(password));
  if (display_name) GC_TRY(ValidateDisplayName(*display_name));
  bool need_invite = *mode == "invite";
  if (need_invite && (!invite_token || invite_token->empty())) {
    Error e = Error::Forbidden("registration on this node needs an invite token");
    e.detail_code = "invite_required";
    return e;
  }
  if (invite_token && invite_token->size() > 256) return Error::Invalid("invite_token is too long");
  std::string hash = HashPassword(password);
  if (hash.empty()) return Error::Unavailable("cannot hash the password now, retry");

  // Open registration ignores a stale token rather than refusing.
  std::optional<std::string> invite;
  if (need_invite || (invite_token && !invite_token->empty())) invite = *invite_token;
  auto user = store_.InsertUser({*local, display_name.value_or(""), hash, false}, invite, need_invite);
  if (!user.ok()) return user.error();
  PutUser(*user);
  LogInfo("user registered", {{"user", (*user)->user_id}, {"ip", client.ip}});
  return StartSession(*user, client);
}

Result<std::shared_ptr<const UserProfile>> UserService::CreateUser(std::string_view username, std::string_view password,
                                                                   bool is_admin,
                                                                   std::optional<std::string> display_name) {
  auto local = NormalizeUsername(username);
  if (!local.ok()) return local.error();
  GC_TRY(ValidatePassword(password));
  if (display_name) GC_TRY(ValidateDisplayName(*display_name));
  std::string hash = HashPassword(password);
  if (hash.empty()) return Error::Unavailable("cannot hash the password now, retry");
  return store_.InsertUser({*local, display_name.value_or(""), hash, is_admin}, std::nullopt, false);
}

Result<LoginResult> UserService::Login(std::string_view username, std::string_view password,
                                       const ClientInfo& client) {
  const Error kBad = Error::Unauthorized("wrong username or password");
  auto local = LoginUsername(username, server_name_);
  bool plausible = local.ok() && Utf8Length(password).has_value() && password.size() <= 4096;
  std::optional<UserStore::Credentials> row;
  if (plausible) {
    auto r = store_.UserByLocal(*local);
    if (!r.ok()) return r.error();
    row = std::move(*r);
  }
  if (!row || row->user->deactivated) {
    // Unknown or deactivated: spend the same time as a real check.
    (void)VerifyPassword(dummy_hash_, password.substr(0, 1024));
    return kBad;
  }
  if (!VerifyPassword(row->password_hash, password)) return kBad;
  // Made with another cost (sessions.password_hash_memory_mib changed since):
  // hash it again with today's, now that the password is known. Best effort:
  // the login does not fail if this does.
  if (crypto_pwhash_str_needs_rehash(row->password_hash.c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                     hash_memory_) != 0) {
    std::string again = HashPassword(password);
    if (!again.empty()) {
      auto set = store_.SetPassword(*local, again);
      if (!set.ok()) LogWarn("could not store a password hashed again at login", {{"error", set.error().message}});
    }
  }
  auto user = row->user;
  PutUser(user);
  return StartSession(user, client);
}

Result<LoginResult> UserService::StartSession(std::shared_ptr<const UserProfile> user, const ClientInfo& client) {
  std::string token = kTokenPrefix + RandomToken(32);
  std::string hash = HashToken(token);
  std::string ua = client.user_agent.substr(0, 512);
  if (!Utf8Length(ua)) ua = "";
  auto r = store_.InsertSession(user->id, hash, client.ip, ua);
  if (!r.ok()) return r.error();
  LoginResult out;
  out.user = user;
  out.session_id = *r;
  out.access_token = token;
  {
    std::unique_lock lock(cache_mu_);
    if (tokens_.size() >= kMaxCachedTokens) tokens_.clear();
    tokens_.try_emplace(hash, CacheEntry{out.session_id, user->id, NowS() + kTokenCacheTtlS, NowS()});
  }
  return out;
}

Status UserService::Logout(const Principal& p) { return RevokeSession(p, p.session_id); }

// ---------------------------------------------------------------- profile and sessions

Result<std::shared_ptr<const UserProfile>> UserService::UpdateProfile(
    const Principal& p, std::optional<std::string> display_name,
    std::optional<std::optional<std::string>> avatar_media_id, std::optional<std::optional<std::string>> email) {
  if (display_name) GC_TRY(ValidateDisplayName(*display_name));
  if (email && *email) GC_TRY(ValidateEmail(**email));
  if (avatar_media_id && *avatar_media_id && (*avatar_media_id)->size() > 128) {
    return Error::Invalid("avatar_media_id is too long");
  }
  if (avatar_media_id && *avatar_media_id && avatar_check_) GC_TRY(avatar_check_(p.user->user_id, **avatar_media_id));
  GC_TRY(store_.UpdateProfile(p.user->id, display_name, avatar_media_id, email));
  return LoadUserByRowId(p.user->id);
}

Result<std::vector<SessionInfo>> UserService::ListSessions(const Principal& p) {
  FlushActivity();
  return store_.Sessions(p.user->id);
}

Status UserService::RevokeSession(const Principal& p, int64_t session_id) {
  // Drop it from the cache first, so no request can slip through between the
  // database update and the cache update.
  {
    std::unique_lock lock(cache_mu_);
    ++generation_;
    for (auto it = tokens_.begin(); it != tokens_.end();) {
      it = it->second.session_id == session_id ? tokens_.erase(it) : std::next(it);
    }
  }
  auto r = store_.RevokeSession(session_id, p.user->id);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such active session");
  if (on_revoked_) on_revoked_(session_id, "");
  return OkStatus();
}

Result<std::shared_ptr<const UserProfile>> UserService::GetUser(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto r = store_.UserByLocal(*local);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such user");
  return (*r)->user;
}

// ---------------------------------------------------------------- administration

Status UserService::SetDeactivated(std::string_view user_id, bool deactivated) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto r = store_.SetDeactivated(*local, deactivated);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such user");
  ForgetUserSessions(**r);
  if (deactivated && on_revoked_) {
    auto local = LocalPartOf(user_id);
    if (local.ok()) on_revoked_(0, "@" + *local + ":" + server_name_);
  }
  LogInfo(deactivated ? "user deactivated" : "user reactivated", {{"user", std::string(user_id)}});
  return OkStatus();
}

Status UserService::SetAdmin(std::string_view user_id, bool is_admin) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto r = store_.SetAdmin(*local, is_admin);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such user");
  int64_t id = **r;
  {
    std::unique_lock lock(cache_mu_);
    users_.erase(id);
  }
  return LoadUserByRowId(id).ok() ? OkStatus() : Status(Error::Internal("reload failed"));
}

Result<std::vector<std::shared_ptr<const UserProfile>>> UserService::Search(std::string_view query, int limit,
                                                                            int offset, int64_t* total) {
  return store_.Search(std::string(query), limit, offset, total);
}

Result<Invite> UserService::CreateInvite(std::optional<int> uses_allowed, std::optional<int64_t> expires_at_ms,
                                         std::optional<int64_t> created_by_user) {
  if (uses_allowed && (*uses_allowed < 1 || *uses_allowed > 1000000)) {
    return Error::Invalid("uses must be from 1 to 1000000");
  }
  Invite inv;
  inv.token = RandomToken(18);
  inv.uses_allowed = uses_allowed;
  inv.expires_at_ms = expires_at_ms;
  auto created = store_.InsertInvite(inv.token, uses_allowed, expires_at_ms, created_by_user);
  if (!created.ok()) return created.error();
  inv.created_at_ms = *created;
  return inv;
}

Result<std::vector<Invite>> UserService::ListInvites() { return store_.Invites(); }

Status UserService::RevokeInvite(std::string_view token) {
  auto r = store_.RevokeInvite(std::string(token));
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such invite");
  return OkStatus();
}

Status UserService::ResetPassword(std::string_view user_id, std::string_view password) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  GC_TRY(ValidatePassword(password));
  std::string hash = HashPassword(password);
  if (hash.empty()) return Error::Unavailable("cannot hash the password now, retry");
  auto r = store_.SetPassword(*local, hash);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such user");
  ForgetUserSessions(**r);
  if (on_revoked_) on_revoked_(0, "@" + *local + ":" + server_name_);
  return OkStatus();
}

Status UserService::RevokeAllSessions(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto exists = store_.Find(*local);
  if (!exists.ok()) return exists.error();
  if (!*exists) return Error::NotFound("no such user");
  int64_t id = (*exists)->row;
  ForgetUserSessions(id);
  GC_TRY(store_.RevokeAllSessions(*local));
  ForgetUserSessions(id);
  if (on_revoked_) on_revoked_(0, "@" + *local + ":" + server_name_);
  return OkStatus();
}

Result<std::vector<SessionInfo>> UserService::SessionsOf(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  FlushActivity();
  auto u = store_.Find(*local);
  if (!u.ok()) return u.error();
  if (!*u) return Error::NotFound("no such user");
  return store_.Sessions((*u)->row);
}

Result<std::optional<int64_t>> UserService::LastSeen(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto u = store_.Find(*local);
  if (!u.ok()) return u.error();
  if (!*u) return Error::NotFound("no such user");
  return (*u)->last_seen_ms;
}

Result<UserService::Stats> UserService::CountUsers() {
  FlushActivity();
  return store_.Count();
}

}  // namespace gc
