#include "services/groups/group_log.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "node/common/address.h"
#include "node/common/barrier.h"
#include "node/common/completion.h"
#include "node/common/encoding.h"
#include "node/common/log.h"
#include "node/db/pg.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

using nlohmann::json;

namespace {

GC_SQL(kMaxStreamPos, "SELECT coalesce(max(stream_pos), 0) FROM events");
GC_SQL(kLoadGroup,
       "SELECT id, address, server, title, topic, visibility, join_rule, created_by, created_at, last_seq, "
       "last_event_at, deleted_at IS NOT NULL, head_hash, base_seq FROM groups WHERE id = $1");
GC_SQL(kLoadMembers, "SELECT user_id, membership, role FROM group_members WHERE group_id = $1");
GC_SQL(kFindGroup, "SELECT id FROM groups WHERE address = $1 AND deleted_at IS NULL");
GC_SQL(kInsertGroup,
       "INSERT INTO groups (address, server, title, topic, visibility, join_rule, created_by, created_at, last_seq, "
       "head_hash, base_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id");
// All events of a batch in one statement (arrays, one element per event).
// The columns both ways of storing events fill, in this order: kInsertEvents
// (arrays, one per column) and kCopyEvents (AppendCopyRow).
#define GC_EVENT_INSERT_COLUMNS                                                                          \
  "stream_pos, event_id, group_id, seq, type, sender, origin, origin_ts, content, relates_to, txn_id, " \
  "nonce, content_hash, home_ts, prev_hash, entry_hash, signatures, origin_signatures"
GC_SQL(kInsertEvents,
       "INSERT INTO events (" GC_EVENT_INSERT_COLUMNS ") "
       "SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], "
       "$5::text[], $6::text[], $7::text[], $8::bigint[], $9::jsonb[], $10::text[], $11::text[], $12::text[], "
       "$13::text[], $14::bigint[], $15::text[], $16::text[], $17::jsonb[], $18::jsonb[])");
constexpr const char* kCopyEvents = "COPY events (" GC_EVENT_INSERT_COLUMNS ") FROM STDIN";
constexpr size_t kCopyMinEvents = 32;

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

// Which peers hold a replica of a group homed here (federation/pusher.h):
// a remote user's membership makes their server a participant (-1: it needs
// a snapshot first); losing its last member stops it at that seq.
GC_SQL(kPeerJoined,
       "INSERT INTO fed_group_peers (group_id, peer, acked_seq) VALUES ($1, $2, -1) "
       "ON CONFLICT (group_id, peer) DO UPDATE SET until_seq = NULL");
GC_SQL(kSeedMember,
       "INSERT INTO group_members (group_id, user_id, membership, role, since_seq) VALUES ($1, $2, $3, $4, $5)");
GC_SQL(kPeerLeft, "UPDATE fed_group_peers SET until_seq = $3 WHERE group_id = $1 AND peer = $2");

// A PostgreSQL array literal of text values (NULL for nullopt), quoted so
// that any value round-trips.
class ArrayLiteral {
 public:
  void Add(const std::string& v) {
    Sep();
    s_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') s_ += '\\';
      s_ += c;
    }
    s_ += '"';
  }
  void Add(const std::optional<std::string>& v) {
    if (v) return Add(*v);
    Sep();
    s_ += "NULL";
  }
  void Add(int64_t v) {
    Sep();
    s_ += std::to_string(v);
  }
  std::string str() const { return "{" + s_ + "}"; }

 private:
  void Sep() {
    if (!s_.empty()) s_ += ',';
  }
  std::string s_;
};
GC_SQL(kUpdateGroupSeq, "UPDATE groups SET last_seq = $2, last_event_at = $3, head_hash = $4 WHERE id = $1");

thread_local std::shared_ptr<const FixedEvent> t_origin_pin;

std::string ServerOf(const std::string& address) { return address.substr(address.find(':') + 1); }

// Does `server` still have joined or invited members in `s`?
bool HasMembersOn(const GroupState& s, const std::string& server) {
  for (const auto& [u, m] : s.members) {
    if ((m.membership == "join" || m.membership == "invite") && ServerOf(u) == server) return true;
  }
  return false;
}

}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewEventId() {
  std::string raw(16, '\0');
  randombytes_buf(raw.data(), raw.size());
  return "$" + Base64Url(raw);
}

