#include "services/users/user_service.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include "node/common/log.h"
#include "node/common/text.h"
#include "node/db/pg.h"
#include "node/http/rate_limiter.h"
#include "services/users/user_internal.h"

namespace gc {

using namespace users_internal;  // NOLINT: the service's own helpers

namespace {

constexpr const char* kUserColumns =
    "id, local_part, display_name, is_admin, avatar_media_id, "
    "(extract(epoch FROM created_at) * 1000)::bigint, deactivated_at IS NOT NULL, email";

#define USER_COLS "id, local_part, display_name, is_admin, avatar_media_id, " \
                  "(extract(epoch FROM created_at) * 1000)::bigint, deactivated_at IS NOT NULL, email"

GC_SQL(kUserById, "SELECT " USER_COLS " FROM users WHERE id = $1");
GC_SQL(kUserByLocal, "SELECT " USER_COLS ", password_hash FROM users WHERE local_part = $1");
GC_SQL(kInsertUser,
       "INSERT INTO users (local_part, display_name, password_hash, is_admin, invite_token) "
       "VALUES ($1, $2, $3, $4, $5) RETURNING " USER_COLS);
GC_SQL(kInsertSession,
       "INSERT INTO sessions (user_id, token_hash, ip, user_agent) VALUES ($1, $2, $3, $4) RETURNING id");
GC_SQL(kRevokeSession,
       "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL");
GC_SQL(kRevokeUserSessions, "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL");
GC_SQL(kListSessions,
       "SELECT id, (extract(epoch FROM created_at) * 1000)::bigint, "
       "(extract(epoch FROM last_used_at) * 1000)::bigint, ip, user_agent "
       "FROM sessions WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id DESC");
GC_SQL(kUpdateDisplayName, "UPDATE users SET display_name = $2 WHERE id = $1");
GC_SQL(kUpdateAvatar, "UPDATE users SET avatar_media_id = $2 WHERE id = $1");
GC_SQL(kUpdateEmail, "UPDATE users SET email = $2 WHERE id = $1");
GC_SQL(kSetDeactivated,
       "UPDATE users SET deactivated_at = CASE WHEN $2 THEN coalesce(deactivated_at, now()) ELSE NULL END "
       "WHERE local_part = $1 RETURNING id");
GC_SQL(kSetAdmin, "UPDATE users SET is_admin = $2 WHERE local_part = $1 RETURNING id");
GC_SQL(kSearchUsers,
       "SELECT " USER_COLS ", count(*) OVER () FROM users "
       "WHERE $1 = '' OR strpos(local_part, lower($1)) > 0 OR strpos(lower(display_name), lower($1)) > 0 "
       "ORDER BY local_part LIMIT $2 OFFSET $3");
GC_SQL(kInviteForUpdate,
       "SELECT uses_allowed, uses, expires_at IS NOT NULL AND expires_at <= now(), revoked_at IS NOT NULL "
       "FROM registration_invites WHERE token = $1 FOR UPDATE");
GC_SQL(kUseInvite, "UPDATE registration_invites SET uses = uses + 1 WHERE token = $1");
GC_SQL(kInsertInvite,
       "INSERT INTO registration_invites (token, uses_allowed, expires_at, created_by) "
       "VALUES ($1, $2, to_timestamp($3::double precision / 1000), $4) "
       "RETURNING (extract(epoch FROM created_at) * 1000)::bigint");
GC_SQL(kListInvites,
       "SELECT i.token, i.uses_allowed, i.uses, (extract(epoch FROM i.expires_at) * 1000)::bigint, "
       "(extract(epoch FROM i.created_at) * 1000)::bigint, u.local_part, i.revoked_at IS NOT NULL "
       "FROM registration_invites i LEFT JOIN users u ON u.id = i.created_by ORDER BY i.created_at DESC");
GC_SQL(kRevokeInvite,
       "UPDATE registration_invites SET revoked_at = coalesce(revoked_at, now()) WHERE token = $1");
GC_SQL(kSetPassword, "UPDATE users SET password_hash = $2 WHERE local_part = $1 RETURNING id");
GC_SQL(kRevokeAllByLocal,
       "UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND user_id = "
       "(SELECT id FROM users WHERE local_part = $1) RETURNING user_id");
GC_SQL(kUserIdByLocal, "SELECT id, (extract(epoch FROM last_seen_at) * 1000)::bigint FROM users WHERE local_part = $1");
GC_SQL(kCountUsers,
       "SELECT count(*), count(*) FILTER (WHERE last_seen_at > now() - interval '24 hours' "
       "  OR created_at > now() - interval '24 hours'), count(*) FILTER (WHERE is_admin), "
       "count(*) FILTER (WHERE deactivated_at IS NOT NULL) FROM users");
GC_SQL(kGetSetting, "SELECT value FROM node_settings WHERE key = $1");
GC_SQL(kPutSetting,
       "INSERT INTO node_settings (key, value) VALUES ($1, $2) "
       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()");

}  // namespace

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

// ---------------------------------------------------------------- helpers

static std::shared_ptr<const UserProfile> RowToUser(const PgResult& r, int row, const std::string& server) {
  auto u = std::make_shared<UserProfile>();
  u->id = r.int64(row, 0);
  u->local_part = r.text(row, 1);
  u->user_id = "@" + u->local_part + ":" + server;
  u->display_name = r.text(row, 2);
  u->is_admin = r.boolean(row, 3);
  u->avatar_media_id = r.opt_text(row, 4);
  u->created_at_ms = r.int64(row, 5);
  u->deactivated = r.boolean(row, 6);
  u->email = r.opt_text(row, 7);
  return u;
}

UserService::UserService(PgPool& db, std::string server_name, std::string default_registration_mode,
                         int64_t idle_timeout_s)
    : db_(db),
      idle_timeout_s_(idle_timeout_s),
      server_name_(std::move(server_name)),
      default_mode_(std::move(default_registration_mode)) {
  (void)kUserColumns;
  dummy_hash_ = HashPassword("a password nobody has, for timing");
}

UserService::~UserService() = default;

std::string UserService::HashPassword(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  hashing_.acquire();
  int rc = crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
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
  auto r = db_.With([&](PgConn& c) { return c.Exec(kUserById, {id}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return Error::NotFound("no such user");
  auto u = RowToUser(*r, 0, server_name_);
  PutUser(u);
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
  auto r = db_.With([&](PgConn& c) { return c.Exec(kGetSetting, {"registration.mode"}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return default_mode_;
  return r->text(0, 0);
}

Status UserService::SetRegistrationMode(std::string_view mode) {
  if (mode != "open" && mode != "invite" && mode != "closed") {
    return Error::Invalid("mode must be open, invite or closed");
  }
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPutSetting, {"registration.mode", mode}); });
  if (!r.ok()) return r.error();
  return OkStatus();
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

  auto user = db_.Transaction([&](PgConn& c) -> Result<std::shared_ptr<const UserProfile>> {
    std::optional<std::string> used_invite;
    if (need_invite || (invite_token && !invite_token->empty())) {
      auto inv = c.Exec(kInviteForUpdate, {*invite_token});
      if (!inv.ok()) return inv.error();
      bool valid = inv->rows() == 1 && !inv->boolean(0, 2) && !inv->boolean(0, 3) &&
                   (inv->is_null(0, 0) || inv->int64(0, 1) < inv->int64(0, 0));
      if (!valid) {
        if (!need_invite) {
          // Open registration ignores a stale token rather than refusing.
        } else {
          Error e = Error::Forbidden("the invite token is unknown, used up, expired or revoked");
          e.detail_code = "invite_invalid";
          return e;
        }
      } else {
        auto use = c.Exec(kUseInvite, {*invite_token});
        if (!use.ok()) return use.error();
        used_invite = *invite_token;
      }
    }
    auto r = c.Exec(kInsertUser, {*local, display_name.value_or(""), hash, false, used_invite});
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kConflict) return Error::Conflict("that username is taken", "username_taken");
      return r.error();
    }
    return RowToUser(*r, 0, server_name_);
  });
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
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kInsertUser, {*local, display_name.value_or(""), hash, is_admin, std::nullopt});
  });
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kConflict) return Error::Conflict("that username is taken", "username_taken");
    return r.error();
  }
  return RowToUser(*r, 0, server_name_);
}

