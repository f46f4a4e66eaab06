// The barrier (node/common/barrier.h): a handler that throws ends its own
// work, never the loop or the process.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>

#include "node/common/barrier.h"
#include "node/common/worker_pool.h"

namespace gc {
namespace {

namespace asio = boost::asio;

TEST(Barrier, AnIoContextKeepsRunningAfterAHandlerThrows) {
  asio::io_context ioc;
  uint64_t before = HandlerExceptions();
  std::string request_id = "req-42";
  int escaped = 0, ran = 0;
  // The first handler throws from inside a scope (as a connection's handler
  // does), the second throws something that is not a std::exception, the
  // third is ordinary work that must still run.
  asio::post(ioc, [&] {
    HandlerScope scope("test handler", request_id, [&] { ++escaped; });
    std::string().at(1);  // std::out_of_range
  });
  asio::post(ioc, [] { throw 7; });
  asio::post(ioc, [&] { ++ran; });
  RunGuarded("test-io", [&] { ioc.run(); });
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(escaped, 1);
  EXPECT_EQ(HandlerExceptions() - before, 2u);
}

TEST(Barrier, OnlyTheInnermostScopeIsEnded) {
  int inner = 0, outer = 0;
  EXPECT_FALSE(Guard("test", "x", [&] {
    HandlerScope a("outer", "1", [&] { ++outer; });
    HandlerScope b("inner", "2", [&] { ++inner; });
    throw std::length_error("basic_string");
  }));
  EXPECT_EQ(inner, 1);
  EXPECT_EQ(outer, 0);
}

TEST(Barrier, AScopeWhoseExceptionWasCaughtIsForgotten) {
  int stale = 0;
  try {
    HandlerScope s("caught on the way", "1", [&] { ++stale; });
    throw std::runtime_error("handled by its caller");
  } catch (const std::runtime_error&) {
  }
  // New work: an escape now must not end the earlier, finished scope.
  EXPECT_FALSE(Guard("test", "x", [&] {
    HandlerScope s("new work", "2");
    throw std::runtime_error("boom");
  }));
  EXPECT_EQ(stale, 0);
}

TEST(Barrier, AWorkerPoolKeepsWorkingAfterATaskThrows) {
  WorkerPool pool(1, "test-pool");
  pool.Post([] { throw std::bad_alloc(); });
  pool.Post([] { throw "not even an exception class"; });
  std::promise<int> done;
  pool.Post([&] { done.set_value(1); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get(), 1);
}

TEST(Barrier, AGuardedThreadResumesItsLoop) {
  std::atomic<int> runs{0};
  std::thread t = SpawnGuarded("test-loop", [&] {
    if (++runs < 3) throw std::runtime_error("first two rounds fail");
  });
  t.join();
  EXPECT_EQ(runs.load(), 3);
}

}  // namespace
}  // namespace gc