json EventJson(const GroupEvent& e) {
  json j = {{"event_id", e.event_id}, {"group_id", e.group_id}, {"seq", e.seq},
            {"stream_pos", e.stream_pos}, {"type", e.type}, {"sender", e.sender},
            {"origin_ts", e.origin_ts}, {"content", e.content}};
  if (e.deleted_at) {
    j["content"] = json::object();
    j["deleted"] = true;
    j["deleted_at"] = *e.deleted_at;
  } else if (e.edit_content) {
    json c = e.content;
    if (e.edit_content->contains("body")) c["body"] = (*e.edit_content)["body"];
    j["content"] = c;
    j["edited"] = true;
    if (e.edited_at) j["edited_at"] = *e.edited_at;
  }
  return j;
}

GroupEvent EventFromRow(const PgResult& r, int i) {
  GroupEvent e;
  e.stream_pos = r.int64(i, 0);
  e.event_id = r.text(i, 1);
  e.seq = r.int64(i, 2);
  e.type = r.text(i, 3);
  e.sender = r.text(i, 4);
  e.origin = r.text(i, 5);
  e.origin_ts = r.int64(i, 6);
  e.content = json::parse(r.view(i, 7));
  e.relates_to = r.opt_text(i, 8);
  if (!r.is_null(i, 9)) e.edit_content = json::parse(r.view(i, 9));
  e.edited_at = r.opt_int64(i, 10);
  e.deleted_at = r.opt_int64(i, 11);
  e.group_row = r.int64(i, 12);
  e.group_id = r.text(i, 13);
  return e;
}

// ------------------------------------------------------------------ GroupState

const Member* GroupState::Find(const std::string& user) const {
  auto it = members.find(user);
  return it == members.end() ? nullptr : &it->second;
}

bool GroupState::IsJoined(const std::string& user) const {
  const Member* m = Find(user);
  return m && m->membership == "join";
}

int GroupState::JoinedCount() const { return static_cast<int>(Joined()->size()); }

int GroupState::OwnerCount() const {
  int n = 0;
  for (const auto& [u, m] : members) n += (m.membership == "join" && m.role == "owner");
  return n;
}

std::shared_ptr<const std::vector<std::string>> GroupState::Joined() const {
  auto cached = std::atomic_load(&joined_cache_);
  if (cached) return cached;
  auto v = std::make_shared<std::vector<std::string>>();
  for (const auto& [u, m] : members) {
    if (m.membership == "join") v->push_back(u);
  }
  std::shared_ptr<const std::vector<std::string>> out = v;
  std::atomic_store(&joined_cache_, out);
  return out;
}

// ------------------------------------------------------------------ GroupLog

GroupLog::GroupLog(PgPool& db, std::string server_name) : db_(db), server_name_(std::move(server_name)) {}

GroupLog::~GroupLog() { Stop(); }

Status GroupLog::Start(const std::string& conninfo) {
  writer_conn_ = std::make_unique<PgConn>(conninfo);
  GC_TRY(writer_conn_->Connect());
  auto r = writer_conn_->Exec(kMaxStreamPos);
  if (!r.ok()) return r.error();
  next_stream_pos_ = r->int64(0, 0) + 1;
  last_committed_pos_ = next_stream_pos_ - 1;
  writer_ = SpawnGuarded("gc-grouplog", [this] { WriterLoop(); });
  return OkStatus();
}

void GroupLog::Stop() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Result<std::vector<GroupEvent>> GroupLog::Enqueue(std::unique_ptr<Request> r) {
  auto fut = r->done.get_future();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) return Error::Unavailable("the node is shutting down");
    queue_.push_back(std::move(r));
  }
  queue_cv_.notify_one();
  return fut.get();
}

ScopedOriginPin::ScopedOriginPin(std::shared_ptr<const FixedEvent> fixed) : saved_(std::move(t_origin_pin)) {
  t_origin_pin = std::move(fixed);
}
ScopedOriginPin::~ScopedOriginPin() { t_origin_pin = std::move(saved_); }

Result<GroupState> GroupLog::Snapshot(int64_t row) {
  return Read(row, [](const GroupState& s) { return s; });
}

Result<std::vector<GroupEvent>> GroupLog::Submit(int64_t row, Operation op) {
  return Await<Result<std::vector<GroupEvent>>>([&](SubmitDone done) { SubmitAsync(row, std::move(op), done); });
}