Result<LoginResult> UserService::Login(std::string_view username, std::string_view password,
                                       const ClientInfo& client) {
  const Error kBad = Error::Unauthorized("wrong username or password");
  auto local = LoginUsername(username, server_name_);
  bool plausible = local.ok() && Utf8Length(password).has_value() && password.size() <= 4096;
  std::optional<PgResult> row;
  if (plausible) {
    auto r = db_.With([&](PgConn& c) { return c.Exec(kUserByLocal, {*local}); });
    if (!r.ok()) return r.error();
    if (r->rows() == 1) row.emplace(std::move(*r));
  }
  if (!row || row->boolean(0, 6)) {
    // Unknown or deactivated: spend the same time as a real check.
    (void)VerifyPassword(dummy_hash_, password.substr(0, 1024));
    return kBad;
  }
  if (!VerifyPassword(row->text(0, 8), password)) return kBad;
  auto user = RowToUser(*row, 0, server_name_);
  PutUser(user);
  return StartSession(user, client);
}

Result<LoginResult> UserService::StartSession(std::shared_ptr<const UserProfile> user, const ClientInfo& client) {
  std::string token = kTokenPrefix + RandomToken(32);
  std::string hash = HashToken(token);
  std::string ua = client.user_agent.substr(0, 512);
  if (!Utf8Length(ua)) ua = "";
  auto r = db_.With([&](PgConn& c) { return c.Exec(kInsertSession, {user->id, PgParam::Bytes(hash), client.ip, ua}); });
  if (!r.ok()) return r.error();
  LoginResult out;
  out.user = user;
  out.session_id = r->int64(0, 0);
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
  auto st = db_.Transaction([&](PgConn& c) -> Status {
    if (display_name) {
      auto r = c.Exec(kUpdateDisplayName, {p.user->id, *display_name});
      if (!r.ok()) return r.error();
    }
    if (avatar_media_id) {
      auto r = c.Exec(kUpdateAvatar, {p.user->id, *avatar_media_id});
      if (!r.ok()) return r.error();
    }
    if (email) {
      auto r = c.Exec(kUpdateEmail, {p.user->id, *email});
      if (!r.ok()) return r.error();
    }
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return LoadUserByRowId(p.user->id);
}

Result<std::vector<SessionInfo>> UserService::ListSessions(const Principal& p) {
  FlushActivity();
  auto r = db_.With([&](PgConn& c) { return c.Exec(kListSessions, {p.user->id}); });
  if (!r.ok()) return r.error();
  std::vector<SessionInfo> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->int64(i, 0), r->int64(i, 1), r->int64(i, 2), r->text(i, 3), r->text(i, 4)});
  }
  return out;
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
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRevokeSession, {session_id, p.user->id}); });
  if (!r.ok()) return r.error();
  if (r->affected() == 0) return Error::NotFound("no such active session");
  if (on_revoked_) on_revoked_(session_id, "");
  return OkStatus();
}

