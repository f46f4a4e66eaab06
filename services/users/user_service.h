// UserService: local accounts, passwords, sessions (access tokens), profiles,
// registration modes and invites, deactivation.
//
// Rules (CONTRACT.md): usernames are [a-z0-9._-]{1,64} (input is lowercased
// first), passwords 8..1024 characters of valid UTF-8, display names up to
// 256 characters of UTF-8 without control characters. Passwords are hashed
// with argon2id (libsodium, INTERACTIVE limits); at most
// PasswordHashing::threads hashes run at once (each takes memory_mib, 64 MiB
// by default). Logins and
// registrations from clients run on a pool of their own with a bounded queue
// (LoginAsync, RegisterAsync), so that a burst of them holds no thread of the
// node's worker pool and cannot starve message traffic: past the bound they
// are refused at once (kUnavailable: 503 with Retry-After). Access tokens are 256-bit random values, shown once and
// stored only as a BLAKE2b hash.
//
// Token lookups are cached in memory: the cache is updated in the same call
// that revokes a session or deactivates a user, so a revoked token fails on
// the very next request. (Several processes sharing one database do not see
// each other's revocations until their cache entry expires: see
// kTokenCacheTtl; the multi-process setup is future work.)
//
// Thread-safety: every method is thread-safe. Every method may block on the
// database except CachedPrincipal.
#pragma once

#include <atomic>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <semaphore>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/common/principal.h"
#include "node/common/result.h"
#include "node/common/worker_pool.h"
#include "node/http/gateway.h"
#include "services/users/user_store.h"

namespace gc {


struct LoginResult {
  std::shared_ptr<const UserProfile> user;
  int64_t session_id = 0;
  std::string access_token;  // shown once; only its hash is stored
};

struct ClientInfo {
  std::string ip;
  std::string user_agent;
};

// The password-hashing pool (config sessions.password_hash_threads and
// sessions.password_hash_queue).
struct PasswordHashing {
  int threads = 2;  // hashes at once, each 64 MiB; 1..64
  int queue = 64;   // logins/registrations waiting for a thread before refusals
  int nice = 10;    // the threads run this many nice steps below the node, 0..19
  int memory_mib = 64;  // argon2id memory per hash (libsodium's interactive cost is 64)
};

class UserService : public Authenticator {
 public:
  // `idle_timeout_s` > 0: a session unused for that long ends (0: never).
  // Accounts and sessions are kept in `store`, which outlives the service.
  UserService(UserStore& store, std::string server_name, std::string default_registration_mode,
              int64_t idle_timeout_s = 0, PasswordHashing hashing = {});
  ~UserService() override;

  // --- registration and login
  // kForbidden when registration is closed, or invite-only and the token is
  // missing/invalid/used up/expired ("invite_required"/"invite_invalid");
  // kInvalid for a bad username/password/display name (message says which
  // rule); kConflict ("username_taken") when the name exists.
  Result<LoginResult> Register(std::string_view username, std::string_view password,
                               std::optional<std::string> display_name, std::optional<std::string> invite_token,
                               const ClientInfo& client);
  // kUnauthorized with the same message and about the same time whether the
  // user is unknown, the password wrong or the account deactivated.
  Result<LoginResult> Login(std::string_view username, std::string_view password, const ClientInfo& client);
  // Login and Register on the password pool: `done` runs once, on a hashing
  // thread with the result, or at once on the caller's thread with
  // kUnavailable when PasswordHashing::queue requests already wait.
  using LoginDone = std::function<void(Result<LoginResult>)>;
  void LoginAsync(std::string username, std::string password, ClientInfo client, LoginDone done);
  void RegisterAsync(std::string username, std::string password, std::optional<std::string> display_name,
                     std::optional<std::string> invite_token, ClientInfo client, LoginDone done);
  Status Logout(const Principal& p);

  // --- Authenticator
  std::optional<Principal> CachedPrincipal(std::string_view token) override;
  Result<Principal> Authenticate(std::string_view token) override;
  Result<Principal> RedeemStreamTicket(std::string_view ticket) override;

