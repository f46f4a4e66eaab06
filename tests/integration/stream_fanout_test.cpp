// Fan-out of committed events to many streams at once (issue 17): the events
// of one commit leave as shared runs of pre-built frames, one hand-over per
// connection. These tests check what that must not break, with real streams
// against a real node: every one of hundreds of sessions gets every event of
// concurrent bursts, intact and in stream_pos order, and nothing else;
// connections that vanish in the middle of a fan-out cost the others nothing
// and the node keeps running; and the two ways a frame leaves (written by
// the delivering thread to an idle connection, or queued for the
// connection's own I/O thread when it is busy or its socket is full) mix on
// one connection without a frame torn, lost, doubled or reordered.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

class StreamFanoutTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    // Hundreds of streams from this process.
    rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    // A send queue bound large enough that the stalled readers of
    // StalledAndFastReaders... are held, not closed as too slow.
    StartNode(std::string(kNoRateLimits) + "stream:\n  send_queue_bytes: 33554432\n");
  }

  // A group of members[0] that the others have joined.
  std::string GroupOf(const std::vector<TestUser>& members) {
    std::string g = NewGroup(members[0]);
    for (size_t i = 1; i < members.size(); ++i) {
      EXPECT_EQ(c_.Post("/api/v1/groups/" + PathSegment(g) + "/join", json::object(), members[i].token).status, 200);
    }
    return g;
  }

  // `senders` threads post `per_sender` messages each to `group` at once, so
  // that many of them share commits (and runs). Returns the bodies sent.
  std::set<std::string> Burst(const std::vector<TestUser>& from, const std::string& group, int per_sender,
                              const std::string& tag) {
    std::vector<std::thread> threads;
    std::string pad(300, 'p');  // frames of a few hundred bytes
    for (size_t s = 0; s < from.size(); ++s) {
      threads.emplace_back([&, s] {
        HttpClient c(node_->http_port());
        for (int i = 0; i < per_sender; ++i) {
          SendMessage(c, from[s].token, group, tag + "-" + std::to_string(s) + "-" + std::to_string(i) + pad);
        }
      });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> bodies;
    for (size_t s = 0; s < from.size(); ++s) {
      for (int i = 0; i < per_sender; ++i) bodies.insert(tag + "-" + std::to_string(s) + "-" + std::to_string(i) + pad);
    }
    return bodies;
  }
};

// Reads the message events of `ws` until `want` of them arrived (or 20 s
// passed): their bodies, checking that stream_pos only grows.
std::vector<std::string> MessagesOf(WsClient& ws, size_t want, bool* in_order) {
  std::vector<std::string> bodies;
  int64_t last = 0;
  *in_order = true;
  // Bounds on a failure only (a test that passes ends with its last frame):
  // wide enough for a sanitized node, which took 29 s for the 32 streams of
  // StalledAndFastReaders (`make test SANITIZE=address,undefined`).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (bodies.size() < want && std::chrono::steady_clock::now() < deadline) {
    auto f = ws.ReceiveJson(10000);
    if (!f) break;
    if ((*f)["type"] != "event" || (*f)["event"]["type"] != "message") continue;
    int64_t pos = (*f)["event"]["stream_pos"];
    if (pos <= last) *in_order = false;
    last = pos;
    bodies.push_back((*f)["event"]["content"]["body"]);
  }
  return bodies;
}

TEST_F(StreamFanoutTest, FiveHundredSessionsGetEveryEventOfConcurrentBurstsIntactAndInOrder) {
  // 10 members with 50 streams each, 4 of them sending 10 messages at once.
  std::vector<TestUser> members;
  for (int i = 0; i < 10; ++i) members.push_back(NewUser("fan"));
  std::string g = GroupOf(members);
  TestUser outsider = NewUser("out");
  std::string elsewhere = NewGroup(outsider);
  std::vector<std::unique_ptr<WsClient>> streams;
  for (int k = 0; k < 50; ++k) {
    for (const auto& m : members) streams.push_back(Connect(m));
  }
  auto wo = Connect(outsider);
  for (auto& ws : streams) UntilReady(*ws);
  UntilReady(*wo);

  std::set<std::string> sent = Burst({members.begin(), members.begin() + 4}, g, 10, "burst");
  ASSERT_EQ(sent.size(), 40u);
  int complete = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    bool in_order = false;
    auto got = MessagesOf(*streams[i], sent.size(), &in_order);
    EXPECT_TRUE(in_order) << "stream " << i;
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), sent) << "stream " << i;
    EXPECT_EQ(got.size(), sent.size()) << "stream " << i << ": a duplicate or a loss";
    if (got.size() == sent.size()) ++complete;
  }
  EXPECT_EQ(complete, 500);
  // The outsider's next message event is from their own group.
  Send(outsider, elsewhere, "only mine");
  bool in_order = false;
  auto got = MessagesOf(*wo, 1, &in_order);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "only mine");
}

