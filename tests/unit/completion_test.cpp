// TimerQueue, Once and Await: the pieces requests use to wait for another
// node without parking a thread.
#include "node/common/completion.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace gc {
namespace {

using namespace std::chrono_literals;

// Stop() while the queue waits for a far deadline: the tasks (and the
// deadline the wait was given) are freed under the waiting thread. Found by
// `make sanitize` (heap-use-after-free: the wait read the deadline from the
// freed task after waking); this test reproduces it under AddressSanitizer.
TEST(TimerQueueTest, StopsWhileWaitingForAFarDeadline) {
  for (int round = 0; round < 20; ++round) {
    TimerQueue timers("test-timers");
    std::promise<void> ran;
    timers.After(1h, [] {});
    timers.After(0ms, [&] { ran.set_value(); });
    // After the immediate task the queue goes back to waiting on the hour.
    ASSERT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
    timers.Stop();
  }
}

TEST(TimerQueueTest, RunsTasksInDeadlineOrderNeverEarly) {
  TimerQueue timers("test-timers");
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> all;
  auto start = TimerQueue::Clock::now();
  std::vector<TimerQueue::Clock::duration> at(3);
  auto task = [&](int i) {
    return [&, i] {
      std::lock_guard<std::mutex> lock(mu);
      at[static_cast<size_t>(i)] = TimerQueue::Clock::now() - start;
      order.push_back(i);
      if (order.size() == 3) all.set_value();
    };
  };
  timers.After(60ms, task(2));
  timers.After(20ms, task(0));
  timers.After(40ms, task(1));
  ASSERT_EQ(all.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_GE(at[0], 20ms);
  EXPECT_GE(at[1], 40ms);
  EXPECT_GE(at[2], 60ms);
}

TEST(TimerQueueTest, StopDropsTasksNotYetDue) {
  std::atomic<bool> ran{false};
  {
    TimerQueue timers("test-timers");
    timers.After(1h, [&] { ran = true; });
    timers.Stop();
    timers.After(0ms, [&] { ran = true; });  // after Stop: dropped
  }
  EXPECT_FALSE(ran.load());
}

TEST(TimerQueueTest, ATaskThatThrowsDoesNotStopTheQueue) {
  TimerQueue timers("test-timers");
  std::promise<void> second;
  timers.After(0ms, [] { throw std::runtime_error("boom"); });
  timers.After(5ms, [&] { second.set_value(); });
  EXPECT_EQ(second.get_future().wait_for(5s), std::future_status::ready);
}

TEST(OnceTest, OnlyTheFirstClaimWins) {
  Once once;
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { wins += once.Claim() ? 1 : 0; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_TRUE(once.claimed());
}

TEST(AwaitTest, ReturnsWhatTheCallCompletesWithFromAnotherThread) {
  TimerQueue timers("test-timers");
  int v = Await<int>([&](std::function<void(int)> done) { timers.After(10ms, [done] { done(42); }); });
  EXPECT_EQ(v, 42);
  EXPECT_EQ(Await<int>([](std::function<void(int)> done) { done(7); }), 7);  // completed at once
}

}  // namespace
}  // namespace gc
