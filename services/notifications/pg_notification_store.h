// PgNotificationStore: the NotificationStore in PostgreSQL (tables of
// migrations/: notifications, notification_unread, notification_cursor,
// notification_settings, notification_group_levels, pushers, push_queue,
// email_*). SQL as named statements, prepared once per connection, in
// three files by concern: the worker and the inbox
// (pg_notification_store.cpp), pushers and the push queue
// (pg_notification_store_push.cpp), email (pg_notification_store_email.cpp).
#pragma once

#include "services/notifications/notification_store.h"

namespace gc {

class PgPool;
class PgResult;

class PgNotificationStore : public NotificationStore {
 public:
  explicit PgNotificationStore(PgPool& db) : db_(db) {}

  Result<int64_t> Cursor() override;
  Result<RangeMade> MakeRange(int64_t lo, int64_t hi, const std::string& node_name, int64_t now) override;
  Result<int64_t> Unread(const std::string& user) override;
  Result<std::vector<Notification>> Inbox(const std::string& user, int64_t before, int limit,
                                          bool unread_only) override;
  Result<std::pair<int64_t, int64_t>> MarkRead(const std::string& user, int64_t up_to, int64_t now) override;
  Result<std::pair<int64_t, int64_t>> MarkGroupRead(const std::string& user, const std::string& group_id, int64_t seq,
                                                    int64_t now) override;
  Result<NotificationSettings> Settings(const std::string& user) override;
  Status UpdateSettings(const std::string& user, const std::optional<std::string>& default_level,
                        std::optional<int64_t> dnd, bool set_dnd) override;
  Result<std::optional<std::string>> GroupLevel(const std::string& user, int64_t row) override;
  Status SetGroupLevel(const std::string& user, int64_t row, const std::optional<std::string>& level) override;

  Result<Pusher> AddPusher(const std::string& user, const std::string& kind, const std::string& url,
                           const std::string& secret, const std::optional<std::string>& p256dh,
                           const std::optional<std::string>& auth, int64_t now, int max_per_user) override;
  Result<std::vector<Pusher>> Pushers(const std::string& user) override;
  Result<bool> RemovePusher(const std::string& user, int64_t pusher_id) override;
  Result<std::pair<std::vector<DuePush>, QueueState>> DuePushes(int64_t now, int limit,
                                                                 const std::set<int64_t>& skip) override;
  Status PushDelivered(int64_t queue_id, int64_t pusher_id, int64_t now) override;
  Status PusherGone(int64_t pusher_id) override;
  Status PushFailed(int64_t queue_id, int64_t pusher_id, std::optional<int64_t> retry_at,
                    const std::string& error) override;
  Result<std::pair<std::vector<PusherRecord>, int64_t>> AllPushers(const std::string& user, int limit,
                                                                   int offset) override;
  Result<std::vector<PusherKindStats>> PusherStats() override;
  Result<std::optional<PusherRecord>> RemoveAnyPusher(int64_t pusher_id) override;

  Result<std::string> EmailKey(const std::string& fresh) override;
  Result<int64_t> CollectEmail(int64_t delay_ms, int64_t oldest) override;
  Result<MailQueue> EmailQueue(int64_t now, int limit) override;
  Result<int64_t> CountPendingEmail() override;
  Result<Recipient> MailFor(const std::string& user, int limit) override;
  Status MailDone(const std::string& user, const std::vector<int64_t>& ids, std::optional<int64_t> retry_at,
                  const std::string& error) override;
  Result<bool> Unsubscribe(const std::string& user, int64_t epoch, int64_t now) override;
  Status SetEmailEnabled(const std::string& user, bool enabled, int64_t now) override;
  Result<std::optional<std::pair<std::optional<std::string>, bool>>> EmailPrefs(const std::string& user) override;

 private:
  // The entry in row `row` of `r`, read from column `col` on: the columns
  // of an entry as pg_notification_store.cpp's GC_NOTIFICATION_COLUMNS
  // lists them (the inbox, the worker, the push queue read them alike).
  static Notification EntryFromRow(const PgResult& r, int row, int col = 0);

  PgPool& db_;
};

}  // namespace gc
