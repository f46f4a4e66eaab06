// WakeableLoop: a background thread that runs one round of work, then waits
// until the round's deadline or a Wake(), whichever comes first, and runs
// the next round; until Stop().
//
// The notification worker, the push sender and the email notifier each
// repeated this by hand (a mutex, a condition variable, a `news` flag and a
// `stopping` flag). The wait is a condition-variable wait with a deadline,
// never a sleep loop, so a Wake() starts the next round at once and Stop()
// ends a wait at once. A Wake() that arrives while a round runs is not lost:
// the flag it sets is cleared only just before the next round starts, so
// that round runs without waiting.
//
// Thread-safety: Wake, Stop and stopping are thread-safe (also from the
// round itself, and before Start or after Stop, where Wake does nothing
// useful). Start is called once; Pause only from inside a round.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace gc {

class WakeableLoop {
 public:
  // One round. Returns how long to wait for a Wake() before the next round
  // at most (zero: start it at once), or nullopt: until a Wake().
  using Round = std::function<std::optional<std::chrono::milliseconds>()>;

  WakeableLoop() = default;
  WakeableLoop(const WakeableLoop&) = delete;
  WakeableLoop& operator=(const WakeableLoop&) = delete;
  ~WakeableLoop();  // Stop()

  // Starts the thread `name`; its first round starts at once. With `gather`
  // > 0, every round starts `gather` after the wait for it ended (only
  // Stop cuts that short): wake-ups arriving meanwhile are taken into that
  // round instead of causing one each, since it reads what caused them.
  void Start(std::string name, Round round, std::chrono::milliseconds gather = std::chrono::milliseconds(0));
  // Makes the next round start at once (after `gather`): now if the loop
  // waits, else as soon as the running round returns.
  void Wake();
  // Ends the wait (or the Pause) and joins the thread after the running
  // round returns. Idempotent.
  void Stop();
  bool stopping() const;
  // Waits `d` from inside a round (a backoff), ended early only by Stop:
  // a Wake() does not cut it short, and stays pending for the next round.
  // False once stopping.
  bool Pause(std::chrono::milliseconds d);

 private:
  void Run(const Round& round, std::chrono::milliseconds gather);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;     // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace gc
