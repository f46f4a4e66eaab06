// NotificationStore: what the notification service keeps, in plain C++
// types: the inbox (notifications, their unread counts, the worker's cursor
// over the group log), the users' levels and do-not-disturb, the pushers
// and the push queue, and the email queue (pending entries, retries, the
// unsubscribe key and switches). PgNotificationStore
// (pg_notification_store.h) keeps them in PostgreSQL (migrations/). The
// rules (notification_service.cpp, push_sender.cpp, email_notifier.cpp,
// pusher_directory.cpp) hold no SQL: they decide, and call one store method
// per step; where a step must be atomic (a range of the log made into
// entries, a failed push recorded, a mail's outcome) it is one method, one
// transaction.
//
// Every call may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database unless a call says otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/common/result.h"

namespace gc {

// One inbox entry.
struct Notification {
  int64_t notification_id = 0;
  std::string user_id;  // recipient
  std::string kind;     // message | mention | reply | invite
  std::string group_id; // "#eng:acme.test"
  std::string event_id;  // a coalesced `message` entry: its latest message
  std::string sender;
  std::string sender_display_name;  // "" when unknown (a remote sender)
  std::string group_title;
  std::string body_preview;  // first 140 characters; "" once withdrawn
  int64_t created_at = 0;    // ms since the epoch
  bool read = false;
  bool withdrawn = false;
  bool pushed = true;  // false: made during do-not-disturb
  // The messages a `message` entry stands for (1 for every other kind): a
  // plain message in a group where the user has an unread `message` entry
  // is added to it (its latest event, sender, preview and created_at)
  // instead of making a new one. notification_id does not change.
  int64_t count = 1;
};

struct NotificationSettings {
  std::string default_level = "all";
  std::optional<int64_t> dnd_until;                        // ms since the epoch
  std::vector<std::pair<std::string, std::string>> groups; // (group_id, level) overrides
};

// A pusher as its user and admins see it.
struct PusherStatus {
  int64_t pusher_id = 0;
  std::string kind;  // webhook | webpush
  std::string url;   // the webhook URL or push endpoint (its origin says which service)
  int64_t created_at = 0;
  std::optional<int64_t> last_success_at;
  std::optional<std::string> last_error;
  int failures = 0;  // consecutive failed attempts
};

struct Pusher : PusherStatus {
  std::string secret;  // only in the answer to Register
};

// A pusher as the admin's directory shows it.
struct PusherRecord : PusherStatus {
  std::string user_id;
  int64_t queued = 0;  // pushes owed to it
};

// Counts over every pusher of one kind.
struct PusherKindStats {
  std::string kind;
  int64_t pushers = 0;
  int64_t failing = 0;  // with failures > 0
  int64_t queued = 0;
};

// A push_queue row that is due, with what sending it needs.
struct DuePush {
  int64_t queue_id = 0, pusher_id = 0;
  int attempts = 0;
  std::string url, secret;
  std::string kind, p256dh, auth;
  Notification entry;
};

// An email_pending row of a user, with its entry.
struct PendingMailItem {
  int64_t notification_id = 0;
  std::string kind, group_id, event_id, sender, sender_display_name, group_title, body_preview;
  bool still_wanted = false;  // unread (inbox and read marker), not withdrawn, email not switched off since
};

class NotificationStore {
 public:
  virtual ~NotificationStore() = default;

  // --- The worker and the inbox (pg_notification_store.cpp) ---

  // Where the worker's cursor is (the last stream_pos made into entries).
  virtual Result<int64_t> Cursor() = 0;

  // What making one range of the log came to.
  struct RangeMade {
    std::vector<Notification> announced;   // withdrawals, then new entries of every kind but `message`
    std::map<std::string, int64_t> unread;  // each announced entry's user's unread count after it
    int64_t made = 0;       // new entries
    int64_t merged = 0;     // plain messages added to an entry instead of making one
    int64_t withdrawn = 0;  // entries withdrawn
    int64_t changed = 0;    // coalesced entries left with one message fewer by a delete
    int64_t cursor = 0;  // where the cursor is after it: hi, or where another process moved it
  };
  // In one transaction: moves the cursor from `lo` to `hi` (if it is not at
  // `lo`, another process made the range: nothing is made, and `cursor`
  // says where it is), withdraws the entries of messages deleted in
  // (lo, hi] (or takes the deleted message out of a coalesced entry), makes
  // the entries of its events under every rule of notification_service.h
  // (`node_name` tells local users from remote ones; plain messages are
  // added to the user's unread `message` entry of the group if there is
  // one), queues their pushes (a coalesced entry is pushed again at every
  // change) and adds new entries to the unread counts. `now`: the entries'
  // created_at (ms).
  virtual Result<RangeMade> MakeRange(int64_t lo, int64_t hi, const std::string& node_name, int64_t now) = 0;

  virtual Result<int64_t> Unread(const std::string& user) = 0;
  // The user's entries with notification_id < before, newest first, at
  // most `limit`; only unread ones with `unread_only`.
  virtual Result<std::vector<Notification>> Inbox(const std::string& user, int64_t before, int limit,
                                                  bool unread_only) = 0;
  // Marks the user's entries with notification_id <= up_to (MarkRead), or
  // of the group (its address) with seq <= seq (MarkGroupRead), read at
  // `now`. Returns (unread count after it, entries changed).
  virtual Result<std::pair<int64_t, int64_t>> MarkRead(const std::string& user, int64_t up_to, int64_t now) = 0;
  virtual Result<std::pair<int64_t, int64_t>> MarkGroupRead(const std::string& user, const std::string& group_id,
                                                            int64_t seq, int64_t now) = 0;

