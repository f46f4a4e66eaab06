// WakeableLoop (node/common/wakeable_loop.h): a wake-up starts a round, a
// wake-up during a round is not lost, Stop ends a long wait or pause at once.
// Every wait here is on a condition with a generous deadline; "at once" is
// checked against a round deadline of an hour, so no assertion depends on
// how loaded the machine is.
#include "node/common/wakeable_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace gc {
namespace {

using std::chrono::milliseconds;
constexpr auto kDeadline = std::chrono::seconds(30);  // far beyond any wait below
constexpr auto kHour = std::chrono::milliseconds(3600 * 1000);

// Counts rounds; lets a test wait for the n-th.
class Rounds {
 public:
  void Add() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++n_;
    }
    cv_.notify_all();
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return n_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return n_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

TEST(WakeableLoop, TheFirstRoundRunsAtOnceAndAWakeStartsTheNext) {
  Rounds rounds;
  WakeableLoop loop;
  loop.Start("test-loop", [&]() -> std::optional<milliseconds> {
    rounds.Add();
    return std::nullopt;  // until woken
  });
  ASSERT_TRUE(rounds.WaitFor(1));
  loop.Wake();
  ASSERT_TRUE(rounds.WaitFor(2)) << "a Wake() started no round";
  loop.Wake();
  ASSERT_TRUE(rounds.WaitFor(3));
  loop.Stop();
}

TEST(WakeableLoop, AWakeDuringARoundStartsTheNextOne) {
  // The first round waits for the test's Wake() to have happened while it
  // runs; the loop must then not wait (it would wait an hour).
  std::mutex mu;
  std::condition_variable cv;
  bool woke = false, in_round = false;
  Rounds rounds;
  WakeableLoop loop;
  loop.Start("test-loop", [&]() -> std::optional<milliseconds> {
    if (rounds.count() == 0) {
      std::unique_lock<std::mutex> lock(mu);
      in_round = true;
      cv.notify_all();
      cv.wait_for(lock, kDeadline, [&] { return woke; });
    }
    rounds.Add();
    return kHour;
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return in_round; }));
  }
  loop.Wake();
  {
    std::lock_guard<std::mutex> lock(mu);
    woke = true;
  }
  cv.notify_all();
  EXPECT_TRUE(rounds.WaitFor(2)) << "the Wake() during the first round was lost";
  loop.Stop();
}

TEST(WakeableLoop, StopEndsAnHourLongWaitAtOnce) {
  Rounds rounds;
  WakeableLoop loop;
  loop.Start("test-loop", [&]() -> std::optional<milliseconds> {
    rounds.Add();
    return kHour;
  });
  ASSERT_TRUE(rounds.WaitFor(1));
  auto t0 = std::chrono::steady_clock::now();
  loop.Stop();  // joins
  EXPECT_LT(std::chrono::steady_clock::now() - t0, kDeadline);
  EXPECT_EQ(rounds.count(), 1);
  EXPECT_TRUE(loop.stopping());
}

TEST(WakeableLoop, StopEndsAPauseAndAWakeDoesNot) {
  std::atomic<int> pauses{0};
  std::atomic<bool> pause_result{true};
  Rounds entered;
  WakeableLoop loop;
  loop.Start("test-loop", [&]() -> std::optional<milliseconds> {
    entered.Add();
    pause_result = loop.Pause(kHour);
    ++pauses;
    return std::nullopt;
  });
  ASSERT_TRUE(entered.WaitFor(1));
  loop.Wake();  // must not end the pause: the round is still in it
  auto t0 = std::chrono::steady_clock::now();
  loop.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, kDeadline);
  EXPECT_EQ(pauses.load(), 1);
  EXPECT_FALSE(pause_result.load()) << "Pause must say the loop is stopping";
  EXPECT_EQ(entered.count(), 1);
}

TEST(WakeableLoop, ARoundReturningZeroRunsTheNextAtOnce) {
  Rounds rounds;
  WakeableLoop loop;
  loop.Start("test-loop", [&]() -> std::optional<milliseconds> {
    rounds.Add();
    return rounds.count() < 5 ? std::optional<milliseconds>(milliseconds(0)) : std::nullopt;
  });
  ASSERT_TRUE(rounds.WaitFor(5));
  loop.Stop();
}

TEST(WakeableLoop, StopEndsTheGatherBeforeARound) {
  // With a gather, every round (the first too) starts only after it. The
  // gather is an hour and Stop ends it: no round runs, and Stop returns.
  Rounds rounds;
  WakeableLoop loop;
  loop.Start(
      "test-loop",
      [&]() -> std::optional<milliseconds> {
        rounds.Add();
        return std::nullopt;
      },
      kHour);
  loop.Stop();
  EXPECT_EQ(rounds.count(), 0) << "the first round also waits for the gather";
}

TEST(WakeableLoop, StopAndWakeWithoutStartAreHarmless) {
  WakeableLoop loop;
  loop.Wake();
  loop.Stop();
  loop.Stop();
  EXPECT_TRUE(loop.stopping());
}

}  // namespace
}  // namespace gc
