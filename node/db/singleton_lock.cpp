#include "node/db/singleton_lock.h"

#include <libpq-fe.h>

#include <chrono>

#include "node/common/barrier.h"
#include "node/common/log.h"

namespace gc {

namespace {

// Between two checks of the lock (and two attempts to take it).
constexpr auto kCheckEvery = std::chrono::seconds(1);

}  // namespace

// Raw libpq on purpose: PgConn reconnects by itself after a lost connection,
// and a query on a new session would succeed without the lock.
struct SingletonLock::Conn {
  PGconn* pg = nullptr;
  ~Conn() { Close(); }
  void Close() {
    if (pg) PQfinish(pg);
    pg = nullptr;
  }
  bool Open(const std::string& conninfo) {
    Close();
    // The node's conninfo (a URI or key=value text) expanded first, then
    // keepalives so that a vanished peer ends the session within ~10 s on
    // both sides.
    const char* keys[] = {"dbname", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "connect_timeout", "application_name", nullptr};
    const char* values[] = {conninfo.c_str(), "1", "4", "2", "3", "5", "groupchat-singleton", nullptr};
    pg = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (PQstatus(pg) != CONNECTION_OK) {
      Close();
      return false;
    }
    PQclear(PQexec(pg, "SET statement_timeout = 5000; SET tcp_keepalives_idle = 4; "
                       "SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3"));
    return true;
  }
  // Runs `sql` (one boolean or integer column, one row); nullopt on failure.
  std::optional<std::string> One(const char* sql, const std::string& param) {
    if (!pg) return std::nullopt;
    const char* params[] = {param.c_str()};
    PGresult* r = PQexecParams(pg, sql, param.empty() ? 0 : 1, nullptr, param.empty() ? nullptr : params, nullptr,
                               nullptr, 0);
    std::optional<std::string> out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) out = std::string(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (PQstatus(pg) != CONNECTION_OK) out.reset();
    return out;
  }
};

SingletonLock::SingletonLock(std::string conninfo, int64_t key, std::string name)
    : conninfo_(std::move(conninfo)), key_(key), name_(std::move(name)), conn_(std::make_unique<Conn>()) {}

SingletonLock::~SingletonLock() { Stop(); }

void SingletonLock::Start() {
  Tick();
  thread_ = SpawnGuarded("gc-singleton", [this] { Loop(); });
}

void SingletonLock::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  held_ = false;
  conn_->Close();  // ends the session: PostgreSQL releases the lock
}

bool SingletonLock::Tick() {
  if (held_.load()) {
    // Still our session? A failure means PostgreSQL has ended it (or soon
    // will): stop working now, before anyone else can take over.
    if (conn_->One("SELECT 1", "")) return true;
    held_ = false;
    conn_->Close();
    LogWarn("singleton work stopped: lost the database session holding the lock", {{"work", name_}});
    return false;
  }
  if (!conn_->pg && !conn_->Open(conninfo_)) return false;
  auto got = conn_->One("SELECT pg_try_advisory_lock($1::bigint)", std::to_string(key_));
  if (!got) {
    conn_->Close();
    return false;
  }
  if (*got != "t") return false;
  held_ = true;
  ++generation_;
  LogInfo("singleton work runs in this process", {{"work", name_}});
  for (const auto& fn : on_acquired_) fn();
  return true;
}

void SingletonLock::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kCheckEvery, [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    Tick();
    lock.lock();
  }
}

}  // namespace gc
