// WorkerPool: a fixed set of threads for blocking work (database calls,
// password hashing) so that I/O threads never block.
//
// Post() never blocks; tasks run in FIFO order. Stop() finishes queued tasks
// (or drops them) and joins. Thread-safe.
//
// A pool for CPU-heavy work that must not take the CPU from message traffic
// (password hashing) runs its threads `nice` steps below the process's
// priority: on a busy machine the scheduler then gives them what the rest of
// the node leaves, and on an idle one they run at full speed.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gc {

class WorkerPool {
 public:
  // `nice` 0..19: how much lower than the process the threads run (Linux
  // per-thread nice value; 0 = the same).
  WorkerPool(int threads, std::string name, int nice = 0);
  ~WorkerPool();  // Stop()

  void Post(std::function<void()> task);
  // Post, unless `max_queued` tasks already wait (running ones not counted):
  // then false, and `task` is dropped unrun. For bounded queues that refuse
  // work instead of growing (password hashing).
  bool TryPost(std::function<void()> task, size_t max_queued);
  // Joins the threads after the queued tasks ran, or, with `drop_queued`,
  // after the running ones finished (queued tasks are destroyed unrun).
  void Stop(bool drop_queued = false);
  size_t queued() const;
  int busy() const;
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  int busy_ = 0;                             // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
  std::string name_;
  int nice_ = 0;
};

}  // namespace gc
