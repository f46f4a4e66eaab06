// UserStore: what the user service keeps: accounts, sessions, stream
// tickets, registration invites and node settings. PgUserStore
// (pg_user_store.h) keeps them in PostgreSQL; the rules (user_service.cpp,
// sessions.cpp) hold no SQL: they validate, hash, cache and decide, and call
// one store method per step. Where a step must be atomic (an invite counted
// with the account it admits, a deactivation with the end of its sessions),
// it is one method.
//
// Every call may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database unless a call says otherwise.
// Users are named by their row id or by their local part (already
// normalized); profiles carry the full address on `server_name`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/common/principal.h"
#include "node/common/result.h"

namespace gc {

struct SessionInfo {
  int64_t id = 0;
  int64_t created_at_ms = 0;
  int64_t last_used_at_ms = 0;
  std::string ip;
  std::string user_agent;
};

struct Invite {
  std::string token;
  std::optional<int> uses_allowed;  // nullopt: unlimited
  int uses = 0;
  std::optional<int64_t> expires_at_ms;
  int64_t created_at_ms = 0;
  std::optional<std::string> created_by;  // user id
  bool revoked = false;
};

struct UserCounts {
  int64_t total = 0, active_24h = 0, admins = 0, deactivated = 0;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // A session found by a credential.
  struct SessionRef {
    int64_t session_id = 0;
    int64_t user_row = 0;
  };
  struct Credentials {
    std::shared_ptr<const UserProfile> user;
    std::string password_hash;
  };
  struct NewUser {
    std::string local_part;
    std::string display_name;
    std::string password_hash;
    bool is_admin = false;
  };

  // --- accounts
  // kNotFound if there is no such row.
  virtual Result<std::shared_ptr<const UserProfile>> UserByRow(int64_t row) = 0;
  // nullopt if there is no such user.
  virtual Result<std::optional<Credentials>> UserByLocal(const std::string& local) = 0;
  // Creates the account; kConflict ("username_taken") if the name exists.
  // With `invite_token`, in the same transaction the invite is checked
  // (known, not used up, expired or revoked) and, if valid, its use counted
  // and recorded on the account. An invalid one is kForbidden
  // ("invite_invalid") if `invite_required`, else ignored.
  virtual Result<std::shared_ptr<const UserProfile>> InsertUser(const NewUser& user,
                                                                const std::optional<std::string>& invite_token,
                                                                bool invite_required) = 0;
  // Sets what is given, both in one transaction.
  virtual Status UpdateProfile(int64_t row, const std::optional<std::string>& display_name,
                               const std::optional<std::optional<std::string>>& avatar_media_id,
                               const std::optional<std::optional<std::string>>& email) = 0;
  // The user's row and when it was last seen; nullopt if there is no such user.
  struct Seen {
    int64_t row = 0;
    std::optional<int64_t> last_seen_ms;
  };
  virtual Result<std::optional<Seen>> Find(const std::string& local) = 0;
  // These return the user's row, nullopt if there is no such user.
  // Deactivating also ends every session of the user (one transaction).
  virtual Result<std::optional<int64_t>> SetDeactivated(const std::string& local, bool deactivated) = 0;
  virtual Result<std::optional<int64_t>> SetAdmin(const std::string& local, bool is_admin) = 0;
  // Also ends every session of the user (one transaction).
  virtual Result<std::optional<int64_t>> SetPassword(const std::string& local, const std::string& password_hash) = 0;
  // Users whose name or display name contains `query` (all for ""), by
  // name; *total: how many match in all.
  virtual Result<std::vector<std::shared_ptr<const UserProfile>>> Search(const std::string& query, int limit,
                                                                         int offset, int64_t* total) = 0;
  virtual Result<UserCounts> Count() = 0;

  // --- sessions (token and ticket hashes are raw bytes)
  virtual Result<int64_t> InsertSession(int64_t user_row, const std::string& token_hash, const std::string& ip,
                                        const std::string& user_agent) = 0;
  // The live session of a token hash (not revoked, its user active, used
  // within `idle_timeout_s` unless 0), marked as used now; nullopt if none.
  virtual Result<std::optional<SessionRef>> SessionByToken(const std::string& token_hash, int64_t idle_timeout_s) = 0;
  // The user's sessions that are not revoked, newest first.
  virtual Result<std::vector<SessionInfo>> Sessions(int64_t user_row) = 0;
  // False if it is not an active session of that user.
  virtual Result<bool> RevokeSession(int64_t session_id, int64_t user_row) = 0;
  virtual Status RevokeAllSessions(const std::string& local) = 0;
  // Marks sessions and users as used now.
  virtual Status Touch(const std::vector<int64_t>& sessions, const std::vector<int64_t>& users) = 0;
  // Marks `open` as used now, then revokes every session unused for
  // `idle_timeout_s`; their ids.
  virtual Result<std::vector<int64_t>> ExpireIdle(const std::vector<int64_t>& open, int64_t idle_timeout_s) = 0;

  // --- stream tickets
  virtual Status InsertTicket(const std::string& ticket_hash, int64_t session_id, int ttl_s) = 0;
  // Spends the ticket whatever happens next; its live session (as
  // SessionByToken), or nullopt if unknown, expired or the session is not.
  virtual Result<std::optional<SessionRef>> RedeemTicket(const std::string& ticket_hash, int64_t idle_timeout_s) = 0;
  virtual Status ForgetExpiredTickets() = 0;

  // --- invites and settings
  // When it was created (ms since the epoch).
  virtual Result<int64_t> InsertInvite(const std::string& token, std::optional<int> uses_allowed,
                                       std::optional<int64_t> expires_at_ms,
                                       std::optional<int64_t> created_by_row) = 0;
  // Newest first.
  virtual Result<std::vector<Invite>> Invites() = 0;
  // False if there is no such invite.
  virtual Result<bool> RevokeInvite(const std::string& token) = 0;
  virtual Result<std::optional<std::string>> Setting(const std::string& key) = 0;
  virtual Status PutSetting(const std::string& key, const std::string& value) = 0;
};

}  // namespace gc
