// EmailNotifier: mail for mentions and replies nobody read.
//
// With notifications.email.smtp_url set, a `mention` or `reply` entry that
// is still unread (and not withdrawn, and not made during do-not-disturb)
// `delay_s` after it was made is mailed to its user's profile `email`, once.
// Mails are batched per user: when a user's oldest pending entry is due,
// everything of theirs still unread goes into one mail (at most 50; the
// rest follow in the next), the way Zulip batches missed-message mail.
//
// Durable, in two steps, each one transaction (migrations/0004_email.sql):
//   collect: entries after `email_cursor` (the inbox's ids) that may be
//     mailed become email_pending rows (due = made + delay) and the cursor
//     moves past them, so an entry made before a crash is still mailed;
//   send: for a user whose oldest pending row is due (and who is not
//     backing off), the rows still unread are mailed; after the SMTP server
//     accepted the message the user's pending rows are deleted. A crash
//     between the server's 250 and that delete sends the mail again (at
//     least once; Message-ID stays the same so clients can drop it); in
//     the normal case it is sent once.
// Reading before the mail is due cancels it: the send step mails only
// entries still unread in the inbox (POST /me/notifications/read) and not
// covered by the user's read marker of the group (also a marker set before
// the entry was made). SMTP failures (no connection, 4xx) are retried per
// user after min(2^attempts s, 5 min) with jitter, up to 8 attempts; a 5xx
// refusal of the recipient drops the mail. Entries older than a day past
// their due time when collected (email newly configured, a long outage) are
// not mailed.
//
// Unsubscribe without a login: every mail carries
//   PUBLIC_URL/api/v1/email/unsubscribe?token=TOKEN
//   TOKEN = b64url(user_id) "." epoch "." b64url(HMAC-SHA256(key, "unsubscribe" 0 user_id 0 epoch))
// where the key is 32 random bytes made once per node (email_key) and
// `epoch` counts the user's email on/off changes. POSTing it (the page at
// the GET, or a mail client's RFC 8058 one-click POST) turns email off and
// moves the epoch, so a forged token fails the HMAC and a used or older one
// no longer matches the epoch (both 4xx). Users turn it back on with
// PUT /api/v1/me/email-notifications; what was sent while it was off is not
// mailed then.
//
// The collect and send steps run only in the process holding the
// notification singleton lock (node/db/singleton_lock.h).
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "node/common/result.h"
#include "node/common/wakeable_loop.h"

namespace gc {

class NotificationStore;
class SingletonLock;
class WorkerPool;

struct EmailOptions {
  std::string smtp_url;  // empty: email is off (Start does nothing but the key)
  std::string from;
  int delay_s = 300;
  std::string public_url;  // base of links, no trailing slash
  std::string node_name;
  int concurrency = 2;  // mails in flight at once
  int timeout_s = 30;   // one SMTP exchange
};

struct EmailPrefs {
  bool configured = false;  // the node sends email at all
  bool enabled = true;      // this user's switch
  std::optional<std::string> email;
  int delay_s = 0;
};

class EmailNotifier {
 public:
  EmailNotifier(NotificationStore& store, EmailOptions options);
  ~EmailNotifier();  // Stop()

  // Loads (or makes) the unsubscribe key; starts the sender if configured.
  Status Start();
  void Stop();
  // New entries may exist (called after the notification worker made some).
  void Wake();
  // Work only while `lock` is held (nullptr: always). Before Start.
  void set_singleton(const SingletonLock* lock) { singleton_ = lock; }

  bool configured() const { return !options_.smtp_url.empty(); }
  const EmailOptions& options() const { return options_; }

  // The unsubscribe link of a user at their current epoch.
  std::string UnsubscribeUrl(const std::string& user, int64_t epoch) const;
  // The user a token names, if its HMAC is right (whatever its epoch).
  // kInvalid (reason invalid_token) otherwise.
  Result<std::string> CheckToken(const std::string& token) const;
  // Turns the token's user's email off. kInvalid (invalid_token) for a
  // forged token, kConflict (token_used) for one already used or outdated.
  // Returns the user.
  Result<std::string> Unsubscribe(const std::string& token);

  Result<EmailPrefs> Prefs(const std::string& user);
  Status SetEnabled(const std::string& user, bool enabled);

  // Metrics (this process).
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> failed{0};   // attempts that did not deliver
  std::atomic<uint64_t> dropped{0};  // mails given up (refused, or too many attempts)
  std::atomic<uint64_t> retried{0};  // failed attempts that will be tried again
  int64_t pending() const { return pending_.load(); }  // entries waiting, as of the last look
  // Entries waiting, from the database (whichever process mails them).
  Result<int64_t> CountPending();

 private:
  // One round of the mail loop (loop_): collects, hands due users to free
  // slots; returns how long to wait for a Wake() at most.
  std::optional<std::chrono::milliseconds> Round();
  Status Collect(int64_t now);
  void Send(const std::string& user);
  std::string Token(const std::string& user, int64_t epoch) const;

  NotificationStore& store_;
  EmailOptions options_;
  const SingletonLock* singleton_ = nullptr;
  std::string key_;  // HMAC key of unsubscribe tokens; set by Start
  std::unique_ptr<WorkerPool> pool_;
  std::atomic<int64_t> pending_{0};
  std::mutex mu_;
  std::set<std::string> in_flight_;  // GUARDED_BY(mu_): users being mailed
  WakeableLoop loop_;  // last: stopped (joined) first
};

}  // namespace gc
