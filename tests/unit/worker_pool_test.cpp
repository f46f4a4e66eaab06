// WorkerPool's `nice`: a pool for CPU-heavy work (password hashing) runs its
// threads below the process's priority, a plain pool at it (issue 17: a login
// burst must not take the CPU from message traffic).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <future>

#include "node/common/worker_pool.h"

namespace gc {
namespace {

int ThisThreadsNice() {
  errno = 0;
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

int NiceInPool(int nice) {
  WorkerPool pool(1, "gc-test-nice", nice);
  std::promise<int> seen;
  pool.Post([&] { seen.set_value(ThisThreadsNice()); });
  return seen.get_future().get();
}

TEST(WorkerPoolNice, ThreadsRunTheGivenStepsBelowTheProcess) {
  int base = ThisThreadsNice();
  ASSERT_LE(base, 14) << "the test runs too low already to see 5 more steps";
  EXPECT_EQ(NiceInPool(0), base);
  EXPECT_EQ(NiceInPool(5), base + 5);
  EXPECT_EQ(NiceInPool(40), 19) << "clamped to the lowest priority";
  EXPECT_EQ(ThisThreadsNice(), base) << "the calling thread keeps its own";
}

}  // namespace
}  // namespace gc
