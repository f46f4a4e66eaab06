// The database layer: libpq connections, a fixed-size pool, named
// parameterized queries and a transaction helper. No ORM.
//
// Every statement is a named constant (SqlQuery) whose values travel as
// parameters ($1, $2, ...), never spliced into the text. Each connection
// prepares a statement the first time it runs it.
//
// Thread-safety: PgPool is thread-safe. A PgConn belongs to one thread at a
// time (the holder of its Lease). All calls block: run them off I/O threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "node/common/result.h"

struct pg_conn;
struct pg_result;

namespace gc {

struct SqlQuery {
  const char* name;  // unique statement name
  const char* text;  // SQL with $1.. placeholders
};
// Declares a named query constant: GC_SQL(kFindUser, "SELECT ... WHERE id = $1");
#define GC_SQL(ident, sql) inline constexpr ::gc::SqlQuery ident{#ident, sql}

// One parameter value, in PostgreSQL's text format; nullopt is SQL NULL.
class PgParam {
 public:
  PgParam(std::nullopt_t) {}                                   // NOLINT
  PgParam(std::string v) : v_(std::move(v)) {}                 // NOLINT
  PgParam(std::string_view v) : v_(std::string(v)) {}          // NOLINT
  PgParam(const char* v) : v_(std::string(v)) {}               // NOLINT
  PgParam(int64_t v) : v_(std::to_string(v)) {}                // NOLINT
  PgParam(int v) : v_(std::to_string(v)) {}                    // NOLINT
  PgParam(bool v) : v_(v ? "t" : "f") {}                       // NOLINT
  template <typename T>
  PgParam(const std::optional<T>& v) {                         // NOLINT
    if (v) v_ = PgParam(*v).v_;
  }
  // Binary data as a bytea hex literal.
  static PgParam Bytes(std::string_view raw);
  const std::optional<std::string>& value() const { return v_; }

 private:
  std::optional<std::string> v_;
};

class PgResult {
 public:
  explicit PgResult(pg_result* r);
  PgResult(PgResult&&) noexcept;
  PgResult& operator=(PgResult&&) noexcept;
  ~PgResult();

  int rows() const;
  int64_t affected() const;  // rows touched by INSERT/UPDATE/DELETE
  bool is_null(int row, int col) const;
  std::string text(int row, int col) const;
  std::string_view view(int row, int col) const;
  int64_t int64(int row, int col) const;
  double float64(int row, int col) const;
  bool boolean(int row, int col) const;
  std::string bytes(int row, int col) const;  // decodes a bytea column
  std::optional<std::string> opt_text(int row, int col) const;
  std::optional<int64_t> opt_int64(int row, int col) const;

