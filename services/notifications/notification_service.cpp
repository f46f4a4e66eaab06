#include "services/notifications/notification_service.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "node/common/log.h"
#include "node/db/singleton_lock.h"

namespace gc {

namespace {

constexpr int64_t kMaxRange = 1000;  // positions per transaction
// Commits arriving together are made in one round; short, since a
// notification is something a person waits for.
constexpr auto kGather = std::chrono::milliseconds(20);

}  // namespace

bool IsNotificationLevel(const std::string& level) {
  return level == "all" || level == "mentions" || level == "none";
}

NotificationService::NotificationService(GroupLog& log, NotificationStore& store, std::string node_name)
    : log_(log), store_(store), node_name_(std::move(node_name)) {}

NotificationService::~NotificationService() { Stop(); }

Status NotificationService::Start() {
  auto cursor = store_.Cursor();
  if (!cursor.ok()) return cursor.error();
  processed_ = *cursor;
  if (log_.last_stream_pos() > processed_.load()) pending_since_ms_ = NowMs();
  // The first round makes whatever the log committed after the cursor (a
  // crash's leftovers).
  loop_.Start("gc-notify", [this] { return Round(); }, kGather);
  return OkStatus();
}

void NotificationService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  processed_cv_.notify_all();
  loop_.Stop();
}

void NotificationService::EndBatch() {
  int64_t expected = 0;
  pending_since_ms_.compare_exchange_strong(expected, NowMs());
  loop_.Wake();
}

int64_t NotificationService::backlog() const {
  return std::max<int64_t>(0, log_.last_stream_pos() - processed_.load());
}

double NotificationService::lag_seconds() const {
  int64_t since = pending_since_ms_.load();
  if (since == 0 || backlog() == 0) return 0;
  return std::max<int64_t>(0, NowMs() - since) / 1000.0;
}

bool NotificationService::WaitProcessed(int64_t pos, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return processed_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                [&] { return stopping_ || processed_.load() >= pos; }) &&
         processed_.load() >= pos;
}

std::optional<std::chrono::milliseconds> NotificationService::Round() {
  constexpr auto kUntilWoken = std::nullopt;
  // Another process of this node makes the notifications; this one is
  // woken (EndBatch) when it takes over.
  if (singleton_ && !singleton_->held()) return kUntilWoken;
  int64_t target = log_.last_stream_pos();
  if (singleton_ && singleton_->generation() != singleton_seen_) {
    // Just took over: the process that had the work moved the cursor.
    auto cur = store_.Cursor();
    if (!cur.ok()) {
      loop_.Pause(std::chrono::seconds(1));
      return std::chrono::milliseconds(0);
    }
    singleton_seen_ = singleton_->generation();
    processed_ = *cur;
  }
  while (processed_.load() < target) {
    int64_t lo = processed_.load(), hi = std::min(target, lo + kMaxRange);
    auto range = store_.MakeRange(lo, hi, node_name_, NowMs());
    if (!range.ok()) {
      // The database is away or overloaded: the range stays unprocessed
      // (nothing was committed) and is tried again, a little later each time.
      ++failures;
      LogWarn("notifications: could not process events", {{"after", lo}, {"error", range.error().message}});
      backoff_ = std::min(backoff_ + 1, 6);
      loop_.Pause(std::chrono::milliseconds(100 << backoff_));
      return std::chrono::milliseconds(0);
    }
    backoff_ = 0;
    made += range->made;
    merged += range->merged;
    withdrawn += range->withdrawn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      processed_ = range->cursor;
    }
    processed_cv_.notify_all();
    bool pushes_owed = range->made + range->merged + range->withdrawn + range->changed > 0;
    if (listener_ && pushes_owed) listener_->Made(range->announced, range->unread);
  }
  if (processed_.load() >= log_.last_stream_pos()) {
    pending_since_ms_ = 0;
    // A batch committed between the read above and the reset wakes the
    // loop again and is measured from its own wake-up.
  }
  return kUntilWoken;
}

Result<InboxPage> NotificationService::Inbox(const std::string& user, std::optional<int64_t> before, int limit,
                                            bool unread_only) {
  InboxPage page;
  auto rows = store_.Inbox(user, before.value_or(INT64_MAX), limit + 1, unread_only);
  if (!rows.ok()) return rows.error();
  page.has_more = static_cast<int>(rows->size()) > limit;
  if (page.has_more) rows->resize(limit);
  page.notifications = std::move(*rows);
  auto unread = store_.Unread(user);
  if (!unread.ok()) return unread.error();
  page.unread = *unread;
  return page;
}

Result<int64_t> NotificationService::MarkRead(const std::string& user, int64_t up_to) {
  auto r = store_.MarkRead(user, up_to, NowMs());
  if (!r.ok()) return r.error();
  int64_t unread = r->first;
  // Every device clears its badge, even when nothing changed here: the one
  // that asked may have shown a stale count.
  if (listener_) listener_->Read(user, unread);
  return unread;
}

Result<int64_t> NotificationService::MarkGroupRead(const std::string& user, const std::string& group_id,
                                                   int64_t seq) {
  auto r = store_.MarkGroupRead(user, group_id, seq, NowMs());
  if (!r.ok()) return r.error();
  int64_t unread = r->first;
  if (r->second > 0 && listener_) listener_->Read(user, unread);
  return unread;
}

Result<NotificationSettings> NotificationService::Settings(const std::string& user) { return store_.Settings(user); }

Status NotificationService::UpdateSettings(const std::string& user, std::optional<std::string> default_level,
                                           std::optional<std::optional<int64_t>> dnd_until) {
  if (default_level && !IsNotificationLevel(*default_level)) {
    return Error::Invalid("default_level must be one of all, mentions, none");
  }
  if (dnd_until && *dnd_until && **dnd_until < 0) return Error::Invalid("dnd_until must be ms since the epoch");
  std::optional<int64_t> dnd;
  if (dnd_until && *dnd_until) dnd = **dnd_until;
  return store_.UpdateSettings(user, default_level, dnd, dnd_until.has_value());
}

Result<std::optional<std::string>> NotificationService::GroupLevel(const std::string& user, int64_t row) {
  return store_.GroupLevel(user, row);
}

Status NotificationService::SetGroupLevel(const std::string& user, int64_t row, std::optional<std::string> level) {
  if (level && !IsNotificationLevel(*level)) return Error::Invalid("level must be one of all, mentions, none, default");
  return store_.SetGroupLevel(user, row, level);
}

void NotificationService::Typing(const std::string& group_id, const std::string& user, bool typing,
                                 std::shared_ptr<const std::vector<std::string>> recipients) {
  if (next_) next_->Typing(group_id, user, typing, std::move(recipients));
}

void NotificationService::ReadMarker(const std::string& user, const std::string& group_id, int64_t seq) {
  if (next_) next_->ReadMarker(user, group_id, seq);
  // The marker is already stored; a failure here leaves entries unread that
  // the user can still clear through the inbox.
  auto r = MarkGroupRead(user, group_id, seq);
  if (!r.ok()) LogWarn("notifications: could not follow a read marker", {{"error", r.error().message}});
}

}  // namespace gc
