#include "services/messaging/messaging_service.h"

#include <algorithm>
#include <set>

#include "node/common/address.h"
#include "node/common/completion.h"
#include "node/common/log.h"
#include "node/common/text.h"
#include "services/groups/projections.h"
#include "services/messaging/search_index.h"

namespace gc {

using nlohmann::json;

namespace {

bool IsTxnChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == ':';
}

Status ValidateTxnId(const std::string& t) {
  if (t.empty() || t.size() > 128 || !std::all_of(t.begin(), t.end(), IsTxnChar)) {
    return Error::Invalid("client_txn_id must be 1 to 128 characters of A-Z, a-z, 0-9, '-', '_', '.', ':'");
  }
  return OkStatus();
}

Status ValidateEventId(const std::string& id) {
  if (id.size() < 2 || id.size() > 128 || id[0] != '$') return Error::NotFound("no such message");
  return OkStatus();
}

bool IsJoined(const GroupState& s, const std::string& user) { return s.IsJoined(user); }

// The one event an operation appended, or nothing when it changed nothing.
Result<std::optional<GroupEvent>> AppendedEvent(Result<std::vector<GroupEvent>> r) {
  if (!r.ok()) return r.error();
  if (r->empty()) return std::optional<GroupEvent>();
  return std::optional<GroupEvent>(r->front());
}

}  // namespace

MessagingService::MessagingService(GroupLog& log, MessageStore& store, int64_t max_message_bytes)
    : log_(log), store_(store), max_message_bytes_(max_message_bytes) {}

Status MessagingService::ValidateBody(const std::string& body) const {
  return ValidateMessageBody(body, max_message_bytes_);
}

Result<GroupEvent> MessagingService::Send(const UserProfile& me, int64_t row, const SendRequest& req) {
  return Await<Result<GroupEvent>>([&](SendDone done) { SendAsync(me, row, req, done); });
}

void MessagingService::SendAsync(const UserProfile& me, int64_t row, const SendRequest& req, SendDone done) {
  auto checked = [&]() -> Status {
    GC_TRY(ValidateBody(req.body));
    if (req.body.empty() && !req.media_id) return Error::Invalid("a message needs a body (or a media_id)");
    if (req.media_id && (req.media_id->empty() || req.media_id->size() > 128)) {
      return Error::Invalid("media_id is malformed");
    }
    if (req.reply_to) GC_TRY(ValidateEventId(*req.reply_to));
    if (req.client_txn_id) GC_TRY(ValidateTxnId(*req.client_txn_id));
    return OkStatus();
  }();
  if (!checked.ok()) return done(checked.error());
  // A repeated send answers the first result before anything else. In a
  // group homed here the log's writer checks the key for a whole batch at
  // once (TxnKey); a replica's send is checked here.
  std::optional<TxnKey> txn;
  if (req.client_txn_id && log_.IsHomedHere(row)) {
    txn = TxnKey{me.user_id, *req.client_txn_id};
  } else if (req.client_txn_id) {
    auto prior = store_.FindByTxn(me.user_id, *req.client_txn_id);
    if (!prior.ok()) return done(prior.error());
    if (*prior) {
      if ((*prior)->group_row != row) return done(Error::Conflict("client_txn_id was already used in another group"));
      return done(**prior);
    }
  }
  if (req.media_id && media_check_) {
    Status may = media_check_(me.user_id, *req.media_id);
    if (!may.ok()) return done(may.error());
  }
  std::string user = me.user_id;
  SendRequest r = req;
  log_.SubmitAsync(row, [this, user, r](OpContext& ctx) -> Result<std::vector<Draft>> {
    if (!IsJoined(ctx.group, user)) return Error::Forbidden("you are not a member of this group");
    if (r.reply_to) {
      auto t = store_.Target(ctx, *r.reply_to, ctx.group.row);
      if (!t.ok()) return t.error();
      if (!*t) return Error::Invalid("reply_to must be an event of this group");
    }
    json content = {{"body", r.body}};
    if (r.reply_to) content["reply_to"] = *r.reply_to;
    if (r.media_id) content["media_id"] = *r.media_id;
    std::vector<std::string> mentions = ExtractMentions(r.body);
    if (!mentions.empty()) content["mentions"] = mentions;
    Draft d = EventDraft(user, "message", std::move(content), r.reply_to);
    d.txn_id = r.client_txn_id;
    return std::vector<Draft>{d};
  }, [this, user, txn = req.client_txn_id, done](Result<std::vector<GroupEvent>> result) {
    if (!result.ok()) {
      // Two sends with the same client_txn_id raced (through two processes,
      // or to a replica): the loser finds the winner.
      if (txn && result.error().code == ErrorCode::kConflict) {
        auto prior = store_.FindByTxn(user, *txn);
        if (prior.ok() && *prior) return done(**prior);
      }
      return done(result.error());
    }
    done(std::move(result->front()));
  }, std::move(txn));
}