TEST_F(StreamFanoutTest, ConnectionsVanishingMidFanOutCostTheOthersNothing) {
  std::vector<TestUser> members;
  for (int i = 0; i < 4; ++i) members.push_back(NewUser("gone"));
  std::string g = GroupOf(members);
  std::vector<std::unique_ptr<WsClient>> stay, leave;
  for (int k = 0; k < 50; ++k) {
    for (const auto& m : members) {
      stay.push_back(Connect(m));
      leave.push_back(Connect(m));
    }
  }
  for (auto& ws : stay) UntilReady(*ws);
  for (auto& ws : leave) UntilReady(*ws);

  // While 3 senders post 20 messages each, half the streams reset their
  // connections (RST, no close frame) one after another.
  std::thread dropper([&] {
    for (auto& ws : leave) {
      linger l{1, 0};
      setsockopt(ws->fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ws.reset();
    }
  });
  std::set<std::string> sent = Burst({members.begin(), members.begin() + 3}, g, 20, "mid");
  dropper.join();
  for (size_t i = 0; i < stay.size(); ++i) {
    bool in_order = false;
    auto got = MessagesOf(*stay[i], sent.size(), &in_order);
    EXPECT_TRUE(in_order) << "stream " << i;
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), sent) << "stream " << i;
  }
  // The node still runs and opens new streams that get new events.
  auto fresh = Connect(members[1]);
  UntilReady(*fresh);
  Send(members[0], g, "after the resets");
  bool in_order = false;
  auto got = MessagesOf(*fresh, 1, &in_order);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "after the resets");
}

// A counter's value from /metrics (0, and a failure, if it is not there).
double Metric(HttpClient& c, const std::string& name) { return MetricValue(c, name).value_or(0); }

TEST_F(StreamFanoutTest, StalledAndFastReadersAtOnceGetEveryFrameWholeAndInOrder) {
  // Fast readers read as frames arrive: their connections are idle between
  // commits, so the hub's thread writes to them itself. Stalled readers
  // read nothing until 3/4 of the messages
  // are sent: their sockets fill, a write stops in the middle of a frame or
  // finds no room, and the rest goes through the connection's queue; then
  // they catch up and are idle (written directly) again.
  std::vector<TestUser> members;
  for (int i = 0; i < 4; ++i) members.push_back(NewUser("mix"));
  std::string g = GroupOf(members);
  std::vector<std::unique_ptr<WsClient>> fast, stalled;
  for (int k = 0; k < 4; ++k) {
    for (const auto& m : members) {
      fast.push_back(Connect(m));
      stalled.push_back(Connect(m));
    }
  }
  for (auto& ws : fast) UntilReady(*ws);
  for (auto& ws : stalled) UntilReady(*ws);
  double direct0 = Metric(c_, "groupchat_stream_direct_writes_total");
  double queued0 = Metric(c_, "groupchat_stream_queued_deliveries_total");

  // 4 senders x 160 messages of ~12 kB: ~7.7 MB per stream, of which the
  // ~5.8 MB sent during the stall are more than a stalled socket's kernel
  // buffers hold (up to 4 MiB of send buffer here, and the receive
  // buffer), and less than this suite's stream.send_queue_bytes.
  const int kSenders = 4, kEach = 160, kTotal = kSenders * kEach;
  const std::string pad(12000, 'm');
  std::mutex mu;
  std::condition_variable stall_over;
  int sent_count = 0;
  std::vector<std::vector<std::string>> got(fast.size() + stalled.size());
  std::vector<int> ordered(got.size(), 0);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < got.size(); ++i) {
    readers.emplace_back([&, i] {
      bool fast_reader = i < fast.size();
      WsClient& ws = fast_reader ? *fast[i] : *stalled[i - fast.size()];
      if (!fast_reader) {  // the stall: no read until 3/4 of the messages are committed
        std::unique_lock<std::mutex> lock(mu);
        stall_over.wait_for(lock, std::chrono::seconds(60), [&] { return sent_count >= kTotal * 3 / 4; });
      }
      bool in_order = false;
      got[i] = MessagesOf(ws, kTotal, &in_order);
      ordered[i] = in_order;
    });
  }
  std::vector<std::thread> senders;
  std::set<std::string> sent;
  for (int s = 0; s < kSenders; ++s) {
    for (int k = 0; k < kEach; ++k) sent.insert("mix-" + std::to_string(s) + "-" + std::to_string(k) + pad);
    senders.emplace_back([&, s] {
      HttpClient c(node_->http_port());
      for (int k = 0; k < kEach; ++k) {
        SendMessage(c, members[s].token, g, "mix-" + std::to_string(s) + "-" + std::to_string(k) + pad);
        std::lock_guard<std::mutex> lock(mu);
        ++sent_count;
        stall_over.notify_all();
      }
    });
  }
  for (auto& t : senders) t.join();
  for (auto& t : readers) t.join();
  for (size_t i = 0; i < got.size(); ++i) {
    const char* kind = i < fast.size() ? "fast" : "stalled";
    EXPECT_TRUE(ordered[i]) << kind << " stream " << i;
    EXPECT_EQ(got[i].size(), sent.size()) << kind << " stream " << i << ": a loss, a duplicate or a torn frame";
    EXPECT_EQ(std::set<std::string>(got[i].begin(), got[i].end()), sent) << kind << " stream " << i;
  }
  // Both paths were taken (the stalled sockets forced the queue; the fast
  // ones and the stalled ones once caught up were idle), and no stream was
  // closed as too slow.
  EXPECT_GT(Metric(c_, "groupchat_stream_direct_writes_total"), direct0);
  EXPECT_GT(Metric(c_, "groupchat_stream_queued_deliveries_total"), queued0);
  for (auto& ws : stalled) EXPECT_TRUE(ws->open());
}

}  // namespace
}  // namespace gc::test
