// The harness's fault-injecting TCP proxy (tests/harness/fault_proxy.h),
// checked against a plain echo server before federation tests rely on it.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "tests/harness/fault_proxy.h"
#include "tests/harness/http_client.h"
#include "tests/support/loopback_listener.h"

namespace gc::test {
namespace {

using Clock = std::chrono::steady_clock;

// Echoes every byte of every connection back, one thread per connection.
class EchoServer {
 public:
  EchoServer() : listener_(16) {
    thread_ = std::thread([this] {
      while (true) {
        int c = listener_.Accept();
        if (c < 0) return;
        std::thread([c] {
          char buf[65536];
          ssize_t n;
          while ((n = recv(c, buf, sizeof buf, 0)) > 0) send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
          close(c);
        }).detach();
      }
    });
  }
  ~EchoServer() {
    listener_.Shutdown();
    thread_.join();
  }
  int port() const { return listener_.port(); }

 private:
  LoopbackListener listener_;
  std::thread thread_;
};

// Sends `data` and reads the same number of bytes back within `ms`.
std::string RoundTrip(RawConnection& c, const std::string& data, int ms) {
  if (!c.Send(data)) return "";
  std::string got;
  auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  while (got.size() < data.size() && Clock::now() < deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    got += c.ReadSome(std::max(1, left));
    if (c.PeerClosed(0) && got.size() < data.size()) break;
  }
  return got;
}

TEST(FaultProxy, PassesDelaysBlackHolesAndCutsConnections) {
  EchoServer echo;
  FaultProxy proxy(echo.port());
  RawConnection c(proxy.port());
  EXPECT_EQ(RoundTrip(c, "hello", 2000), "hello");

  proxy.Set(FaultProxy::Direction::kToNode, {FaultProxy::Fault::kDelay, 300, 0});
  auto t0 = Clock::now();
  EXPECT_EQ(RoundTrip(c, "slow", 3000), "slow");
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(280));

  // A black hole holds the bytes without closing anything; healing lets
  // them through.
  proxy.Set(FaultProxy::Direction::kFromNode, {FaultProxy::Fault::kBlackHole, 0, 0});
  proxy.Set(FaultProxy::Direction::kToNode, {});
  EXPECT_EQ(RoundTrip(c, "lost?", 300), "");
  proxy.Heal();
  EXPECT_EQ(c.ReadSome(2000), "lost?");

  // Bandwidth: 40 KB at 20 KB/s takes well over a second.
  proxy.Set(FaultProxy::Direction::kFromNode, {FaultProxy::Fault::kBandwidth, 0, 20000});
  t0 = Clock::now();
  std::string big(40000, 'b');
  EXPECT_EQ(RoundTrip(c, big, 10000), big);
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(1200));
  proxy.Heal();

  // Drop closes open connections and refuses new ones; reset does it with RST.
  proxy.Set(FaultProxy::Direction::kBoth, {FaultProxy::Fault::kDrop, 0, 0});
  EXPECT_TRUE(c.PeerClosed(2000));
  RawConnection refused(proxy.port());
  EXPECT_TRUE(refused.PeerClosed(2000));
  proxy.Heal();
  RawConnection again(proxy.port());
  EXPECT_EQ(RoundTrip(again, "back", 2000), "back");
  proxy.Set(FaultProxy::Direction::kToNode, {FaultProxy::Fault::kReset, 0, 0});
  EXPECT_TRUE(again.PeerClosed(2000));
}

}  // namespace
}  // namespace gc::test
