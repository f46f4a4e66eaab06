#include "services/users/pg_user_store.h"

#include "node/db/pg.h"
#include "node/db/pg_array.h"
#include "services/users/user_internal.h"

namespace gc {


namespace {

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

// $2: the idle timeout in seconds, 0 for none.
GC_SQL(kSessionByToken,
       "SELECT s.id, s.user_id FROM sessions s JOIN users u ON u.id = s.user_id "
       "WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.deactivated_at IS NULL "
       "AND ($2::bigint = 0 OR s.last_used_at > now() - make_interval(secs => $2::bigint))");
GC_SQL(kTouchSession, "UPDATE sessions SET last_used_at = now() WHERE id = $1");
GC_SQL(kTouchSessions, "UPDATE sessions SET last_used_at = now() WHERE id = ANY($1::bigint[])");
GC_SQL(kTouchUsers, "UPDATE users SET last_seen_at = now() WHERE id = ANY($1::bigint[])");
GC_SQL(kInsertTicket,
       "INSERT INTO stream_tickets (ticket_hash, session_id, expires_at) "
       "VALUES ($1, $2, now() + make_interval(secs => $3::int))");
// Spends the ticket whatever happens next; answers only for a live session.
GC_SQL(kRedeemTicket,
       "WITH t AS (DELETE FROM stream_tickets WHERE ticket_hash = $1 RETURNING session_id, expires_at) "
       "SELECT s.id, s.user_id FROM t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id "
       "WHERE t.expires_at > now() AND s.revoked_at IS NULL AND u.deactivated_at IS NULL "
       "AND ($2::bigint = 0 OR s.last_used_at > now() - make_interval(secs => $2::bigint))");
GC_SQL(kExpireIdle,
       "UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL "
       "AND last_used_at <= now() - make_interval(secs => $1::bigint) RETURNING id");
GC_SQL(kForgetTickets, "DELETE FROM stream_tickets WHERE expires_at <= now()");

std::shared_ptr<const UserProfile> RowToUser(const PgResult& r, int row, const std::string& server) {
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

Result<std::vector<SessionInfo>> SessionRows(Result<PgResult> r) {
  if (!r.ok()) return r.error();
  std::vector<SessionInfo> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->int64(i, 0), r->int64(i, 1), r->int64(i, 2), r->text(i, 3), r->text(i, 4)});
  }
  return out;
}

Result<std::optional<UserStore::SessionRef>> SessionRow(const Result<PgResult>& r) {
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<UserStore::SessionRef>();
  return std::optional<UserStore::SessionRef>(UserStore::SessionRef{r->int64(0, 0), r->int64(0, 1)});
}

// The row id a `... RETURNING id` statement returned, nullopt if none.
Result<std::optional<int64_t>> ReturnedRow(const Result<PgResult>& r) {
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(r->int64(0, 0));
}

}  // namespace

Result<std::shared_ptr<const UserProfile>> PgUserStore::UserByRow(int64_t row) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kUserById, {row}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return Error::NotFound("no such user");
  return RowToUser(*r, 0, server_name_);
}

Result<std::optional<UserStore::Credentials>> PgUserStore::UserByLocal(const std::string& local) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kUserByLocal, {local}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<Credentials>();
  return std::optional<Credentials>(Credentials{RowToUser(*r, 0, server_name_), r->text(0, 8)});
}