  // --- stream tickets: a browser cannot send an Authorization header with a
  // WebSocket, and a token in the URL ends up in proxy logs and history. A
  // ticket is a one-time credential for one stream connection, valid for
  // kStreamTicketTtlS, issued to an authenticated session; only its hash is
  // stored (in PostgreSQL, so any process of the node can redeem it).
  static constexpr int kStreamTicketTtlS = 30;
  Result<std::string> IssueStreamTicket(const Principal& p);

  // Ends every session unused for longer than the idle timeout (their
  // streams close with 4002) and forgets expired stream tickets. Called by
  // the node's housekeeping; does the work at most once a minute. Returns
  // how many sessions ended.
  Result<int> ExpireIdleSessions();

  // --- profile and sessions
  // Changes what is given; a nullopt inside avatar_media_id or email clears
  // it. kInvalid for a bad display name, avatar or email (ValidateEmail).
  Result<std::shared_ptr<const UserProfile>> UpdateProfile(const Principal& p, std::optional<std::string> display_name,
                                                           std::optional<std::optional<std::string>> avatar_media_id,
                                                           std::optional<std::optional<std::string>> email = std::nullopt);
  Result<std::vector<SessionInfo>> ListSessions(const Principal& p);
  // kNotFound when the session is not one of the caller's active sessions.
  Status RevokeSession(const Principal& p, int64_t session_id);
  // Local users by address or by local part; kNotFound otherwise.
  Result<std::shared_ptr<const UserProfile>> GetUser(std::string_view user_id);

  // --- administration
  Result<std::shared_ptr<const UserProfile>> CreateUser(std::string_view username, std::string_view password,
                                                        bool is_admin, std::optional<std::string> display_name);
  // Ends every session of the user at once. kNotFound for unknown users.
  Status SetDeactivated(std::string_view user_id, bool deactivated);
  Status SetAdmin(std::string_view user_id, bool is_admin);
  Result<std::vector<std::shared_ptr<const UserProfile>>> Search(std::string_view query, int limit, int offset,
                                                                 int64_t* total);
  Result<Invite> CreateInvite(std::optional<int> uses_allowed, std::optional<int64_t> expires_at_ms,
                              std::optional<int64_t> created_by_user);
  Result<std::vector<Invite>> ListInvites();
  Status RevokeInvite(std::string_view token);

  // Sets a new password and ends every session of the user (their streams
  // close). kNotFound for unknown users, kInvalid for a bad password.
  Status ResetPassword(std::string_view user_id, std::string_view password);
  // Ends every session of the user at once.
  Status RevokeAllSessions(std::string_view user_id);
  Result<std::vector<SessionInfo>> SessionsOf(std::string_view user_id);
  // Last time the user was seen (ms since the epoch), if ever.
  Result<std::optional<int64_t>> LastSeen(std::string_view user_id);

  using Stats = UserCounts;
  Result<Stats> CountUsers();

  // open | invite | closed: the admin's runtime choice, else the config's.
  Result<std::string> RegistrationMode();
  Status SetRegistrationMode(std::string_view mode);

  // Writes last-used times collected from cached requests (called every few
  // seconds by the node, and at shutdown).
  void FlushActivity();

  const std::string& server_name() const { return server_name_; }

  // Told when sessions end, so open streams can be closed at once:
  // (session_id, "") for one session, (0, user_id) for all of a user's.
  using RevocationListener = std::function<void(int64_t session_id, const std::string& user_id)>;
  void set_revocation_listener(RevocationListener l) { on_revoked_ = std::move(l); }
  // Sessions in use without requests (open streams): the idle sweep counts
  // them as used. Set once before serving.
  void set_open_sessions(std::function<std::vector<int64_t>()> f) { open_sessions_ = std::move(f); }
  // Whether a user may set a media_id as their avatar (the media service:
  // an image they uploaded); its error refuses PATCH /me.
  void set_avatar_check(std::function<Status(const std::string& user, const std::string& media_id)> f) {
    avatar_check_ = std::move(f);
  }