Result<std::shared_ptr<const UserProfile>> UserService::GetUser(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto r = db_.With([&](PgConn& c) { return c.Exec(kUserByLocal, {*local}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return Error::NotFound("no such user");
  return RowToUser(*r, 0, server_name_);
}

// ---------------------------------------------------------------- administration

Status UserService::SetDeactivated(std::string_view user_id, bool deactivated) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto r = db_.Transaction([&](PgConn& c) -> Result<int64_t> {
    auto u = c.Exec(kSetDeactivated, {*local, deactivated});
    if (!u.ok()) return u.error();
    if (u->rows() == 0) return Error::NotFound("no such user");
    int64_t id = u->int64(0, 0);
    if (deactivated) {
      auto s = c.Exec(kRevokeUserSessions, {id});
      if (!s.ok()) return s.error();
    }
    return id;
  });
  if (!r.ok()) return r.error();
  ForgetUserSessions(*r);
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
  auto r = db_.With([&](PgConn& c) { return c.Exec(kSetAdmin, {*local, is_admin}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return Error::NotFound("no such user");
  int64_t id = r->int64(0, 0);
  {
    std::unique_lock lock(cache_mu_);
    users_.erase(id);
  }
  return LoadUserByRowId(id).ok() ? OkStatus() : Status(Error::Internal("reload failed"));
}

Result<std::vector<std::shared_ptr<const UserProfile>>> UserService::Search(std::string_view query, int limit,
                                                                            int offset, int64_t* total) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kSearchUsers, {query, limit, offset}); });
  if (!r.ok()) return r.error();
  std::vector<std::shared_ptr<const UserProfile>> out;
  *total = r->rows() > 0 ? r->int64(0, 8) : 0;
  for (int i = 0; i < r->rows(); ++i) out.push_back(RowToUser(*r, i, server_name_));
  return out;
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
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kInsertInvite, {inv.token, uses_allowed, expires_at_ms, created_by_user});
  });
  if (!r.ok()) return r.error();
  inv.created_at_ms = r->int64(0, 0);
  return inv;
}

