// The group log's public side: queuing operations for the writer, answering
// remote-group submissions through the RemoteGroups handler, reading group
// state (loaded from the database on first use, then kept in memory), and
// the event's client JSON. The writer thread that sequences and commits is
// in group_log_writer.cpp; how an event is chained and signed is in
// group_log_chain.cpp. group_log.h says what the log guarantees.
#include "services/groups/group_log.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>

#include "node/common/barrier.h"
#include "node/common/completion.h"
#include "node/common/encoding.h"
#include "node/db/pg.h"
#include "services/groups/group_log_sql.h"

namespace gc {

using nlohmann::json;

namespace {

GC_SQL(kMaxStreamPos, "SELECT coalesce(max(stream_pos), 0) FROM events");
GC_SQL(kLoadGroup,
       "SELECT id, address, server, title, topic, visibility, join_rule, created_by, created_at, last_seq, "
       "last_event_at, deleted_at IS NOT NULL, head_hash, base_seq FROM groups WHERE id = $1");
GC_SQL(kLoadMembers, "SELECT user_id, membership, role FROM group_members WHERE group_id = $1");
GC_SQL(kSeedMember,
       "INSERT INTO group_members (group_id, user_id, membership, role, since_seq) VALUES ($1, $2, $3, $4, $5)");

thread_local std::shared_ptr<const FixedEvent> t_origin_pin;

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

std::shared_ptr<const std::string> ClientJsonText(const GroupEvent& e) {
  if (e.client_json) return e.client_json;
  return std::make_shared<const std::string>(EventJson(e).dump(-1, ' ', false, json::error_handler_t::replace));
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
  if (!secret_key_.empty()) {
    // One helper per spare core (at most 3): the writer signs too.
    unsigned cores = std::thread::hardware_concurrency();
    int helpers = cores > 1 ? static_cast<int>(std::min(3u, cores - 1)) : 0;
    signer_ = std::make_unique<EntrySigner>(secret_key_, helpers);
  }
  completer_ = SpawnGuarded("gc-grouplog-ans", [this] { CompleterLoop(); });
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
  signer_.reset();
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    answers_stopping_ = true;
  }
  answers_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

void GroupLog::CompleterLoop() {
  while (true) {
    std::vector<Answer> answers;
    {
      std::unique_lock<std::mutex> lock(answers_mu_);
      answers_cv_.wait(lock, [&] { return answers_stopping_ || !answer_queue_.empty(); });
      if (answer_queue_.empty()) return;  // stopping and drained
      answers.swap(answer_queue_);
    }
    for (auto& [r, result] : answers) r->Finish(std::move(result));
  }
}

void GroupLog::Complete(std::unique_ptr<Request> r, Result<std::vector<GroupEvent>> result) {
  if (!r->answer_elsewhere) return r->Finish(std::move(result));
  answers_.emplace_back(std::move(r), std::move(result));
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

void GroupLog::SubmitAsync(int64_t row, Operation op, SubmitDone done, std::optional<TxnKey> txn) {
  // Only a replica needs a copy of the state: a group homed here (the usual
  // send) is told apart without copying its members.
  if (remote_ && !IsHomedHere(row)) {
    auto state = Snapshot(row);
    if (!state.ok()) return done(state.error());
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
  auto r = std::make_unique<Request>();
  r->row = row;
  r->op = std::move(op);
  r->pin = t_origin_pin;
  r->txn = std::move(txn);
  r->callback = std::move(done);
  r->answer_elsewhere = true;
  EnqueueAsync(std::move(r));
}

bool GroupLog::IsHomedHere(int64_t row) {
  auto here = Read(row, [&](const GroupState& s) { return s.server == server_name_; });
  return here.ok() && *here;
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
  EnqueueAsync(std::move(r));
}

void GroupLog::EnqueueAsync(std::unique_ptr<Request> r) {
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

}  // namespace gc
