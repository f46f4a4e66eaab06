#include "node/common/wakeable_loop.h"

#include "node/common/barrier.h"

namespace gc {

WakeableLoop::~WakeableLoop() { Stop(); }

void WakeableLoop::Start(std::string name, Round round, std::chrono::milliseconds gather) {
  thread_ = SpawnGuarded(std::move(name), [this, round = std::move(round), gather] { Run(round, gather); });
}

void WakeableLoop::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void WakeableLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool WakeableLoop::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool WakeableLoop::Pause(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopping_; });
  return !stopping_;
}

void WakeableLoop::Run(const Round& round, std::chrono::milliseconds gather) {
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<std::chrono::milliseconds> wait = std::chrono::milliseconds(0);
  while (!stopping_) {
    if (!wait) {
      cv_.wait(lock, [&] { return stopping_ || woken_; });
    } else if (wait->count() > 0) {
      cv_.wait_for(lock, *wait, [&] { return stopping_ || woken_; });
    }
    if (stopping_) return;
    if (gather.count() > 0 && cv_.wait_for(lock, gather, [&] { return stopping_; })) return;
    woken_ = false;  // cleared before the round: a Wake() during it starts the next one
    lock.unlock();
    wait = round();
    lock.lock();
  }
}

}  // namespace gc
