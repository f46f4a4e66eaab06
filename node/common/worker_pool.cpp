#include "node/common/worker_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "node/common/barrier.h"
#include "node/common/log.h"

namespace gc {

WorkerPool::WorkerPool(int threads, std::string name, int nice)
    : name_(std::move(name)), nice_(std::clamp(nice, 0, 19)) {
  for (int i = 0; i < threads; ++i) {
    threads_.push_back(SpawnGuarded(name_, [this] { Loop(); }));
  }
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

bool WorkerPool::TryPost(std::function<void()> task, size_t max_queued) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queued) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Stop(bool drop_queued) {
  std::deque<std::function<void()>> dropped;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    if (drop_queued) dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

int WorkerPool::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_;
}

void WorkerPool::Loop() {
  if (nice_ > 0) {
    // On Linux a thread has a nice value of its own, set through its tid.
    auto tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    int base = getpriority(PRIO_PROCESS, tid);
    if (errno == 0 && setpriority(PRIO_PROCESS, tid, std::min(19, base + nice_)) != 0) {
      LogWarn("cannot lower a pool thread's priority", {{"pool", name_}, {"error", std::strerror(errno)}});
    }
  }
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    Guard("worker task", name_, task);
    std::lock_guard<std::mutex> lock(mu_);
    --busy_;
  }
}

}  // namespace gc