void GroupLog::SubmitAsync(int64_t row, Operation op, SubmitDone done) {
  if (remote_) {
    auto state = Snapshot(row);
    if (!state.ok()) return done(state.error());
    if (state->server != server_name_) {
      // A replica: check the operation here (clear errors without a round
      // trip), then the home node decides.
      auto drafts = db_.With([&](PgConn& c) -> Result<std::vector<Draft>> {
        OpContext ctx{*state, c, NowMs()};
        return op(ctx);
      });
      if (!drafts.ok()) return done(drafts.error());
      if (drafts->empty()) return done(std::vector<GroupEvent>{});
      return remote_->SubmitRemote(*state, std::move(*drafts), std::move(done));
    }
  }
  done(SubmitHere(row, std::move(op)));
}

Result<std::vector<GroupEvent>> GroupLog::SubmitHere(int64_t row, Operation op) {
  auto r = std::make_unique<Request>();
  r->row = row;
  r->op = std::move(op);
  r->pin = t_origin_pin;
  return Enqueue(std::move(r));
}

Result<std::vector<GroupEvent>> GroupLog::CreateReplica(GroupState initial, std::vector<Draft> entries) {
  auto r = std::make_unique<Request>();
  r->replica_apply = true;
  auto members = std::make_shared<std::vector<std::pair<std::string, Member>>>(initial.members.begin(),
                                                                               initial.members.end());
  r->initial = std::move(initial);
  auto shared = std::make_shared<std::vector<Draft>>(std::move(entries));
  r->op = [shared, members](OpContext& ctx) -> Result<std::vector<Draft>> {
    for (const auto& [user, m] : *members) {
      auto ins = ctx.conn.Exec(kSeedMember, {ctx.group.row, user, m.membership, m.role, ctx.group.last_seq});
      if (!ins.ok()) return Error::Internal(ins.error().message);
    }
    return std::move(*shared);
  };
  return Enqueue(std::move(r));
}

std::unique_ptr<GroupLog::Request> GroupLog::ApplyRequest(int64_t row, std::vector<Draft> entries) {
  auto r = std::make_unique<Request>();
  r->row = row;
  r->replica_apply = true;
  auto shared = std::make_shared<std::vector<Draft>>(std::move(entries));
  r->op = [shared](OpContext&) -> Result<std::vector<Draft>> { return std::move(*shared); };
  return r;
}

Result<std::vector<GroupEvent>> GroupLog::Apply(int64_t row, std::vector<Draft> entries) {
  return Enqueue(ApplyRequest(row, std::move(entries)));
}

void GroupLog::ApplyAsync(int64_t row, std::vector<Draft> entries, ApplyDone done) {
  auto r = ApplyRequest(row, std::move(entries));
  r->callback = std::move(done);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(std::move(r));
      r = nullptr;
    }
  }
  if (r) return r->Finish(Error::Unavailable("the node is shutting down"));
  queue_cv_.notify_one();
}

Result<std::vector<GroupEvent>> GroupLog::Create(GroupState initial, Operation op) {
  auto r = std::make_unique<Request>();
  r->initial = std::move(initial);
  r->op = std::move(op);
  return Enqueue(std::move(r));
}

Result<int64_t> GroupLog::FindByAddress(const std::string& address) {
  {
    std::lock_guard<std::mutex> lock(entries_mu_);
    auto it = by_address_.find(address);
    if (it != by_address_.end()) return it->second;
  }
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFindGroup, {address}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return Error::NotFound("no such group");
  int64_t row = r->int64(0, 0);
  std::lock_guard<std::mutex> lock(entries_mu_);
  if (by_address_.size() > 100000) by_address_.clear();  // bound memory
  by_address_[address] = row;
  return row;
}

void GroupLog::Evict(int64_t row) {
  std::lock_guard<std::mutex> lock(entries_mu_);
  entries_.erase(row);
  for (auto it = by_address_.begin(); it != by_address_.end();) {
    it = it->second == row ? by_address_.erase(it) : std::next(it);
  }
}

static Result<std::shared_ptr<GroupState>> LoadState(PgConn& c, int64_t row) {
  auto g = c.Exec(kLoadGroup, {row});
  if (!g.ok()) return g.error();
  if (g->rows() == 0) return Error::NotFound("no such group");
  auto s = std::make_shared<GroupState>();
  s->row = g->int64(0, 0);
  s->address = g->text(0, 1);
  s->server = g->text(0, 2);
  s->title = g->text(0, 3);
  s->topic = g->text(0, 4);
  s->visibility = g->text(0, 5);
  s->join_rule = g->text(0, 6);
  s->created_by = g->text(0, 7);
  s->created_at = g->int64(0, 8);
  s->last_seq = g->int64(0, 9);
  s->last_event_at = g->int64(0, 10);
  s->deleted = g->boolean(0, 11);
  s->head_hash = g->text(0, 12);
  s->base_seq = g->int64(0, 13);
  auto m = c.Exec(kLoadMembers, {row});
  if (!m.ok()) return m.error();
  for (int i = 0; i < m->rows(); ++i) s->members[m->text(i, 0)] = Member{m->text(i, 1), m->text(i, 2)};
  return s;
}