 private:
  pg_result* r_;
};

class PgConn {
 public:
  explicit PgConn(std::string conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs a named statement with parameters. Errors: kConflict for unique or
  // exclusion violations (detail_code "unique_violation"), kUnavailable when
  // the server cannot be reached (the connection is reset for its next use),
  // kInternal otherwise (the SQL error is logged, not sent to clients).
  Result<PgResult> Exec(const SqlQuery& q, std::initializer_list<PgParam> params = {});
  Result<PgResult> Exec(const SqlQuery& q, const std::vector<PgParam>& params);
  // Runs constant SQL text with no parameters (BEGIN, COMMIT, migrations).
  Status ExecScript(const char* sql);

  // COPY ... FROM STDIN with `data` in COPY's text format (rows end in
  // "\n", columns separated by "\t", NULL as "\N"; see CopyText). For bulk
  // inserts: about three times cheaper per row than INSERT ... unnest(...).
  // Not in deferred mode. With `begin`, a transaction is opened in the same
  // round trip ("BEGIN; COPY ...").
  Status CopyIn(const char* copy_sql, std::string_view data, bool begin = false);

  bool Healthy() const;
  Status Connect();

  // Deferred mode, for writes whose results nobody reads: after
  // BeginDeferred(), Exec and ExecScript queue the statement and return an
  // empty success; FlushDeferred() sends them all in one libpq pipeline (one
  // round trip) and reports the first failure. Use BEGIN ... COMMIT inside,
  // and ROLLBACK after a failure.
  void BeginDeferred();
  Status FlushDeferred();
  pg_conn* raw() { return conn_; }

 private:
  Result<PgResult> ExecImpl(const SqlQuery& q, const PgParam* params, size_t n);
  Error MakeError(const char* what, pg_result* r);

  std::string conninfo_;
  pg_conn* conn_ = nullptr;
  std::unordered_set<std::string> prepared_;
  bool in_transaction_ = false;
  struct Deferred {
    const SqlQuery* query;  // nullptr: `script` is plain SQL
    std::string script;
    std::vector<PgParam> params;
  };
  bool deferring_ = false;
  std::vector<Deferred> deferred_;
  Status Prepare(const SqlQuery& q);
};

// Appends `v` as one column of COPY's text format (backslash, tab, newline
// and carriage return escaped); nullopt appends NULL ("\N").
void CopyText(std::string& out, const std::optional<std::string_view>& v);

// A worker's range cursor, moved by compare-and-set inside the range's
// transaction: `move` (params lo, hi) must change one row when the cursor is
// where this worker expects it, and `read` answers where it is. Answers
// nullopt when this transaction moved it (the range is this worker's), or
// the position another process moved it to first (follow it, do nothing).
Result<std::optional<int64_t>> ClaimRange(PgConn& c, const SqlQuery& move, const SqlQuery& read, int64_t lo,
                                          int64_t hi);

class PgPool {
 public:
  static Result<std::unique_ptr<PgPool>> Create(const std::string& conninfo, int size,
                                                int connect_timeout_s);
  ~PgPool();

  class Lease {
   public:
    Lease(PgPool* pool, PgConn* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(o.conn_) { o.conn_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConn* operator->() { return conn_; }
    PgConn& operator*() { return *conn_; }

   private:
    PgPool* pool_;
    PgConn* conn_;
  };

  // Waits up to `timeout` for a free connection; kUnavailable when none frees up.
  Result<Lease> Acquire(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  // Runs fn(PgConn&) -> Result<T> inside BEGIN/COMMIT; rolls back when fn
  // returns an error or throws. Retries the whole function up to 3 times on a
  // serialization failure or deadlock.
  template <typename Fn>
  auto Transaction(Fn&& fn) -> decltype(fn(std::declval<PgConn&>()));

  // Runs fn(PgConn&) -> Result<T> on a leased connection, no transaction.
  template <typename Fn>
  auto With(Fn&& fn) -> decltype(fn(std::declval<PgConn&>()));

  int size() const { return static_cast<int>(conns_.size()); }
  int in_use() const;
  const std::string& conninfo() const { return conninfo_; }

 private:
  PgPool() = default;
  void Release(PgConn* c);
  Status Begin(PgConn& c);
  Status Commit(PgConn& c);
  void Rollback(PgConn& c);

  std::string conninfo_;
  std::vector<std::unique_ptr<PgConn>> conns_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PgConn*> free_;  // GUARDED_BY(mu_)
};

bool IsRetryableTxnError(const Error& e);

template <typename Fn>
auto PgPool::With(Fn&& fn) -> decltype(fn(std::declval<PgConn&>())) {
  auto lease = Acquire();
  if (!lease.ok()) return lease.error();
  return fn(**lease);
}

template <typename Fn>
auto PgPool::Transaction(Fn&& fn) -> decltype(fn(std::declval<PgConn&>())) {
  auto lease = Acquire();
  if (!lease.ok()) return lease.error();
  PgConn& c = **lease;
  for (int attempt = 0;; ++attempt) {
    auto st = Begin(c);
    if (!st.ok()) return st.error();
    try {
      auto r = fn(c);
      if (!r.ok()) {
        Rollback(c);
        if (attempt < 3 && IsRetryableTxnError(r.error())) continue;
        return r;
      }
      auto cst = Commit(c);
      if (!cst.ok()) {
        if (attempt < 3 && IsRetryableTxnError(cst.error())) continue;
        return cst.error();
      }
      return r;
    } catch (...) {
      Rollback(c);
      throw;
    }
  }
}

}  // namespace gc
