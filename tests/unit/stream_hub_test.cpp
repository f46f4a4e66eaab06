// StreamHub's batch fan-out (issue 17): the events of one commit go out as
// runs of consecutive events with the same audience, each run built once and
// handed to every receiving connection as the same immutable object, in
// stream_pos order per connection. The connections here record what the hub
// hands them (the WebSocket side is covered by
// tests/integration/stream_fanout_test.cpp with real streams).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "node/stream/stream_hub.h"

namespace gc {
namespace {

class Recorder : public StreamConnection {
 public:
  void Deliver(const Frame& frame, int64_t pos, bool) override { singles.emplace_back(frame, pos); }
  void Flush() override {}
  void DeliverRun(const FrameRunPtr& run) override { runs.push_back(run); }
  void Kick(uint16_t, const std::string&) override {}
  int64_t session_id() const override { return 1; }

  // The stream positions handed over, in order.
  std::vector<int64_t> Positions() const {
    std::vector<int64_t> out;
    for (const auto& r : runs) {
      for (const auto& f : r->frames) out.push_back(f.second);
    }
    return out;
  }
  std::vector<std::pair<Frame, int64_t>> singles;
  std::vector<FrameRunPtr> runs;
};

StreamEvent Event(int64_t pos, const std::string& group) {
  return {pos, {{"stream_pos", pos}, {"group_id", group}, {"type", "message"}}};
}

// The payload of a server text frame built by WsTextFrame.
std::string Payload(const std::string& frame) {
  size_t n = static_cast<unsigned char>(frame[1]);
  size_t hdr = n < 126 ? 2 : n == 126 ? 4 : 10;
  return frame.substr(hdr);
}

TEST(StreamHub, ABatchGoesOutAsSharedRunsInStreamOrder) {
  StreamHub hub(nullptr, 5);
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>(), c = std::make_shared<Recorder>();
  auto a2 = std::make_shared<Recorder>();  // a's second stream
  hub.Attach("a", a);
  hub.Attach("a", a2);
  hub.Attach("b", b);
  hub.Attach("c", c);
  const std::vector<std::string> g1 = {"a", "b", "nobody"}, g2 = {"a", "c"}, none;
  const std::vector<std::string> only_c = {"c"};

  hub.BeginBatch();
  EXPECT_TRUE(hub.AudienceConnected(g1, none));
  hub.Publish(Event(1, "g1"), g1, none);
  hub.Publish(Event(2, "g1"), g1, none);
  hub.Publish(Event(3, "g2"), g2, none);
  hub.Publish(Event(4, "g1"), g1, only_c);  // an extra receiver: a run of its own
  hub.Publish(Event(5, "g1"), g1, none);
  EXPECT_TRUE(a->runs.empty()) << "nothing leaves before the batch ends";
  hub.EndBatch();

  EXPECT_EQ(a->Positions(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(a2->Positions(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(b->Positions(), (std::vector<int64_t>{1, 2, 4, 5}));
  EXPECT_EQ(c->Positions(), (std::vector<int64_t>{3, 4}));
  // Runs: [1,2] [3] [4] [5]; every receiver holds the very same objects.
  ASSERT_EQ(a->runs.size(), 4u);
  EXPECT_EQ(a->runs[0]->frames.size(), 2u);
  EXPECT_EQ(a->runs[0].get(), b->runs[0].get());
  EXPECT_EQ(a->runs[0].get(), a2->runs[0].get());
  EXPECT_EQ(a->runs[0]->frames[0].first.get(), b->runs[0]->frames[0].first.get());
  EXPECT_EQ(a->runs[1].get(), c->runs[0].get());
  EXPECT_EQ(a->runs[2].get(), c->runs[1].get());
  // A run's byte count is its frames' sizes, and each frame is the event.
  size_t bytes = 0;
  for (const auto& [f, pos] : a->runs[0]->frames) {
    bytes += f->size();
    auto j = nlohmann::json::parse(Payload(*f));
    EXPECT_EQ(j["type"], "event");
    EXPECT_EQ(j["event"]["stream_pos"], pos);
  }
  EXPECT_EQ(a->runs[0]->bytes, bytes);
  EXPECT_EQ(hub.frames_delivered(), 5u * 2 + 4 + 2);
}

TEST(StreamHub, OutsideABatchEachEventLeavesAtOnce) {
  StreamHub hub(nullptr, 5);
  auto a = std::make_shared<Recorder>();
  hub.Attach("a", a);
  const std::vector<std::string> g = {"a"}, none;
  hub.Publish(Event(7, "g"), g, none);
  ASSERT_EQ(a->runs.size(), 1u);
  EXPECT_EQ(a->Positions(), (std::vector<int64_t>{7}));
}

TEST(StreamHub, AudienceConnectedFollowsAttachOutsideABatch) {
  StreamHub hub(nullptr, 5);
  const std::vector<std::string> g = {"a", "b"}, none, extra = {"x"};
  EXPECT_FALSE(hub.AudienceConnected(g, none));
  auto x = std::make_shared<Recorder>();
  hub.Attach("x", x);
  EXPECT_FALSE(hub.AudienceConnected(g, none));
  EXPECT_TRUE(hub.AudienceConnected(g, extra));
  auto b = std::make_shared<Recorder>();
  hub.Attach("b", b);
  EXPECT_TRUE(hub.AudienceConnected(g, none));
  hub.Detach("b", b.get());
  EXPECT_FALSE(hub.AudienceConnected(g, none));
}

TEST(StreamHub, DetachedConnectionsGetNothingFromTheBatchEnd) {
  StreamHub hub(nullptr, 5);
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  hub.Attach("a", a);
  hub.Attach("b", b);
  const std::vector<std::string> g = {"a", "b"}, none;
  hub.BeginBatch();
  hub.Publish(Event(1, "g"), g, none);
  hub.Detach("b", b.get());  // closed between the commit and the fan-out
  hub.EndBatch();
  EXPECT_EQ(a->Positions(), (std::vector<int64_t>{1}));
  EXPECT_TRUE(b->runs.empty());
}

// Shutdown waits for the streams to go (Node::Serve after CloseAll): the
// wait ends when the last one detaches, woken by it, and otherwise at its
// bound.
TEST(StreamHub, WaitUntilNoConnectionsEndsWhenTheLastStreamDetaches) {
  StreamHub hub(nullptr, 5);
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  hub.Attach("a", a);
  hub.Attach("b", b);
  EXPECT_FALSE(hub.WaitUntilNoConnections(std::chrono::milliseconds(20))) << "two streams are still open";
  auto start = std::chrono::steady_clock::now();
  std::thread leaver([&] {
    hub.Detach("a", a.get());
    hub.Detach("b", b.get());
  });
  const auto bound = std::chrono::seconds(60);
  EXPECT_TRUE(hub.WaitUntilNoConnections(bound));
  // Woken by the last Detach, not by the bound running out.
  EXPECT_LT(std::chrono::steady_clock::now() - start, bound);
  leaver.join();
  EXPECT_TRUE(hub.WaitUntilNoConnections(std::chrono::milliseconds(0)));
  EXPECT_EQ(hub.connections(), 0);
}

}  // namespace
}  // namespace gc
