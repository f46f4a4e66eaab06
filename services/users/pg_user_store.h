// PgUserStore: the UserStore in PostgreSQL (tables users, sessions,
// stream_tickets, registration_invites, node_settings: migrations/). SQL as
// named statements, prepared once per connection.
#pragma once

#include <string>

#include "services/users/user_store.h"

namespace gc {

class PgPool;

class PgUserStore : public UserStore {
 public:
  // `server_name`: the node's, for the addresses of the profiles it returns.
  PgUserStore(PgPool& db, std::string server_name) : db_(db), server_name_(std::move(server_name)) {}

  Result<std::shared_ptr<const UserProfile>> UserByRow(int64_t row) override;
  Result<std::optional<Credentials>> UserByLocal(const std::string& local) override;
  Result<std::shared_ptr<const UserProfile>> InsertUser(const NewUser& user,
                                                        const std::optional<std::string>& invite_token,
                                                        bool invite_required) override;
  Status UpdateProfile(int64_t row, const std::optional<std::string>& display_name,
                       const std::optional<std::optional<std::string>>& avatar_media_id,
                       const std::optional<std::optional<std::string>>& email) override;
  Result<std::optional<Seen>> Find(const std::string& local) override;
  Result<std::optional<int64_t>> SetDeactivated(const std::string& local, bool deactivated) override;
  Result<std::optional<int64_t>> SetAdmin(const std::string& local, bool is_admin) override;
  Result<std::optional<int64_t>> SetPassword(const std::string& local, const std::string& password_hash) override;
  Result<std::vector<std::shared_ptr<const UserProfile>>> Search(const std::string& query, int limit, int offset,
                                                                 int64_t* total) override;
  Result<UserCounts> Count() override;

  Result<int64_t> InsertSession(int64_t user_row, const std::string& token_hash, const std::string& ip,
                                const std::string& user_agent) override;
  Result<std::optional<SessionRef>> SessionByToken(const std::string& token_hash, int64_t idle_timeout_s) override;
  Result<std::vector<SessionInfo>> Sessions(int64_t user_row) override;
  Result<bool> RevokeSession(int64_t session_id, int64_t user_row) override;
  Status RevokeAllSessions(const std::string& local) override;
  Status Touch(const std::vector<int64_t>& sessions, const std::vector<int64_t>& users) override;
  Result<std::vector<int64_t>> ExpireIdle(const std::vector<int64_t>& open, int64_t idle_timeout_s) override;

  Status InsertTicket(const std::string& ticket_hash, int64_t session_id, int ttl_s) override;
  Result<std::optional<SessionRef>> RedeemTicket(const std::string& ticket_hash, int64_t idle_timeout_s) override;
  Status ForgetExpiredTickets() override;

  Result<int64_t> InsertInvite(const std::string& token, std::optional<int> uses_allowed,
                               std::optional<int64_t> expires_at_ms, std::optional<int64_t> created_by_row) override;
  Result<std::vector<Invite>> Invites() override;
  Result<bool> RevokeInvite(const std::string& token) override;
  Result<std::optional<std::string>> Setting(const std::string& key) override;
  Status PutSetting(const std::string& key, const std::string& value) override;

 private:
  PgPool& db_;
  std::string server_name_;
};

}  // namespace gc
