// The group log's writer: one thread that takes queued operations in
// batches and makes each batch durable in one transaction (group commit).
//
// Why one writer: per-group `seq` and node-wide `stream_pos` must be handed
// out in commit order, with no gaps a reader could see, and every operation
// must be checked against the state left by the ones before it. A single
// thread that owns the next positions and works on copies of the touched
// groups gives both without locks on the hot path; batching gives back the
// throughput (one round trip to PostgreSQL per batch: the writes are
// pipelined, and a large batch of replica entries goes in with COPY). Only
// after the commit are the new states shown to readers, the callers
// answered, and then the events published to the sinks (stream, search,
// federation), in stream_pos order: a sender's 201 does not wait for the
// fan-out to its group's streams.
// A failed batch is retried one operation at a time (RunBatch).
#include "services/groups/group_log.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

#include "node/common/address.h"
#include "node/common/log.h"
#include "node/db/pg.h"
#include "node/db/pg_array.h"
#include "services/groups/group_log_sql.h"

namespace gc {

using nlohmann::json;

namespace {

GC_SQL(kInsertGroup,
       "INSERT INTO groups (address, server, title, topic, visibility, join_rule, created_by, created_at, last_seq, "
       "head_hash, base_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id");
// The columns both ways of storing events fill, in this order: kInsertEvents*
// (a quiet node's batch of one to three events: plain parameters, 18 a row,
// nothing to build or parse but the values) and kCopyEvents (AppendCopyRow).
#define GC_EVENT_INSERT_COLUMNS                                                                          \
  "stream_pos, event_id, group_id, seq, type, sender, origin, origin_ts, content, relates_to, txn_id, " \
  "nonce, content_hash, home_ts, prev_hash, entry_hash, signatures, origin_signatures"
#define GC_EVENT_ROW_1 \
  "($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, " \
  "$10, $11, $12, $13, $14, $15, $16, $17::jsonb, $18::jsonb)"
#define GC_EVENT_ROW_2 \
  "($19, $20, $21, $22, $23, $24, $25, $26, $27::jsonb, " \
  "$28, $29, $30, $31, $32, $33, $34, $35::jsonb, $36::jsonb)"
#define GC_EVENT_ROW_3 \
  "($37, $38, $39, $40, $41, $42, $43, $44, $45::jsonb, " \
  "$46, $47, $48, $49, $50, $51, $52, $53::jsonb, $54::jsonb)"
GC_SQL(kInsertEvents1, "INSERT INTO events (" GC_EVENT_INSERT_COLUMNS ") VALUES " GC_EVENT_ROW_1);
GC_SQL(kInsertEvents2, "INSERT INTO events (" GC_EVENT_INSERT_COLUMNS ") VALUES " GC_EVENT_ROW_1 ", " GC_EVENT_ROW_2);
GC_SQL(kInsertEvents3, "INSERT INTO events (" GC_EVENT_INSERT_COLUMNS ") VALUES " GC_EVENT_ROW_1 ", " GC_EVENT_ROW_2
                       ", " GC_EVENT_ROW_3);
constexpr const char* kCopyEvents = "COPY events (" GC_EVENT_INSERT_COLUMNS ") FROM STDIN";
constexpr size_t kCopyMinEvents = 4;  // fewer: kInsertEvents1-3

// One row of kCopyEvents.
void AppendCopyRow(std::string& out, const GroupEvent& e) {
  auto col = [&](const std::optional<std::string_view>& v) {
    CopyText(out, v);
    out += '\t';
  };
  auto num = [&](int64_t v) {
    out += std::to_string(v);
    out += '\t';
  };
  auto opt = [](const std::optional<std::string>& v) -> std::optional<std::string_view> {
    if (!v) return std::nullopt;
    return std::string_view(*v);
  };
  num(e.stream_pos);
  col(e.event_id);
  num(e.group_row);
  num(e.seq);
  col(e.type);
  col(e.sender);
  col(e.origin);
  num(e.origin_ts);
  col(e.content.dump(-1, ' ', false, json::error_handler_t::replace));
  col(opt(e.relates_to));
  col(opt(e.txn_id));
  col(e.nonce);
  col(e.content_hash);
  num(e.home_ts);
  col(e.prev_hash);
  col(e.entry_hash);
  col(e.signatures.is_null() ? std::nullopt : std::optional<std::string_view>(e.signatures.dump()));
  CopyText(out, e.origin_signatures.is_null() ? std::nullopt
                                              : std::optional<std::string_view>(e.origin_signatures.dump()));
  out += '\n';
}

// Idempotent sends (TxnKey): the events already stored for a batch's keys.
GC_SQL(kFindTxns, "SELECT " GC_EVENT_COLUMNS ", e.txn_id FROM events e JOIN groups g ON g.id = e.group_id "
                  "WHERE e.txn_id IS NOT NULL AND (e.sender, e.txn_id) IN "
                  "(SELECT * FROM unnest($1::text[], $2::text[]))");
GC_SQL(kUpdateGroupSeq, "UPDATE groups SET last_seq = $2, last_event_at = $3, head_hash = $4 WHERE id = $1");

std::string ServerOf(const std::string& address) { return address.substr(address.find(':') + 1); }

// Does `server` still have joined or invited members in `s`?
bool HasMembersOn(const GroupState& s, const std::string& server) {
  for (const auto& [u, m] : s.members) {
    if ((m.membership == "join" || m.membership == "invite") && ServerOf(u) == server) return true;
  }
  return false;
}

}  // namespace

void GroupLog::WriterLoop() {
  constexpr size_t kMaxBatch = 256;
  while (true) {
    std::vector<std::unique_ptr<Request>> batch;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
    // The callers first (their events are durable), then the sinks: a
    // sender's answer does not wait for the fan-out to its group's streams.
    if (!answers_.empty()) {
      {
        std::lock_guard<std::mutex> lock(answers_mu_);
        for (auto& a : answers_) answer_queue_.push_back(std::move(a));
      }
      answers_.clear();
      answers_cv_.notify_one();
    }
    Publish();
  }
}

void GroupLog::Publish() {
  if (to_publish_.empty()) return;
  for (EventSink* sink : sinks_) {
    sink->BeginBatch();
    for (const auto& p : to_publish_) sink->Publish(p.event, *p.members, p.extra);
    sink->EndBatch();
  }
  to_publish_.clear();
}

void GroupLog::RunBatch(std::vector<std::unique_ptr<Request>>& batch) {
  std::vector<Result<std::vector<GroupEvent>>> results;
  auto t0 = std::chrono::steady_clock::now();
  Status st = TryBatch(batch, results);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (ms > 50) {
    LogWarn("group log batch slow", {{"ms", ms}, {"size", static_cast<int64_t>(batch.size())}});
  }
  if (st.ok()) {
    for (size_t i = 0; i < batch.size(); ++i) Complete(std::move(batch[i]), std::move(results[i]));
    return;
  }
  if (batch.size() == 1) {
    Complete(std::move(batch[0]), st.error());
    return;
  }
  // Retry one by one so that one failing operation does not sink the others.
  LogWarn("group log batch failed, retrying one by one",
          {{"size", static_cast<int64_t>(batch.size())}, {"error", st.error().message}});
  for (auto& r : batch) {
    std::vector<std::unique_ptr<Request>> one;
    one.push_back(std::move(r));
    RunBatch(one);
  }
}

Status GroupLog::TryBatch(std::vector<std::unique_ptr<Request>>& batch,
                          std::vector<Result<std::vector<GroupEvent>>>& results) {
  PgConn& c = *writer_conn_;
  int64_t saved_pos = next_stream_pos_;
  results.clear();
  // Working copies of the touched groups: operations see earlier operations'
  // effects; readers see nothing until the commit.
  std::unordered_map<int64_t, std::shared_ptr<GroupState>> working;
  struct Pending {
    GroupEvent event;
    std::shared_ptr<const std::vector<std::string>> members;
    std::vector<std::string> extra;
    std::function<Status(PgConn&, const GroupEvent&)> project;
    // Where the caller's copy is (results[result_index][appended_index]);
    // result_index is npos for replica entries (their caller wants no JSON).
    size_t result_index, appended_index;
  };
  constexpr size_t npos = static_cast<size_t>(-1);
  std::vector<Pending> pending;
  std::vector<int64_t> touched_order;
  // Entries this node signs: their bytes, and where the signature goes (the
  // pending event, and its copy in the request's result).
  struct Unsigned {
    size_t pending_index, result_index, appended_index;
    std::string bytes;
  };
  std::vector<Unsigned> unsigned_entries;
  std::string entry_bytes;

  // Creating a group needs its row id before its events: such a batch runs
  // statement by statement inside one transaction. Any other batch checks its
  // operations with plain reads (this thread is the only writer of the log,
  // so committed data is all there is) and then sends all its writes, BEGIN
  // to COMMIT, in one pipeline: one round trip to PostgreSQL per batch.
  bool has_create = std::any_of(batch.begin(), batch.end(), [](const auto& r) { return r->initial.has_value(); });
  if (has_create) GC_TRY(c.ExecScript("BEGIN"));
  auto fail = [&](const Error& e) -> Status {
    (void)c.ExecScript("ROLLBACK");
    next_stream_pos_ = saved_pos;
    return e;
  };
  int64_t now = NowMs();
  // Idempotent sends: the events stored for the batch's keys, in one look-up;
  // a key an earlier request of this batch took is added as it is appended.
  std::unordered_map<std::string, GroupEvent> by_txn;
  auto key_of = [](const TxnKey& k) { return k.sender + '\n' + k.txn_id; };
  if (std::any_of(batch.begin(), batch.end(), [](const auto& r) { return r->txn.has_value(); })) {
    PgArray senders, txns;
    for (auto& req : batch) {
      if (!req->txn) continue;
      senders.Add(req->txn->sender);
      txns.Add(req->txn->txn_id);
    }
    auto found = c.Exec(kFindTxns, {senders.str(), txns.str()});
    if (!found.ok()) return fail(found.error());
    for (int i = 0; i < found->rows(); ++i) {
      by_txn[found->text(i, 4) + '\n' + found->text(i, 14)] = EventFromRow(*found, i);
    }
  }
  for (auto& req : batch) {
    if (req->txn) {
      auto prior = by_txn.find(key_of(*req->txn));
      if (prior != by_txn.end()) {
        // A repeated send: the first result, whatever the state is now.
        if (prior->second.group_row != req->row) {
          results.push_back(Error::Conflict("client_txn_id was already used in another group"));
        } else {
          results.push_back(std::vector<GroupEvent>{prior->second});
        }
        continue;
      }
    }
    std::shared_ptr<GroupState> state;
    if (req->initial) {
      GroupState& init = *req->initial;
      auto taken = c.Exec(kFindGroup, {init.address});
      if (!taken.ok()) return fail(taken.error());
      if (taken->rows() > 0) {
        results.push_back(Error::Conflict("a group with that name already exists", "group_exists"));
        continue;
      }
      auto ins = c.Exec(kInsertGroup, {init.address, init.server, init.title, init.topic, init.visibility,
                                       init.join_rule, init.created_by, init.created_at ? init.created_at : now,
                                       init.last_seq, init.head_hash, init.base_seq});
      if (!ins.ok()) {
        // A race with another process on the same database: the retry one
        // by one answers this request with the conflict.
        return fail(ins.error());
      }
      state = std::make_shared<GroupState>(init);
      state->row = ins->int64(0, 0);
      if (!state->created_at) state->created_at = now;
      working[state->row] = state;
      touched_order.push_back(state->row);
      req->row = state->row;
    } else {
      auto it = working.find(req->row);
      if (it != working.end()) {
        state = it->second;
      } else {
        auto entry = LoadEntry(req->row);
        if (!entry.ok()) {
          results.push_back(entry.error());
          continue;
        }
        std::shared_lock lock((*entry)->mu);
        state = std::make_shared<GroupState>(*(*entry)->state);
        working[req->row] = state;
        touched_order.push_back(req->row);
      }
      if (state->deleted) {
        results.push_back(Error::NotFound("no such group"));
        continue;
      }
    }
    OpContext ctx{*state, c, now};
    Result<std::vector<Draft>> drafts = Error::Internal("unset");
    try {
      drafts = req->op(ctx);
    } catch (const std::exception& e) {
      LogError("group operation threw", {{"error", e.what()}});
      drafts = Error::Internal("internal error");
    }
    if (!drafts.ok()) {
      if (drafts.error().code == ErrorCode::kInternal || drafts.error().code == ErrorCode::kUnavailable) {
        return fail(drafts.error());  // the transaction may be unusable
      }
      results.push_back(drafts.error());
      continue;
    }
    bool hosted = state->server == server_name_;
    if (!hosted) {
      // Replica entries (group_log_chain.cpp).
      Status chain_ok = FollowHomeChain(*state, *drafts, *req);
      if (!chain_ok.ok()) {
        results.push_back(chain_ok.error());
        continue;
      }
    } else if (req->replica_apply) {
      results.push_back(Error::Invalid("this node is the home of the group: it takes no entries for it"));
      continue;
    } else if (req->pin && drafts->size() > 1) {
      results.push_back(Error::Invalid("a remote event must map to exactly one event"));
      continue;
    }
    std::vector<GroupEvent> appended;
    Status refused = OkStatus();
    for (Draft& d : *drafts) {
      GroupEvent ev;
      ev.group_row = state->row;
      ev.group_id = state->address;
      ev.type = d.type;
      ev.sender = d.sender;
      ev.content = std::move(d.content);
      ev.relates_to = d.relates_to;
      ev.txn_id = d.txn_id;
      Status st = Chain(*state, d, *req, now, ev, entry_bytes);
      if (!st.ok()) {
        // Only a pinned (single-event) request can fail here: nothing of it
        // was applied yet.
        refused = st;
        break;
      }
      ev.stream_pos = next_stream_pos_++;
      if (d.apply) d.apply(*state);
      state->last_event_at = std::max(state->last_event_at, hosted ? now : ev.home_ts);
      // Which servers hold a replica of a group homed here
      // (participant_recorder.h), in this event's transaction.
      if (participants_ && hosted && ev.type == "member" && ev.content.contains("user_id") &&
          ev.content["user_id"].is_string()) {
        std::string server = ServerOf(ev.content["user_id"].get<std::string>());
        if (server != server_name_) {
          bool still = HasMembersOn(*state, server);
          int64_t row = state->row, seq = ev.seq;
          auto inner = std::move(d.project);
          ParticipantRecorder* participants = participants_;
          d.project = [inner, participants, server, still, row, seq](PgConn& c, const GroupEvent& e) -> Status {
            if (inner) GC_TRY(inner(c, e));
            return still ? participants->ServerJoined(c, row, server) : participants->ServerLeft(c, row, server, seq);
          };
        }
      }
      std::vector<std::string> extra;
      for (auto& u : d.also_notify) {
        if (!state->IsJoined(u)) extra.push_back(u);  // joined ones are in already
      }
      if (req->replica_apply) {
        // Whoever applies entries wants ids and positions, not a second
        // copy of every content.
        json content = std::move(ev.content);
        appended.push_back(ev);
        ev.content = std::move(content);
      } else {
        appended.push_back(ev);
      }
      if (!entry_bytes.empty()) {
        unsigned_entries.push_back({pending.size(), results.size(), appended.size() - 1, std::move(entry_bytes)});
      }
      pending.push_back({std::move(ev), state->Joined(), std::move(extra), std::move(d.project),
                         req->replica_apply ? npos : results.size(), appended.size() - 1});
    }
    if (!refused.ok()) {
      results.push_back(refused.error());
      continue;
    }
    if (req->txn && !appended.empty()) by_txn[key_of(*req->txn)] = appended.front();
    results.push_back(std::move(appended));
  }
  // The chain is fixed: sign its new entries, several at once.
  if (!unsigned_entries.empty()) {
    std::vector<const std::string*> to_sign;
    to_sign.reserve(unsigned_entries.size());
    for (const auto& u : unsigned_entries) to_sign.push_back(&u.bytes);
    std::vector<std::string> sigs;
    signer_->SignAll(to_sign, sigs);
    for (size_t i = 0; i < unsigned_entries.size(); ++i) {
      const Unsigned& u = unsigned_entries[i];
      json signatures = {{server_name_, {{key_id_, std::move(sigs[i])}}}};
      if (results[u.result_index].ok()) (*results[u.result_index])[u.appended_index].signatures = signatures;
      pending[u.pending_index].event.signatures = std::move(signatures);
    }
  }
  // Several events (a busy node's batch of sends, a replica catching up) go
  // in with COPY, a fraction of the database's cost per row of an INSERT, for
  // one more round trip (BEGIN and COPY share one); one to three (a quiet
  // node: latency matters more than throughput) in one INSERT ... VALUES, in
  // the pipeline (less than half the database's time of the INSERT ...
  // unnest(...) of 18 array literals it replaces, for one event).
  bool use_copy = pending.size() >= kCopyMinEvents;
  bool deferred = false;
  if (!has_create) {
    if (!use_copy) {
      c.BeginDeferred();
      deferred = true;
      (void)c.ExecScript("BEGIN");
    }
  }
  if (use_copy) {
    std::string rows;
    rows.reserve(pending.size() * 640);
    for (const auto& p : pending) AppendCopyRow(rows, p.event);
    auto copied = c.CopyIn(kCopyEvents, rows, /*begin=*/!has_create);
    if (!copied.ok()) return fail(copied.error());
    if (!has_create) {
      // The rest of the transaction in one round trip.
      c.BeginDeferred();
      deferred = true;
    }
  }
  // Entries of remote groups need no flush to disk before the commit returns:
  // the home node holds them durably, and if this node loses the last ones
  // in a crash it reports the lower position (or asks for them when it starts,
  // spec/federation.md 9.1) and the home sends them again. Not so what this
  // node acknowledges to its own users: a new replica (a join answered 200),
  // its users' own events (a send, a join, a settings change) and events
  // about them (an invite) are flushed before anyone is told.
  bool lazy = !has_create &&
              std::all_of(batch.begin(), batch.end(), [](const auto& r) { return r->replica_apply; }) &&
              std::none_of(pending.begin(), pending.end(), [&](const auto& p) {
                const GroupEvent& e = p.event;
                if (e.origin == server_name_) return true;
                if (e.type != "member" || !e.content.contains("user_id") || !e.content["user_id"].is_string()) {
                  return false;
                }
                auto user = ParseUserId(e.content["user_id"].get<std::string>());
                return user && user->server == server_name_;
              });
  if (lazy) (void)c.ExecScript("SET LOCAL synchronous_commit TO off");
  // One statement for the batch's one to three events, then the projections
  // in order.
  if (!pending.empty() && !use_copy) {
    std::vector<PgParam> params;
    params.reserve(18 * pending.size());
    auto json_or_null = [](const json& j) { return j.is_null() ? std::optional<std::string>() : j.dump(); };
    for (const auto& p : pending) {
      const GroupEvent& e = p.event;
      for (PgParam v : {PgParam(e.stream_pos), PgParam(e.event_id), PgParam(e.group_row), PgParam(e.seq),
                        PgParam(e.type), PgParam(e.sender), PgParam(e.origin), PgParam(e.origin_ts),
                        PgParam(e.content.dump(-1, ' ', false, json::error_handler_t::replace)),
                        PgParam(e.relates_to), PgParam(e.txn_id), PgParam(e.nonce), PgParam(e.content_hash),
                        PgParam(e.home_ts), PgParam(e.prev_hash), PgParam(e.entry_hash),
                        PgParam(json_or_null(e.signatures)), PgParam(json_or_null(e.origin_signatures))}) {
        params.push_back(std::move(v));
      }
    }
    static_assert(kCopyMinEvents == 4, "kInsertEvents1-3 take the batches COPY does not");
    const SqlQuery& insert =
        pending.size() == 1 ? kInsertEvents1 : pending.size() == 2 ? kInsertEvents2 : kInsertEvents3;
    auto ins = c.Exec(insert, params);
    if (!ins.ok()) return fail(ins.error());
  }
  for (auto& p : pending) {
    if (!p.project) continue;
    auto st = p.project(c, p.event);
    if (!st.ok()) return fail(st.error());
  }
  for (int64_t row : touched_order) {
    auto& s = working[row];
    auto u = c.Exec(kUpdateGroupSeq, {row, s->last_seq, s->last_event_at, s->head_hash});
    if (!u.ok()) return fail(u.error());
  }
  auto commit = c.ExecScript("COMMIT");
  if (deferred) commit = c.FlushDeferred();
  if (!commit.ok()) {
    (void)c.ExecScript("ROLLBACK");
    next_stream_pos_ = saved_pos;
    return commit.error();
  }
  // Durable: show the new state to readers, then publish in order.
  {
    std::lock_guard<std::mutex> lock(entries_mu_);
    for (int64_t row : touched_order) {
      auto& e = entries_[row];
      if (!e) e = std::make_shared<Entry>();
      std::unique_lock elock(e->mu);
      e->state = working[row];
      // A deleted group frees its name at once.
      if (e->state->deleted) by_address_.erase(e->state->address);
    }
  }
  if (!pending.empty()) last_committed_pos_ = pending.back().event.stream_pos;
  // The client JSON of what callers are answered with, once: the answer and
  // the stream frame share it (the stream renders the rest itself).
  for (auto& p : pending) {
    if (p.result_index == npos || !results[p.result_index].ok() ||
        p.appended_index >= results[p.result_index]->size()) {
      continue;
    }
    auto text = ClientJsonText(p.event);
    p.event.client_json = text;
    (*results[p.result_index])[p.appended_index].client_json = std::move(text);
  }
  // Published by WriterLoop once the callers are answered.
  for (auto& p : pending) to_publish_.push_back({std::move(p.event), std::move(p.members), std::move(p.extra)});
  return OkStatus();
}

}  // namespace gc