Result<std::shared_ptr<GroupLog::Entry>> GroupLog::LoadEntry(int64_t row) {
  {
    std::lock_guard<std::mutex> lock(entries_mu_);
    auto it = entries_.find(row);
    if (it != entries_.end()) return it->second;
  }
  auto s = db_.With([&](PgConn& c) { return LoadState(c, row); });
  if (!s.ok()) return s.error();
  std::lock_guard<std::mutex> lock(entries_mu_);
  auto it = entries_.find(row);
  if (it != entries_.end()) return it->second;  // loaded meanwhile
  auto e = std::make_shared<Entry>();
  e->state = std::move(*s);
  entries_[row] = e;
  return e;
}

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
  }
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
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->Finish(std::move(results[i]));
    return;
  }
  if (batch.size() == 1) {
    batch[0]->Finish(st.error());
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
  };
  std::vector<Pending> pending;
  std::vector<int64_t> touched_order;

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
  for (auto& req : batch) {
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
      // Replica entries: skip what is held, then they must continue the chain.
      auto& v = *drafts;
      auto fresh = std::find_if(v.begin(), v.end(), [&](const Draft& d) {
        return !d.fixed || !d.fixed->seq || d.fixed->seq > state->last_seq;
      });
      v.erase(v.begin(), fresh);
      int64_t want = state->last_seq + 1;
      std::string prev = state->head_hash;
      Status chain_ok = OkStatus();
      for (const Draft& d : v) {
        if (!d.fixed || d.fixed->seq != want || d.fixed->prev != prev) {
          chain_ok = Error::Conflict("entry " + std::to_string(d.fixed ? d.fixed->seq : 0) +
                                     " does not follow the chain head at seq " + std::to_string(want - 1), "gap");
          break;
        }
        ++want;
        prev = d.fixed->entry_hash;
      }
      if (!req->replica_apply) chain_ok = Error::Invalid("events of a remote group are sequenced by its home node");
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
      Status st = Chain(*state, d, *req, now, ev);
      if (!st.ok()) {
        // Only a pinned (single-event) request can fail here: nothing of it
        // was applied yet.
        refused = st;
        break;
      }
      ev.stream_pos = next_stream_pos_++;
      if (d.apply) d.apply(*state);
      state->last_event_at = std::max(state->last_event_at, hosted ? now : ev.home_ts);
      if (hosted && ev.type == "member" && ev.content.contains("user_id") && ev.content["user_id"].is_string()) {
        std::string server = ServerOf(ev.content["user_id"].get<std::string>());
        if (server != server_name_) {
          bool still = HasMembersOn(*state, server);
          int64_t row = state->row, seq = ev.seq;
          auto inner = std::move(d.project);
          d.project = [inner, server, still, row, seq](PgConn& c, const GroupEvent& e) -> Status {
            if (inner) GC_TRY(inner(c, e));
            auto r = still ? c.Exec(kPeerJoined, {row, server}) : c.Exec(kPeerLeft, {row, server, seq});
            if (!r.ok()) return r.error();
            return OkStatus();
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
      pending.push_back({std::move(ev), state->Joined(), std::move(extra), std::move(d.project)});
    }
    if (!refused.ok()) {
      results.push_back(refused.error());
      continue;
    }
    results.push_back(std::move(appended));
  }
  // Many events (a replica catching up) go in with COPY, a third of the
  // database's cost per row of the one INSERT ... unnest(...) statement;
  // a few (the usual batch of sends) in that statement, in the pipeline.
  bool use_copy = pending.size() >= kCopyMinEvents;
  bool deferred = false;
  if (!has_create) {
    if (use_copy) {
      auto begun = c.ExecScript("BEGIN");
      if (!begun.ok()) return fail(begun.error());
    } else {
      c.BeginDeferred();
      deferred = true;
      (void)c.ExecScript("BEGIN");
    }
  }
  if (use_copy) {
    std::string rows;
    rows.reserve(pending.size() * 640);
    for (const auto& p : pending) AppendCopyRow(rows, p.event);
    auto copied = c.CopyIn(kCopyEvents, rows);
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
  // One statement for all events of the batch, then the projections in order.
  if (!pending.empty() && !use_copy) {
    ArrayLiteral pos, id, grp, seq, type, sender, origin, ts, content, rel, txn, nonce, chash, hts, prev, ehash, sigs,
        osigs;
    for (const auto& p : pending) {
      const GroupEvent& e = p.event;
      pos.Add(e.stream_pos);
      id.Add(e.event_id);
      grp.Add(e.group_row);
      seq.Add(e.seq);
      type.Add(e.type);
      sender.Add(e.sender);
      origin.Add(e.origin);
      ts.Add(e.origin_ts);
      content.Add(e.content.dump(-1, ' ', false, json::error_handler_t::replace));
      rel.Add(e.relates_to);
      txn.Add(e.txn_id);
      nonce.Add(e.nonce);
      chash.Add(e.content_hash);
      hts.Add(e.home_ts);
      prev.Add(e.prev_hash);
      ehash.Add(e.entry_hash);
      sigs.Add(e.signatures.is_null() ? std::optional<std::string>() : std::optional<std::string>(e.signatures.dump()));
      osigs.Add(e.origin_signatures.is_null() ? std::optional<std::string>()
                                              : std::optional<std::string>(e.origin_signatures.dump()));
    }
    auto ins = c.Exec(kInsertEvents, {pos.str(), id.str(), grp.str(), seq.str(), type.str(), sender.str(),
                                      origin.str(), ts.str(), content.str(), rel.str(), txn.str(), nonce.str(),
                                      chash.str(), hts.str(), prev.str(), ehash.str(), sigs.str(), osigs.str()});
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
  if (!pending.empty()) {
    for (EventSink* sink : sinks_) {
      sink->BeginBatch();
      for (const auto& p : pending) sink->Publish(p.event, *p.members, p.extra);
      sink->EndBatch();
    }
  }
  return OkStatus();
}

Status GroupLog::Chain(GroupState& state, const Draft& d, const Request& req, int64_t now, GroupEvent& ev) {
  if (state.server != server_name_) {
    // A replica entry, verified by the federation service before it came here.
    const FixedEvent& f = *d.fixed;
    ev.seq = f.seq;
    ev.event_id = f.event_id;
    ev.origin = f.origin;
    ev.origin_ts = f.origin_ts;
    ev.nonce = f.nonce;
    ev.content_hash = f.content_hash;
    ev.home_ts = f.home_ts;
    ev.prev_hash = f.prev;
    ev.entry_hash = f.entry_hash;
    ev.signatures = f.signatures;
    ev.origin_signatures = f.origin_signatures;
    state.last_seq = f.seq;
    state.head_hash = f.entry_hash;
    return OkStatus();
  }
  auto chash = ContentHash(ev.content);
  if (!chash.ok()) return chash.error();
  ChainEvent ce{state.address, ev.type, ev.sender, server_name_, now, NewNonce(), *chash, ev.relates_to};
  if (req.pin) {
    const FixedEvent& pin = *req.pin;
    if (pin.content_hash != *chash) {
      return Error::Invalid("the event's content is not what this node builds for that action (content_hash differs)");
    }
    ce.origin = pin.origin;
    ce.origin_ts = pin.origin_ts;
    ce.nonce = pin.nonce;
    ev.origin_signatures = pin.origin_signatures;
  }
  auto id = EventIdOf(ce);
  if (!id.ok()) return id.error();
  if (req.pin && *id != req.pin->event_id) return Error::Invalid("the event does not match its event_id");
  ev.event_id = *id;
  ev.origin = ce.origin;
  ev.origin_ts = ce.origin_ts;
  ev.nonce = ce.nonce;
  ev.content_hash = *chash;
  ev.seq = state.last_seq + 1;
  ev.home_ts = now;
  ev.prev_hash = state.head_hash;
  auto bytes = CanonicalEntry(state.address, ev.seq, ev.prev_hash, ev.event_id, ev.home_ts);
  if (!bytes.ok()) return bytes.error();
  ev.entry_hash = Base64Url(Sha256(*bytes));
  if (!secret_key_.empty()) ev.signatures = {{server_name_, {{key_id_, SignBytes(*bytes, secret_key_)}}}};
  state.last_seq = ev.seq;
  state.head_hash = ev.entry_hash;
  return OkStatus();
}

}  // namespace gc