Result<std::vector<Invite>> UserService::ListInvites() {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kListInvites); });
  if (!r.ok()) return r.error();
  std::vector<Invite> out;
  for (int i = 0; i < r->rows(); ++i) {
    Invite inv;
    inv.token = r->text(i, 0);
    if (!r->is_null(i, 1)) inv.uses_allowed = static_cast<int>(r->int64(i, 1));
    inv.uses = static_cast<int>(r->int64(i, 2));
    inv.expires_at_ms = r->opt_int64(i, 3);
    inv.created_at_ms = r->int64(i, 4);
    if (!r->is_null(i, 5)) inv.created_by = "@" + r->text(i, 5) + ":" + server_name_;
    inv.revoked = r->boolean(i, 6);
    out.push_back(std::move(inv));
  }
  return out;
}

Status UserService::RevokeInvite(std::string_view token) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRevokeInvite, {token}); });
  if (!r.ok()) return r.error();
  if (r->affected() == 0) return Error::NotFound("no such invite");
  return OkStatus();
}

Status UserService::ResetPassword(std::string_view user_id, std::string_view password) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  GC_TRY(ValidatePassword(password));
  std::string hash = HashPassword(password);
  if (hash.empty()) return Error::Unavailable("cannot hash the password now, retry");
  auto r = db_.Transaction([&](PgConn& c) -> Result<int64_t> {
    auto u = c.Exec(kSetPassword, {*local, hash});
    if (!u.ok()) return u.error();
    if (u->rows() == 0) return Error::NotFound("no such user");
    int64_t id = u->int64(0, 0);
    auto s = c.Exec(kRevokeUserSessions, {id});
    if (!s.ok()) return s.error();
    return id;
  });
  if (!r.ok()) return r.error();
  ForgetUserSessions(*r);
  if (on_revoked_) on_revoked_(0, "@" + *local + ":" + server_name_);
  return OkStatus();
}

Status UserService::RevokeAllSessions(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto exists = db_.With([&](PgConn& c) { return c.Exec(kUserIdByLocal, {*local}); });
  if (!exists.ok()) return exists.error();
  if (exists->rows() == 0) return Error::NotFound("no such user");
  int64_t id = exists->int64(0, 0);
  ForgetUserSessions(id);
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRevokeAllByLocal, {*local}); });
  if (!r.ok()) return r.error();
  ForgetUserSessions(id);
  if (on_revoked_) on_revoked_(0, "@" + *local + ":" + server_name_);
  return OkStatus();
}

Result<std::vector<SessionInfo>> UserService::SessionsOf(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  FlushActivity();
  auto u = db_.With([&](PgConn& c) { return c.Exec(kUserIdByLocal, {*local}); });
  if (!u.ok()) return u.error();
  if (u->rows() == 0) return Error::NotFound("no such user");
  int64_t id = u->int64(0, 0);
  auto r = db_.With([&](PgConn& c) { return c.Exec(kListSessions, {id}); });
  if (!r.ok()) return r.error();
  std::vector<SessionInfo> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->int64(i, 0), r->int64(i, 1), r->int64(i, 2), r->text(i, 3), r->text(i, 4)});
  }
  return out;
}

Result<std::optional<int64_t>> UserService::LastSeen(std::string_view user_id) {
  auto local = LocalPartOf(user_id);
  if (!local.ok()) return local.error();
  auto u = db_.With([&](PgConn& c) { return c.Exec(kUserIdByLocal, {*local}); });
  if (!u.ok()) return u.error();
  if (u->rows() == 0) return Error::NotFound("no such user");
  return u->opt_int64(0, 1);
}

Result<UserService::Stats> UserService::CountUsers() {
  FlushActivity();
  auto r = db_.With([&](PgConn& c) { return c.Exec(kCountUsers); });
  if (!r.ok()) return r.error();
  return Stats{r->int64(0, 0), r->int64(0, 1), r->int64(0, 2), r->int64(0, 3)};
}

}  // namespace gc