Result<std::shared_ptr<const UserProfile>> PgUserStore::InsertUser(const NewUser& user,
                                                                   const std::optional<std::string>& invite_token,
                                                                   bool invite_required) {
  return db_.Transaction([&](PgConn& c) -> Result<std::shared_ptr<const UserProfile>> {
    std::optional<std::string> used_invite;
    if (invite_token) {
      auto inv = c.Exec(kInviteForUpdate, {*invite_token});
      if (!inv.ok()) return inv.error();
      bool valid = inv->rows() == 1 && !inv->boolean(0, 2) && !inv->boolean(0, 3) &&
                   (inv->is_null(0, 0) || inv->int64(0, 1) < inv->int64(0, 0));
      if (valid) {
        auto use = c.Exec(kUseInvite, {*invite_token});
        if (!use.ok()) return use.error();
        used_invite = *invite_token;
      } else if (invite_required) {
        Error e = Error::Forbidden("the invite token is unknown, used up, expired or revoked");
        e.detail_code = "invite_invalid";
        return e;
      }
    }
    auto r = c.Exec(kInsertUser, {user.local_part, user.display_name, user.password_hash, user.is_admin, used_invite});
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kConflict) return Error::Conflict("that username is taken", "username_taken");
      return r.error();
    }
    return RowToUser(*r, 0, server_name_);
  });
}

Status PgUserStore::UpdateProfile(int64_t row, const std::optional<std::string>& display_name,
                                  const std::optional<std::optional<std::string>>& avatar_media_id,
                                  const std::optional<std::optional<std::string>>& email) {
  return db_.Transaction([&](PgConn& c) -> Status {
    if (display_name) {
      auto r = c.Exec(kUpdateDisplayName, {row, *display_name});
      if (!r.ok()) return r.error();
    }
    if (avatar_media_id) {
      auto r = c.Exec(kUpdateAvatar, {row, *avatar_media_id});
      if (!r.ok()) return r.error();
    }
    if (email) {
      auto r = c.Exec(kUpdateEmail, {row, *email});
      if (!r.ok()) return r.error();
    }
    return OkStatus();
  });
}

Result<std::optional<UserStore::Seen>> PgUserStore::Find(const std::string& local) {
  auto u = db_.With([&](PgConn& c) { return c.Exec(kUserIdByLocal, {local}); });
  if (!u.ok()) return u.error();
  if (u->rows() == 0) return std::optional<Seen>();
  return std::optional<Seen>(Seen{u->int64(0, 0), u->opt_int64(0, 1)});
}

Result<std::optional<int64_t>> PgUserStore::SetDeactivated(const std::string& local, bool deactivated) {
  return db_.Transaction([&](PgConn& c) -> Result<std::optional<int64_t>> {
    auto id = ReturnedRow(c.Exec(kSetDeactivated, {local, deactivated}));
    if (!id.ok() || !*id) return id;
    if (deactivated) {
      auto s = c.Exec(kRevokeUserSessions, {**id});
      if (!s.ok()) return s.error();
    }
    return id;
  });
}

Result<std::optional<int64_t>> PgUserStore::SetAdmin(const std::string& local, bool is_admin) {
  return ReturnedRow(db_.With([&](PgConn& c) { return c.Exec(kSetAdmin, {local, is_admin}); }));
}

Result<std::optional<int64_t>> PgUserStore::SetPassword(const std::string& local, const std::string& password_hash) {
  return db_.Transaction([&](PgConn& c) -> Result<std::optional<int64_t>> {
    auto id = ReturnedRow(c.Exec(kSetPassword, {local, password_hash}));
    if (!id.ok() || !*id) return id;
    auto s = c.Exec(kRevokeUserSessions, {**id});
    if (!s.ok()) return s.error();
    return id;
  });
}

Result<std::vector<std::shared_ptr<const UserProfile>>> PgUserStore::Search(const std::string& query, int limit,
                                                                            int offset, int64_t* total) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kSearchUsers, {query, limit, offset}); });
  if (!r.ok()) return r.error();
  std::vector<std::shared_ptr<const UserProfile>> out;
  *total = r->rows() > 0 ? r->int64(0, 8) : 0;
  for (int i = 0; i < r->rows(); ++i) out.push_back(RowToUser(*r, i, server_name_));
  return out;
}

Result<UserCounts> PgUserStore::Count() {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kCountUsers); });
  if (!r.ok()) return r.error();
  return UserCounts{r->int64(0, 0), r->int64(0, 1), r->int64(0, 2), r->int64(0, 3)};
}

