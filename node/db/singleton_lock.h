// SingletonLock: which process of a node does a piece of singleton work.
//
// Several processes may share one PostgreSQL and be one node (CONTRACT.md,
// "Several processes, one node"), but some work must run in exactly one of
// them: the notification worker, the pushers and the email sender would
// otherwise make, push and mail everything once per process. The process
// that holds a PostgreSQL advisory lock does that work; the others wait.
//
// Why a session-level lock on a dedicated connection, not
// pg_try_advisory_xact_lock per batch: the push and email senders talk to
// the outside (HTTP, SMTP) between their transactions, and a lock taken per
// transaction would not stop two processes from both sending what they both
// read as due. A session lock covers everything the holder does between two
// checks. It is released by PostgreSQL when the holder's connection ends:
// at once when the process dies (the kernel closes its socket), and after
// TCP keepalive (set to about 10 s on the session) when the machine or the
// network goes away. The holder checks its connection every second and stops
// working as soon as that check fails, which is before PostgreSQL can have
// given the lock to another process; a new holder takes it within a second
// of its release, so the work moves within the 10 s the contract allows.
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gc {

class SingletonLock {
 public:
  // `conninfo` is the node's database; `key` the advisory lock id; `name`
  // appears in logs ("notifications").
  SingletonLock(std::string conninfo, int64_t key, std::string name);
  ~SingletonLock();  // Stop()

  // Starts trying; the first attempt is made before Start returns, so a
  // single process holds the lock when its workers start.
  void Start();
  // Releases the lock (the connection is closed) and joins the thread.
  void Stop();

  // True while this process holds the lock.
  bool held() const { return held_.load(); }
  // Counts acquisitions: a worker seeing it change reloads what another
  // process may have moved meanwhile (cursors).
  uint64_t generation() const { return generation_.load(); }
  // Called (on the lock's thread) each time the lock is acquired; register
  // before Start.
  void OnAcquired(std::function<void()> fn) { on_acquired_.push_back(std::move(fn)); }

 private:
  void Loop();
  // One attempt or check on the dedicated connection; returns held().
  bool Tick();

  std::string conninfo_;
  int64_t key_;
  std::string name_;
  std::atomic<bool> held_{false};
  std::atomic<uint64_t> generation_{0};
  std::vector<std::function<void()>> on_acquired_;
  struct Conn;
  std::unique_ptr<Conn> conn_;  // used by the lock's thread only (and Start before it exists)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace gc