 private:
  struct CacheEntry {
    CacheEntry(int64_t s, int64_t u, int64_t e, int64_t now)
        : session_id(s), user_row_id(u), expires_at_s(e), last_used_s(now) {}
    CacheEntry(const CacheEntry& o)
        : session_id(o.session_id), user_row_id(o.user_row_id), expires_at_s(o.expires_at_s),
          last_used_s(o.last_used_s.load()) {}
    CacheEntry& operator=(const CacheEntry& o) {
      session_id = o.session_id;
      user_row_id = o.user_row_id;
      expires_at_s = o.expires_at_s;
      last_used_s = o.last_used_s.load();
      return *this;
    }
    int64_t session_id;
    int64_t user_row_id;
    int64_t expires_at_s;                       // monotonic seconds
    mutable std::atomic<int64_t> last_used_s;   // monotonic seconds
    mutable std::atomic<bool> touched{false};   // used since the last FlushActivity
  };
  Result<std::shared_ptr<const UserProfile>> LoadUserByRowId(int64_t id);
  std::shared_ptr<const UserProfile> CachedUser(int64_t id);
  void PutUser(std::shared_ptr<const UserProfile> u);
  void ForgetUserSessions(int64_t user_row_id);
  Result<LoginResult> StartSession(std::shared_ptr<const UserProfile> user, const ClientInfo& client);
  std::string HashPassword(std::string_view password);
  bool VerifyPassword(const std::string& hash, std::string_view password);
  // Resolves "@alice:server" or "alice" to a local part; kNotFound otherwise.
  Result<std::string> LocalPartOf(std::string_view user_id);

  // The principal of an active session found in the database (caches the user).
  Result<Principal> PrincipalOf(int64_t session_id, int64_t user_row);

  UserStore& store_;
  int64_t idle_timeout_s_;
  std::atomic<int64_t> next_idle_sweep_s_{0};
  RevocationListener on_revoked_;
  std::function<std::vector<int64_t>()> open_sessions_;
  std::function<Status(const std::string&, const std::string&)> avatar_check_;
  std::string server_name_;
  std::string default_mode_;
  std::string dummy_hash_;  // verified against for unknown users (equal timing)
  std::counting_semaphore<64> hashing_;  // hashes at once (PasswordHashing::threads)
  size_t hash_queue_;
  size_t hash_memory_;  // bytes per argon2id hash (PasswordHashing::memory_mib)
  WorkerPool hash_pool_;  // LoginAsync, RegisterAsync

  std::shared_mutex cache_mu_;
  std::unordered_map<std::string, CacheEntry> tokens_;                       // GUARDED_BY(cache_mu_), key: token hash
  std::unordered_map<int64_t, std::shared_ptr<const UserProfile>> users_;    // GUARDED_BY(cache_mu_)
  uint64_t generation_ = 0;  // GUARDED_BY(cache_mu_): bumped by every revocation
};

// Validation shared with other services and tests.
// Lowercases ASCII and checks [a-z0-9._-]{1,64}.
Result<std::string> NormalizeUsername(std::string_view username);
// The local username a login name denotes on `server_name`: "alice",
// "ALICE" and "@Alice:ACME.test" all denote "alice". Login uses it, and so
// does the per-username login limit, so that every spelling of one account
// shares one bucket. kInvalid when it names no possible local user.
Result<std::string> LoginUsername(std::string_view name, std::string_view server_name);
Status ValidatePassword(std::string_view password);
Status ValidateDisplayName(std::string_view name);
// A plain ASCII addr-spec (dot-atom local part, DNS domain with a dot), so
// that it can go into a mail header as it is.
Status ValidateEmail(std::string_view email);
// SHA-like hash used for token storage (BLAKE2b-256), as raw bytes.
std::string HashToken(std::string_view token);

}  // namespace gc
