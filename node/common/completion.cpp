#include "node/common/completion.h"

#include <pthread.h>

#include "node/common/log.h"

namespace gc {

TimerQueue::TimerQueue(std::string name) {
  thread_ = std::thread([this] { Loop(); });
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

TimerQueue::~TimerQueue() { Stop(); }

void TimerQueue::After(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    tasks_.emplace(Clock::now() + delay, std::move(task));
  }
  cv_.notify_one();
}

void TimerQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    tasks_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TimerQueue::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      continue;
    }
    auto first = tasks_.begin();
    if (first->first > Clock::now()) {
      // Wakes for the earliest deadline, or earlier when one is added. A
      // copy: the wait reads its deadline again after every wakeup, and
      // Stop() may have freed the task (and its key) in between
      // (AddressSanitizer: heap-use-after-free).
      const Clock::time_point deadline = first->first;
      cv_.wait_until(lock, deadline);
      continue;
    }
    std::function<void()> task = std::move(first->second);
    tasks_.erase(first);
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      LogError("timer task threw", {{"error", e.what()}});
    }
    lock.lock();
  }
}

}  // namespace gc
