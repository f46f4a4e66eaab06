// Completions: waiting for remote answers without parking a thread.
//
// TimerQueue gives such waits their deadlines, Once decides which of the
// competing completions (answer, deadline, shutdown) wins, and Await is the
// synchronous form of an asynchronous call for callers that may block.
//
// A request that waits for another node (a join, a send to a remote home)
// must not park a thread until the answer comes: it registers what to do on
// completion and, here, what to do if the completion has not come by a
// deadline. One thread sleeps until the earliest deadline and runs its task;
// tasks must be short (post real work to a WorkerPool). A task cannot be
// cancelled: whoever completes first wins, so tasks check a once-flag of
// their own (see Once below).
//
// Thread-safe. Stop() drops the tasks not yet due and joins the thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace gc {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TimerQueue(std::string name);
  ~TimerQueue();  // Stop()

  // Runs `task` on the timer thread once `delay` has passed (never before).
  // After Stop() the task is dropped.
  void After(std::chrono::milliseconds delay, std::function<void()> task);
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                                           // GUARDED_BY(mu_)
  std::thread thread_;
};

// A completion that may be reached from several paths (an answer, a
// deadline, a shutdown): the first Claim() returns true, every later one false.
class Once {
 public:
  bool Claim() { return !claimed_.exchange(true); }
  bool claimed() const { return claimed_.load(); }

 private:
  std::atomic<bool> claimed_{false};
};

// Starts an asynchronous call, `start(done)`, and blocks until it calls
// `done`: for callers allowed to block (a home sequencing a remote user's
// event, the CLI). The call's own deadline bounds the wait.
template <typename T, typename Start>
T Await(Start&& start) {
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  start([p](T v) { p->set_value(std::move(v)); });
  return f.get();
}

}  // namespace gc