  // The user's settings (defaults when none are stored) and group levels.
  virtual Result<NotificationSettings> Settings(const std::string& user) = 0;
  // Sets the default level if given; sets dnd_until to `dnd` if `set_dnd`.
  virtual Status UpdateSettings(const std::string& user, const std::optional<std::string>& default_level,
                                std::optional<int64_t> dnd, bool set_dnd) = 0;
  // The level of group row `row` for the user, or nullopt; sets it, or
  // removes it (nullopt).
  virtual Result<std::optional<std::string>> GroupLevel(const std::string& user, int64_t row) = 0;
  virtual Status SetGroupLevel(const std::string& user, int64_t row, const std::optional<std::string>& level) = 0;

  // --- Pushers and the push queue (pg_notification_store_push.cpp) ---

  // Registers (or, for the same user and URL, updates: new secret and keys)
  // a pusher. A webpush endpoint is first taken from any other user. The
  // user's count is checked in the same transaction: kConflict
  // (too_many_pushers) if they have `max_per_user` and this URL is not one.
  virtual Result<Pusher> AddPusher(const std::string& user, const std::string& kind, const std::string& url,
                                   const std::string& secret, const std::optional<std::string>& p256dh,
                                   const std::optional<std::string>& auth, int64_t now, int max_per_user) = 0;
  virtual Result<std::vector<Pusher>> Pushers(const std::string& user) = 0;
  // False if the user has no such pusher.
  virtual Result<bool> RemovePusher(const std::string& user, int64_t pusher_id) = 0;

  // What is owed in the push queue.
  struct QueueState {
    int64_t next_due = 0;  // the earliest next_at; 0: the queue is empty
    int64_t webhook = 0, webpush = 0;  // rows owed to each kind
  };
  // The oldest due row (next_at <= now) of each pusher not in `skip`,
  // oldest first, at most `limit`; and the queue's state.
  virtual Result<std::pair<std::vector<DuePush>, QueueState>> DuePushes(int64_t now, int limit,
                                                                         const std::set<int64_t>& skip) = 0;
  // A delivery: the row deleted, the pusher's success recorded (failures 0).
  virtual Status PushDelivered(int64_t queue_id, int64_t pusher_id, int64_t now) = 0;
  // The endpoint is gone: the pusher (and its queue) removed.
  virtual Status PusherGone(int64_t pusher_id) = 0;
  // A failed attempt, in one transaction: the row is tried again at
  // `retry_at`, or deleted (nullopt); the pusher's error and failures recorded.
  virtual Status PushFailed(int64_t queue_id, int64_t pusher_id, std::optional<int64_t> retry_at,
                            const std::string& error) = 0;

  // The admin's directory: pushers of `user` (all if empty) by id, after
  // `offset`, at most `limit`, and the count of all that match.
  virtual Result<std::pair<std::vector<PusherRecord>, int64_t>> AllPushers(const std::string& user, int limit,
                                                                           int offset) = 0;
  virtual Result<std::vector<PusherKindStats>> PusherStats() = 0;
  // Removes any user's pusher; returns it, or nullopt if there is none.
  virtual Result<std::optional<PusherRecord>> RemoveAnyPusher(int64_t pusher_id) = 0;

  // --- Email (pg_notification_store_email.cpp) ---

  // The node's unsubscribe key: `fresh` is stored if none is yet.
  virtual Result<std::string> EmailKey(const std::string& fresh) = 0;
  // Looks at the next (at most 1,000) entries after the email cursor and
  // queues those that may be mailed (see email_notifier.h), due at
  // created_at + delay_ms, if made at or after `oldest`; moves the cursor
  // past them. Returns how many entries it looked at.
  virtual Result<int64_t> CollectEmail(int64_t delay_ms, int64_t oldest) = 0;
  // Up to `limit` users whose oldest pending row is due at `now` and who
  // are not backing off, oldest first; the earliest time one is (0:
  // nothing pending) and the rows pending.
  struct MailQueue {
    std::vector<std::string> due_users;
    int64_t next_due = 0;
    int64_t pending = 0;
  };
  virtual Result<MailQueue> EmailQueue(int64_t now, int limit) = 0;
  virtual Result<int64_t> CountPendingEmail() = 0;
  // The user's mail state (its subscription row made if missing): the
  // profile address (nullopt: none, or deactivated), switch, epoch and the
  // failed attempts so far; and up to `limit` of their pending rows.
  struct Recipient {
    std::optional<std::string> email;
    bool enabled = true;
    int64_t epoch = 0;
    int attempts = 0;
    std::vector<PendingMailItem> items;
  };
  virtual Result<Recipient> MailFor(const std::string& user, int limit) = 0;
  // A mail's outcome, in one transaction: with `retry_at` the user backs off
  // until then (attempts + 1, `error`); otherwise rows `ids` are deleted and
  // the user's backoff cleared.
  virtual Status MailDone(const std::string& user, const std::vector<int64_t>& ids, std::optional<int64_t> retry_at,
                          const std::string& error) = 0;
  // Turns the user's email off if its epoch is still `epoch` and it is on
  // (and moves the epoch). False otherwise.
  virtual Result<bool> Unsubscribe(const std::string& user, int64_t epoch, int64_t now) = 0;
  virtual Status SetEmailEnabled(const std::string& user, bool enabled, int64_t now) = 0;
  // (profile address, switch) of a local user; nullopt if no such user.
  virtual Result<std::optional<std::pair<std::optional<std::string>, bool>>> EmailPrefs(const std::string& user) = 0;
};

}  // namespace gc