Result<HistoryPage> MessagingService::History(const UserProfile& me, int64_t row, std::optional<int64_t> before,
                                              std::optional<int64_t> after, int limit) {
  if (before && after) return Error::Invalid("give before or after, not both");
  auto page = HistoryPageOf(row, before, after, limit);
  if (!page.ok() || after || page->has_more || !log_.remote()) return page;
  // A replica of a remote group may start after seq 1: going back past its
  // first entry fetches older entries from the home node, then reads again.
  auto start = store_.LogStartOf(row);
  if (!start.ok() || !*start || (*start)->home == log_.server_name()) return page;
  int64_t base = (*start)->base_seq;
  if (base <= 1 || (!page->events.empty() && page->events.front().seq > base)) return page;
  auto state = log_.Snapshot(row);
  if (!state.ok()) return page;
  Status st = log_.remote()->Backfill(*state, base);
  if (!st.ok()) {
    // The home is away: serve what is held, and say there is more.
    page->has_more = true;
    return page;
  }
  return HistoryPageOf(row, before, after, limit);
}

Result<HistoryPage> MessagingService::HistoryPageOf(int64_t row, std::optional<int64_t> before,
                                                    std::optional<int64_t> after, int limit) {
  return store_.Page(row, before, after, limit);
}

Result<GroupEvent> MessagingService::Edit(const UserProfile& me, int64_t row, const std::string& event_id,
                                          const std::string& body) {
  return Await<Result<GroupEvent>>([&](SendDone done) { EditAsync(me, row, event_id, body, done); });
}

void MessagingService::EditAsync(const UserProfile& me, int64_t row, const std::string& event_id,
                                 const std::string& body, SendDone done) {
  Status valid = ValidateEventId(event_id);
  if (valid.ok()) valid = ValidateBody(body);
  if (valid.ok() && body.empty()) valid = Error::Invalid("body must not be empty; delete the message instead");
  if (!valid.ok()) return done(valid.error());
  std::string user = me.user_id;
  log_.SubmitAsync(row, [=, this](OpContext& ctx) -> Result<std::vector<Draft>> {
    if (!IsJoined(ctx.group, user)) return Error::Forbidden("you are not a member of this group");
    auto t = store_.Target(ctx, event_id, ctx.group.row);
    if (!t.ok()) return t.error();
    if (!*t || (*t)->type != "message" || (*t)->deleted) return Error::NotFound("no such message");
    if ((*t)->sender != user) return Error::Forbidden("only the sender can edit a message");
    Draft d = EventDraft(user, "message.edit", {{"event_id", event_id}, {"body", body}}, event_id);
    return std::vector<Draft>{d};
  }, [done](Result<std::vector<GroupEvent>> r) {
    if (!r.ok()) return done(r.error());
    done(r->front());
  });
}

Result<std::optional<GroupEvent>> MessagingService::Delete(const UserProfile& me, int64_t row,
                                                           const std::string& event_id) {
  return Await<Result<std::optional<GroupEvent>>>([&](ChangeDone done) { DeleteAsync(me, row, event_id, done); });
}

void MessagingService::DeleteAsync(const UserProfile& me, int64_t row, const std::string& event_id,
                                   ChangeDone done) {
  Status valid = ValidateEventId(event_id);
  if (!valid.ok()) return done(valid.error());
  std::string user = me.user_id;
  log_.SubmitAsync(row, [=, this](OpContext& ctx) -> Result<std::vector<Draft>> {
    const Member* m = ctx.group.Find(user);
    if (!m || m->membership != "join") return Error::Forbidden("you are not a member of this group");
    auto t = store_.Target(ctx, event_id, ctx.group.row);
    if (!t.ok()) return t.error();
    if (!*t || (*t)->type != "message") return Error::NotFound("no such message");
    if ((*t)->deleted) return std::vector<Draft>{};  // already gone: nothing to do
    if ((*t)->sender != user && m->role != "owner" && m->role != "admin") {
      return Error::Forbidden("only the sender or a group admin can delete a message");
    }
    Draft d = EventDraft(user, "message.delete", {{"event_id", event_id}}, event_id);
    return std::vector<Draft>{d};
  }, [done](Result<std::vector<GroupEvent>> r) { done(AppendedEvent(std::move(r))); });
}