Result<int64_t> PgUserStore::InsertSession(int64_t user_row, const std::string& token_hash, const std::string& ip,
                                           const std::string& user_agent) {
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kInsertSession, {user_row, PgParam::Bytes(token_hash), ip, user_agent});
  });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Result<std::optional<UserStore::SessionRef>> PgUserStore::SessionByToken(const std::string& token_hash,
                                                                         int64_t idle_timeout_s) {
  return SessionRow(db_.With([&](PgConn& c) -> Result<PgResult> {
    auto s = c.Exec(kSessionByToken, {PgParam::Bytes(token_hash), idle_timeout_s});
    if (s.ok() && s->rows() == 1) {
      auto t = c.Exec(kTouchSession, {s->int64(0, 0)});
      if (!t.ok()) return t.error();
    }
    return s;
  }));
}

Result<std::vector<SessionInfo>> PgUserStore::Sessions(int64_t user_row) {
  return SessionRows(db_.With([&](PgConn& c) { return c.Exec(kListSessions, {user_row}); }));
}

Result<bool> PgUserStore::RevokeSession(int64_t session_id, int64_t user_row) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRevokeSession, {session_id, user_row}); });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Status PgUserStore::RevokeAllSessions(const std::string& local) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRevokeAllByLocal, {local}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Status PgUserStore::Touch(const std::vector<int64_t>& sessions, const std::vector<int64_t>& users) {
  return db_.With([&](PgConn& c) -> Status {
    auto a = c.Exec(kTouchSessions, {PgArray::Of(sessions)});
    if (!a.ok()) return a.error();
    auto b = c.Exec(kTouchUsers, {PgArray::Of(users)});
    if (!b.ok()) return b.error();
    return OkStatus();
  });
}

Result<std::vector<int64_t>> PgUserStore::ExpireIdle(const std::vector<int64_t>& open, int64_t idle_timeout_s) {
  auto r = db_.With([&](PgConn& c) -> Result<PgResult> {
    if (!open.empty()) {
      auto t = c.Exec(kTouchSessions, {PgArray::Of(open)});
      if (!t.ok()) return t.error();
    }
    return c.Exec(kExpireIdle, {idle_timeout_s});
  });
  if (!r.ok()) return r.error();
  std::vector<int64_t> ended;
  for (int i = 0; i < r->rows(); ++i) ended.push_back(r->int64(i, 0));
  return ended;
}

Status PgUserStore::InsertTicket(const std::string& ticket_hash, int64_t session_id, int ttl_s) {
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kInsertTicket, {PgParam::Bytes(ticket_hash), session_id, ttl_s});
  });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::optional<UserStore::SessionRef>> PgUserStore::RedeemTicket(const std::string& ticket_hash,
                                                                       int64_t idle_timeout_s) {
  return SessionRow(db_.With([&](PgConn& c) {
    return c.Exec(kRedeemTicket, {PgParam::Bytes(ticket_hash), idle_timeout_s});
  }));
}

Status PgUserStore::ForgetExpiredTickets() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kForgetTickets); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<int64_t> PgUserStore::InsertInvite(const std::string& token, std::optional<int> uses_allowed,
                                          std::optional<int64_t> expires_at_ms,
                                          std::optional<int64_t> created_by_row) {
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kInsertInvite, {token, uses_allowed, expires_at_ms, created_by_row});
  });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Result<std::vector<Invite>> PgUserStore::Invites() {
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

Result<bool> PgUserStore::RevokeInvite(const std::string& token) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRevokeInvite, {token}); });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Result<std::optional<std::string>> PgUserStore::Setting(const std::string& key) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kGetSetting, {key}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r->text(0, 0));
}

Status PgUserStore::PutSetting(const std::string& key, const std::string& value) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kPutSetting, {key, value}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace gc
