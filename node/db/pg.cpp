#include "node/db/pg.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "node/common/log.h"

namespace gc {

PgParam PgParam::Bytes(std::string_view raw) {
  static const char* kHex = "0123456789abcdef";
  std::string s = "\\x";
  s.reserve(2 + raw.size() * 2);
  for (unsigned char c : raw) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return PgParam(std::move(s));
}

PgResult::PgResult(pg_result* r) : r_(r) {}
PgResult::PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
PgResult::~PgResult() {
  if (r_) PQclear(r_);
}
int PgResult::rows() const { return r_ ? PQntuples(r_) : 0; }
int64_t PgResult::affected() const {
  const char* s = r_ ? PQcmdTuples(r_) : "";
  return (s && *s) ? std::strtoll(s, nullptr, 10) : 0;
}
bool PgResult::is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string PgResult::text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
std::string_view PgResult::view(int row, int col) const {
  return std::string_view(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
int64_t PgResult::int64(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }
double PgResult::float64(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }
bool PgResult::boolean(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
std::string PgResult::bytes(int row, int col) const {
  size_t n = 0;
  unsigned char* p = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
  if (!p) return {};
  std::string out(reinterpret_cast<char*>(p), n);
  PQfreemem(p);
  return out;
}
std::optional<std::string> PgResult::opt_text(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return text(row, col);
}
std::optional<int64_t> PgResult::opt_int64(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return int64(row, col);
}

PgConn::PgConn(std::string conninfo) : conninfo_(std::move(conninfo)) {}
PgConn::~PgConn() {
  if (conn_) PQfinish(conn_);
}

Status PgConn::Connect() {
  if (conn_) PQfinish(conn_);
  prepared_.clear();
  in_transaction_ = false;
  conn_ = PQconnectdb(conninfo_.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string m = PQerrorMessage(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return Error::Unavailable("cannot connect to the database: " + m);
  }
  PGresult* r = PQexec(conn_, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
  PQclear(r);
  return OkStatus();
}

bool PgConn::Healthy() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

Error PgConn::MakeError(const char* what, pg_result* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  std::string msg = r ? PQresultErrorMessage(r) : (conn_ ? PQerrorMessage(conn_) : "no connection");
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (!Healthy()) {
    LogWarn("database connection lost", {{"error", msg}});
    return Error::Unavailable("the database is unavailable");
  }
  if (sqlstate == "23505" || sqlstate == "23P01") {
    return Error::Conflict("already exists", "unique_violation");
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
    Error e = Error::Unavailable("database conflict, retry");
    e.detail_code = "serialization_failure";
    return e;
  }
  if (sqlstate == "57014") return Error::Unavailable("database query timed out");
  LogError("database error", {{"query", what}, {"sqlstate", sqlstate}, {"error", msg}});
  return Error::Internal("database error");
}

Result<PgResult> PgConn::Exec(const SqlQuery& q, std::initializer_list<PgParam> params) {
  return ExecImpl(q, params.begin(), params.size());
}
Result<PgResult> PgConn::Exec(const SqlQuery& q, const std::vector<PgParam>& params) {
  return ExecImpl(q, params.data(), params.size());
}

namespace {

// Statement names are per connection, and GC_SQL constants live in many
// files: two different queries declared under one name would silently run
// each other's SQL on a connection that prepared the other first. The first
// query prepared under a name owns it for the life of the process; another
// text under the same name is an error, whichever connection meets it.
Status ClaimStatementName(const SqlQuery& q) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::string>* owners = new std::unordered_map<std::string, std::string>();
  std::lock_guard<std::mutex> lock(mu);
  auto [it, fresh] = owners->emplace(q.name, q.text);
  if (fresh || it->second == q.text) return OkStatus();
  return Error::Internal(std::string("two different queries are declared as ") + q.name + ": rename one");
}

}  // namespace

Status PgConn::Prepare(const SqlQuery& q) {
  if (prepared_.count(q.name)) return OkStatus();
  GC_TRY(ClaimStatementName(q));
  PGresult* pr = PQprepare(conn_, q.name, q.text, 0, nullptr);
  if (PQresultStatus(pr) != PGRES_COMMAND_OK) {
    Error e = MakeError(q.name, pr);
    PQclear(pr);
    return e;
  }
  PQclear(pr);
  prepared_.insert(q.name);
  return OkStatus();
}

void PgConn::BeginDeferred() {
  deferring_ = true;
  deferred_.clear();
}

Status PgConn::FlushDeferred() {
  deferring_ = false;
  std::vector<Deferred> work;
  work.swap(deferred_);
  if (work.empty()) return OkStatus();
  if (!Healthy()) return Error::Unavailable("the database is unavailable");
  for (const auto& d : work) {
    if (d.query) GC_TRY(Prepare(*d.query));
  }
  if (PQenterPipelineMode(conn_) != 1) return Error::Internal("cannot enter pipeline mode");
  Status first = OkStatus();
  bool sent = true;
  for (const auto& d : work) {
    int ok;
    if (d.query) {
      std::vector<const char*> values;
      for (const auto& p : d.params) values.push_back(p.value() ? p.value()->c_str() : nullptr);
      ok = PQsendQueryPrepared(conn_, d.query->name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0);
    } else {
      ok = PQsendQueryParams(conn_, d.script.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
    }
    if (!ok) {
      sent = false;
      break;
    }
  }
  if (!sent || PQpipelineSync(conn_) != 1) {
    first = MakeError("pipeline send", nullptr);
  }
  // Every statement's results end with NULL; the sync ends the pipeline.
  if (sent) {
    for (size_t i = 0; i < work.size(); ++i) {
      while (PGresult* r = PQgetResult(conn_)) {
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && first.ok()) {
          first = st == PGRES_PIPELINE_ABORTED ? Status(Error::Internal("pipeline aborted"))
                                               : Status(MakeError(work[i].query ? work[i].query->name : "script", r));
        }
        PQclear(r);
      }
    }
    while (PGresult* r = PQgetResult(conn_)) {
      bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
      PQclear(r);
      if (sync) break;
    }
  }
  PQexitPipelineMode(conn_);
  for (const auto& d : work) {
    if (!d.query && d.script == "COMMIT") in_transaction_ = false;
  }
  return first;
}

Result<PgResult> PgConn::ExecImpl(const SqlQuery& q, const PgParam* params, size_t n) {
  if (deferring_) {
    deferred_.push_back({&q, {}, std::vector<PgParam>(params, params + n)});
    return PgResult(nullptr);
  }
  if (!Healthy()) {
    if (in_transaction_) return Error::Unavailable("the database is unavailable");
    auto st = Connect();
    if (!st.ok()) return st.error();
  }
  GC_TRY(Prepare(q));
  const char* values[64];
  std::vector<const char*> big;
  const char** vp = values;
  if (n > 64) {
    big.resize(n);
    vp = big.data();
  }
  for (size_t i = 0; i < n; ++i) vp[i] = params[i].value() ? params[i].value()->c_str() : nullptr;
  PGresult* r = PQexecPrepared(conn_, q.name, static_cast<int>(n), vp, nullptr, nullptr, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return PgResult(r);
  Error e = MakeError(q.name, r);
  PQclear(r);
  return e;
}

Status PgConn::ExecScript(const char* sql) {
  if (deferring_) {
    deferred_.push_back({nullptr, sql, {}});
    return OkStatus();
  }
  if (!Healthy()) {
    if (in_transaction_) return Error::Unavailable("the database is unavailable");
    GC_TRY(Connect());
  }
  PGresult* r = PQexec(conn_, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
    PQclear(r);
    if (std::strcmp(sql, "BEGIN") == 0) in_transaction_ = true;
    if (std::strcmp(sql, "COMMIT") == 0 || std::strcmp(sql, "ROLLBACK") == 0) in_transaction_ = false;
    return OkStatus();
  }
  Error e = MakeError("script", r);
  PQclear(r);
  if (std::strcmp(sql, "COMMIT") == 0 || std::strcmp(sql, "ROLLBACK") == 0) in_transaction_ = false;
  return e;
}

Status PgConn::CopyIn(const char* copy_sql, std::string_view data, bool begin) {
  if (deferring_) return Error::Internal("COPY cannot be deferred");
  if (!Healthy()) {
    if (in_transaction_) return Error::Unavailable("the database is unavailable");
    GC_TRY(Connect());
  }
  // PQexec stops at the COPY of a multi-statement string and answers its
  // COPY_IN state; the BEGIN before it has run by then.
  PGresult* r = PQexec(conn_, begin ? (std::string("BEGIN; ") + copy_sql).c_str() : copy_sql);
  if (begin) in_transaction_ = true;
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    Error e = MakeError("copy", r);
    PQclear(r);
    return e;
  }
  PQclear(r);
  // Blocking connection: PQputCopyData returns 1 once queued or sent.
  bool sent = PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) == 1;
  bool ended = PQputCopyEnd(conn_, sent ? nullptr : "the client could not send the rows") == 1;
  Status st = OkStatus();
  while (PGresult* res = PQgetResult(conn_)) {
    if (st.ok() && PQresultStatus(res) != PGRES_COMMAND_OK) st = MakeError("copy", res);
    PQclear(res);
  }
  if (st.ok() && (!sent || !ended)) st = MakeError("copy", nullptr);
  return st;
}

void CopyText(std::string& out, const std::optional<std::string_view>& v) {
  if (!v) {
    out += "\\N";
    return;
  }
  for (char ch : *v) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += ch;
    }
  }
}

Result<std::unique_ptr<PgPool>> PgPool::Create(const std::string& conninfo, int size,
                                               int connect_timeout_s) {
  std::unique_ptr<PgPool> pool(new PgPool());
  pool->conninfo_ = conninfo;
  std::string ci = conninfo;
  // conninfo may be a URI or key=value pairs; libpq takes either, and
  // connect_timeout can be added to both forms only for key=value, so check.
  if (ci.rfind("postgres", 0) != 0) ci += " connect_timeout=" + std::to_string(connect_timeout_s);
  for (int i = 0; i < size; ++i) {
    auto c = std::make_unique<PgConn>(ci);
    auto st = c->Connect();
    if (!st.ok()) return st.error();
    pool->free_.push_back(c.get());
    pool->conns_.push_back(std::move(c));
  }
  return pool;
}

PgPool::~PgPool() = default;

PgPool::Lease::~Lease() {
  if (conn_) pool_->Release(conn_);
}

Result<PgPool::Lease> PgPool::Acquire(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !free_.empty(); })) {
    return Error::Unavailable("the database is busy, retry later");
  }
  PgConn* c = free_.back();
  free_.pop_back();
  return Lease(this, c);
}

void PgPool::Release(PgConn* c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(c);
  }
  cv_.notify_one();
}

int PgPool::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(conns_.size() - free_.size());
}

Status PgPool::Begin(PgConn& c) { return c.ExecScript("BEGIN"); }
Status PgPool::Commit(PgConn& c) { return c.ExecScript("COMMIT"); }
void PgPool::Rollback(PgConn& c) { (void)c.ExecScript("ROLLBACK"); }

bool IsRetryableTxnError(const Error& e) { return e.detail_code == "serialization_failure"; }

Result<std::optional<int64_t>> ClaimRange(PgConn& c, const SqlQuery& move, const SqlQuery& read, int64_t lo,
                                          int64_t hi) {
  auto moved = c.Exec(move, {lo, hi});
  if (!moved.ok()) return moved.error();
  if (moved->affected() == 1) return std::optional<int64_t>();
  auto cur = c.Exec(read);
  if (!cur.ok()) return cur.error();
  if (cur->rows() == 0) return Error::Internal(std::string(read.name) + " found no cursor row");
  return std::optional<int64_t>(cur->int64(0, 0));
}

}  // namespace gc