Result<std::optional<GroupEvent>> MessagingService::React(const UserProfile& me, int64_t row,
                                                          const std::string& event_id, const std::string& key,
                                                          bool add) {
  return Await<Result<std::optional<GroupEvent>>>(
      [&](ChangeDone done) { ReactAsync(me, row, event_id, key, add, done); });
}

void MessagingService::ReactAsync(const UserProfile& me, int64_t row, const std::string& event_id,
                                  const std::string& key, bool add, ChangeDone done) {
  Status valid = ValidateEventId(event_id);
  if (!valid.ok()) return done(valid.error());
  auto len = Utf8Length(key);
  if (key.empty() || !len || *len > 32 || key.size() > 128 || HasControlChars(key, false)) {
    return done(Error::Invalid("key must be 1 to 32 characters of UTF-8 (an emoji or a short word)"));
  }
  std::string user = me.user_id;
  log_.SubmitAsync(row, [=, this](OpContext& ctx) -> Result<std::vector<Draft>> {
    if (!IsJoined(ctx.group, user)) return Error::Forbidden("you are not a member of this group");
    auto t = store_.Target(ctx, event_id, ctx.group.row);
    if (!t.ok()) return t.error();
    if (!*t || (*t)->type != "message" || (*t)->deleted) return Error::NotFound("no such message");
    auto has = store_.HasReaction(ctx, event_id, user, key);
    if (!has.ok()) return has.error();
    bool exists = *has;
    if (exists == add) return std::vector<Draft>{};  // already as asked: one reaction per user per key
    json content = {{"event_id", event_id}, {"key", key}};
    if (!add) content["removed"] = true;
    Draft d = EventDraft(user, "reaction", std::move(content), event_id);
    return std::vector<Draft>{d};
  }, [done](Result<std::vector<GroupEvent>> r) { done(AppendedEvent(std::move(r))); });
}

Status MessagingService::MarkRead(const UserProfile& me, int64_t row, int64_t seq) {
  if (seq < 0) return Error::Invalid("seq must be zero or more");
  auto last = log_.Read(row, [](const GroupState& s) { return s.last_seq; });
  if (!last.ok()) return last.error();
  if (seq > *last) return Error::Invalid("seq is past the end of the group's log (" + std::to_string(*last) + ")");
  GC_TRY(store_.MarkRead(row, me.user_id, seq));
  if (ephemeral_) {
    auto addr = log_.Read(row, [](const GroupState& s) { return s.address; });
    if (addr.ok()) ephemeral_->ReadMarker(me.user_id, *addr, seq);
  }
  return OkStatus();
}

Result<std::vector<GroupEvent>> MessagingService::Mentions(const UserProfile& me, std::optional<int64_t> before_pos,
                                                           int limit) {
  return store_.Mentions(me.user_id, before_pos.value_or(INT64_MAX), limit);
}

Result<std::vector<SearchHit>> MessagingService::Search(const UserProfile& me, const std::string& query, int limit,
                                                        int offset) {
  auto len = Utf8Length(query);
  if (query.empty() || !len || *len > 256) return Error::Invalid("q must be 1 to 256 characters");
  if (search_index_ && !search_index_->WaitIndexed(log_.last_stream_pos(), 2000)) {
    LogWarn("search ran before the index caught up", {{"indexed", search_index_->indexed_pos()}});
  }
  return store_.Search(me.user_id, query, limit, offset);
}

Status MessagingService::Typing(const UserProfile& me, int64_t row, bool typing) {
  auto info = log_.Read(row, [&](const GroupState& s) {
    return std::make_pair(s.IsJoined(me.user_id) ? s.Joined() : nullptr, s.address);
  });
  if (!info.ok()) return info.error();
  if (!info->first) return Error::Forbidden("you are not a member of this group");
  if (ephemeral_) ephemeral_->Typing(info->second, me.user_id, typing, info->first);
  return OkStatus();
}

Result<MessagingService::Stats> MessagingService::MessageStats() { return store_.Stats(NowMs()); }

Result<std::vector<GroupEvent>> MessagingService::EventsSince(const std::string& user,
                                                              const std::vector<int64_t>& groups, int64_t since,
                                                              int64_t upto, int limit) {
  return store_.EventsSince(user, groups, since, upto, limit);
}

}  // namespace gc
