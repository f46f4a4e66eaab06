// The real-time stream with real WebSocket clients: who receives what,
// resumption without gap or duplicate, membership followed live, typing,
// presence, bad frames, auth, slow consumers, and a node restart.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

bool IsEvent(const json& f) { return f["type"] == "event"; }
bool IsMessage(const json& f, const std::string& body) {
  return f["type"] == "event" && f["event"]["type"] == "message" && f["event"]["content"].value("body", "") == body;
}

// A node of its own (rate limits off, plus `stream_yaml` lines under
// `stream:`) for tests that need special settings, and a quick registration.
std::unique_ptr<NodeProcess> StartedNode(const std::string& stream_yaml = "") {
  return StartNodeWith(kNoRateLimits + (stream_yaml.empty() ? "" : "stream:\n" + stream_yaml));
}

std::string RegisterToken(NodeProcess& node, const std::string& name) {
  HttpClient c = node.Client();
  return RegisterAs(c, name).token;
}

class StreamTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    StartNode(std::string(kNoRateLimits) + "stream:\n  typing_ttl_s: 1\n  max_frame_bytes: 1024\n");
  }
  TestUser NewUser() { return NodeTest::NewUser("w"); }
  // A group of `owner` that `members` have joined.
  std::string NewGroup(const TestUser& owner, std::vector<const TestUser*> members = {}) {
    std::string g = NodeTest::NewGroup(owner);
    for (auto* m : members) EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), m->token).status, 200);
    return g;
  }
};

TEST_F(StreamTest, DeliversToEveryMemberAndNoOneElse) {
  TestUser a = NewUser(), b = NewUser(), outsider = NewUser();
  std::string g = NewGroup(a, {&b});
  std::string other = NewGroup(outsider);
  auto wa = Connect(a), wb = Connect(b), wo = Connect(outsider);
  for (auto* w : {wa.get(), wb.get(), wo.get()}) UntilReady(*w);
  json m = Send(a, g, "to the group");
  for (auto* w : {wa.get(), wb.get()}) {
    auto f = w->WaitFor([](const json& f) { return IsEvent(f); }, 5000);
    ASSERT_TRUE(f);
    EXPECT_EQ((*f)["event"]["event_id"], m["event_id"]);
    EXPECT_EQ((*f)["event"]["stream_pos"], m["stream_pos"]);
  }
  // Every event the outsider gets until its marker is from their own group
  // (a sender is answered once its events are durable, before they are
  // published: their own group's first events may still arrive now).
  Send(outsider, other, "marker");
  int foreign = 0;
  auto f = wo->WaitFor(
      [&](const json& f) {
        if (!IsEvent(f)) return false;
        if (f["event"]["group_id"] != other) ++foreign;
        return f["event"]["content"].value("body", "") == "marker";
      },
      5000);
  ASSERT_TRUE(f);
  EXPECT_EQ(foreign, 0);
}

TEST_F(StreamTest, EditsDeletesAndReactionsArriveLive) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  auto wb = Connect(b);
  UntilReady(*wb);
  json m = Send(a, g, "v1");
  std::string id = m["event_id"];
  std::string base = "/api/v1/groups/" + G(g) + "/messages/" + G(id);
  ASSERT_EQ(c_.Patch(base, {{"body", "v2"}}, a.token).status, 200);
  ASSERT_EQ(c_.Post(base + "/reactions", {{"key", "🔥"}}, b.token).status, 200);
  ASSERT_EQ(c_.Delete(base, a.token).status, 200);
  std::vector<std::string> types;
  for (int i = 0; i < 4; ++i) {
    auto f = wb->WaitFor([](const json& f) { return IsEvent(f); }, 5000);
    ASSERT_TRUE(f);
    types.push_back((*f)["event"]["type"]);
    if ((*f)["event"]["type"] == "message.edit") {
      EXPECT_EQ((*f)["event"]["content"]["body"], "v2");
    }
    if ((*f)["event"]["type"] != "message") {
      EXPECT_EQ((*f)["event"]["content"]["event_id"], id);
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"message", "message.edit", "reaction", "message.delete"}));
}

TEST_F(StreamTest, ResumesWithSinceWithoutGapOrDuplicate) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  int64_t last = 0;
  {
    auto wb = Connect(b);
    UntilReady(*wb);
    Send(a, g, "before-0");
    auto f = wb->WaitFor([](const json& f) { return IsMessage(f, "before-0"); }, 5000);
    ASSERT_TRUE(f);
    last = (*f)["event"]["stream_pos"];
    wb->Close();
  }
  // Messages sent while b is away, then more while b reconnects.
  for (int i = 0; i < 30; ++i) Send(a, g, "away-" + std::to_string(i));
  std::atomic<bool> go{true};
  std::thread sender([&] {
    HttpClient c(node_->http_port());
    for (int i = 0; i < 60 && go; ++i) {
      c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "during-" + std::to_string(i)}}, a.token);
    }
  });
  auto wb = Connect(b, last);
  std::vector<int64_t> seqs;
  std::set<int64_t> positions;
  int64_t prev_pos = last;
  for (int guard = 0; guard < 500; ++guard) {
    auto fr = wb->ReceiveJson(5000);
    if (!fr) break;
    if ((*fr)["type"] != "event") continue;
    int64_t pos = (*fr)["event"]["stream_pos"];
    EXPECT_GT(pos, prev_pos) << "out of order or duplicate";
    prev_pos = pos;
    EXPECT_TRUE(positions.insert(pos).second);
    seqs.push_back((*fr)["event"]["seq"]);
    if ((*fr)["event"]["content"].value("body", "") == "during-59") break;
  }
  go = false;
  sender.join();
  // Every message of the group after `last`, in order, exactly once: seqs
  // are contiguous.
  ASSERT_EQ(seqs.size(), 90u);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
}

TEST_F(StreamTest, MembershipIsFollowedLive) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a);
  auto wb = Connect(b);
  UntilReady(*wb);
  // Joining starts delivery at once.
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token).status, 200);
  auto joined = wb->WaitFor([&](const json& f) { return IsEvent(f) && f["event"]["type"] == "member"; }, 5000);
  ASSERT_TRUE(joined);
  Send(a, g, "welcome");
  ASSERT_TRUE(wb->WaitFor([](const json& f) { return IsMessage(f, "welcome"); }, 5000));
  // Leaving stops it at once: b sees its own leave, then nothing of g.
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/leave", json::object(), b.token).status, 200);
  auto left = wb->WaitFor([&](const json& f) { return IsEvent(f) && f["event"]["content"]["membership"] == "leave"; },
                          5000);
  ASSERT_TRUE(left);
  Send(a, g, "after you left");
  std::string mine = NewGroup(b);
  Send(b, mine, "marker");
  auto next = wb->WaitFor([](const json& f) { return IsEvent(f) && f["event"]["type"] == "message"; }, 5000);
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)["event"]["content"]["body"], "marker");
  // Kicked users learn of it too.
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token);
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/kick", {{"user_id", b.id}}, a.token).status, 200);
  ASSERT_TRUE(wb->WaitFor([&](const json& f) {
    return IsEvent(f) && f["event"]["type"] == "member" && f["event"]["content"]["membership"] == "leave" &&
           f["event"]["sender"] == a.id;
  }, 5000));
}

TEST_F(StreamTest, TypingIsSentAndExpires) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  auto wa = Connect(a), wb = Connect(b);
  UntilReady(*wa);
  UntilReady(*wb);
  ASSERT_TRUE(wb->SendText(json{{"type", "typing"}, {"group_id", g}}.dump()));
  auto t = wa->WaitFor([](const json& f) { return f["type"] == "typing"; }, 5000);
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)["user_id"], b.id);
  EXPECT_EQ((*t)["typing"], true);
  EXPECT_EQ((*t)["group_id"], g);
  // typing_ttl_s is 1: it expires on its own.
  auto stop = wa->WaitFor([](const json& f) { return f["type"] == "typing"; }, 5000);
  ASSERT_TRUE(stop);
  EXPECT_EQ((*stop)["typing"], false);
  // Over HTTP as well; typing in a group one is not in is refused.
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/typing", {{"typing", true}}, a.token).status, 204);
  ASSERT_TRUE(wb->WaitFor([&](const json& f) { return f["type"] == "typing" && f["user_id"] == a.id; }, 5000));
  TestUser outsider = NewUser();
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/typing", {{"typing", true}}, outsider.token).status, 403);
  auto wo = Connect(outsider);
  UntilReady(*wo);
  wo->SendText(json{{"type", "typing"}, {"group_id", g}}.dump());
  auto err = wo->WaitFor([](const json& f) { return f["type"] == "error"; }, 5000);
  ASSERT_TRUE(err);
  EXPECT_EQ((*err)["code"], "forbidden");
}

TEST_F(StreamTest, PresenceFollowsOpenStreams) {
  TestUser a = NewUser(), b = NewUser();
  NewGroup(a, {&b});
  auto wa = Connect(a);
  UntilReady(*wa);
  EXPECT_EQ(c_.Get("/api/v1/users/" + G(b.id), a.token).json()["presence"], "offline");
  {
    auto wb = Connect(b);
    auto on = wa->WaitFor([&](const json& f) { return f["type"] == "presence" && f["user_id"] == b.id; }, 5000);
    ASSERT_TRUE(on);
    EXPECT_EQ((*on)["presence"], "online");
    EXPECT_EQ(c_.Get("/api/v1/users/" + G(b.id), a.token).json()["presence"], "online");
    // A second stream of b changes nothing; closing one of two keeps b online.
    auto wb2 = Connect(b);
    wb2->Close();
    wb->Close();
  }
  // b ends offline. (wb2 may attach to the hub only after wb's close was
  // seen, so an online/offline pair can come first: wait for the last word.)
  auto off = wa->WaitFor([&](const json& f) {
    return f["type"] == "presence" && f["user_id"] == b.id && f["presence"] == "offline";
  }, 5000);
  ASSERT_TRUE(off);
  bool offline = false;
  for (int i = 0; i < 100 && !offline; ++i) {
    offline = c_.Get("/api/v1/users/" + G(b.id), a.token).json()["presence"] == "offline";
    if (!offline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(offline);
}

TEST_F(StreamTest, NewStreamsLearnWhoIsAlreadyOnline) {
  TestUser a = NewUser(), b = NewUser(), stranger = NewUser();
  NewGroup(a, {&b});
  auto wa = Connect(a);
  UntilReady(*wa);
  auto ws = Connect(stranger);  // online, but shares no group with b
  UntilReady(*ws);
  auto wb = Connect(b);
  UntilReady(*wb);
  std::vector<json> skipped;
  auto p = wb->WaitFor([&](const json& f) { return f["type"] == "presence" && f["user_id"] == a.id; }, 5000, &skipped);
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)["presence"], "online");
  for (auto& f : wb->Drain(500)) skipped.push_back(f);
  for (auto& f : skipped) EXPECT_NE(f.value("user_id", ""), stranger.id) << f.dump();
}

TEST_F(StreamTest, PingPongAndBadFrames) {
  TestUser a = NewUser();
  auto w = Connect(a);
  UntilReady(*w);
  w->SendText(R"({"type":"ping","id":42})");
  auto pong = w->ReceiveJson(5000);
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["type"], "pong");
  EXPECT_EQ((*pong)["id"], 42);
  for (std::string bad : {std::string("not json"), std::string("[1,2]"), std::string("{}"), std::string(R"({"type":7})"),
                          std::string(R"({"type":"launch"})"), std::string(R"({"type":"typing"})"),
                          std::string(R"({"type":"typing","group_id":"#nope:acme.test"})"),
                          std::string(R"({"type":"typing","group_id":"x","typing":"yes"})")}) {
    ASSERT_TRUE(w->SendText(bad));
    auto e = w->WaitFor([](const json& f) { return f["type"] == "error"; }, 5000);
    ASSERT_TRUE(e) << bad;
    EXPECT_FALSE((*e)["message"].get<std::string>().empty());
  }
  w->SendFrame(2, "binary");
  ASSERT_TRUE(w->WaitFor([](const json& f) { return f["type"] == "error"; }, 5000));
  // Still alive after all that.
  w->SendText(R"({"type":"ping"})");
  ASSERT_TRUE(w->WaitFor([](const json& f) { return f["type"] == "pong"; }, 5000));
  // A frame over stream.max_frame_bytes (1024) closes with 1009.
  w->SendText(std::string(R"({"type":"ping","pad":")") + std::string(2000, 'x') + "\"}");
  WsMessage m;
  for (int i = 0; i < 20; ++i) {
    m = w->Receive(2000);
    if (m.kind == WsMessage::kClose || m.kind == WsMessage::kTimeout) break;
  }
  EXPECT_EQ(m.kind, WsMessage::kClose);
  EXPECT_EQ(m.close_code, 1009);
}

TEST_F(StreamTest, UnmaskedAndGarbageFramesCloseTheConnectionOnly) {
  TestUser a = NewUser();
  {
    auto w = Connect(a);
    UntilReady(*w);
    w->SendFrame(1, R"({"type":"ping"})", true, /*mask=*/false);  // clients must mask
    WsMessage m = w->Receive(5000);
    EXPECT_EQ(m.kind, WsMessage::kClose);
  }
  {
    auto w = Connect(a);
    UntilReady(*w);
    w->SendRaw(std::string("\xff\xff\xff\xff\xff\xff\xff\xff garbage", 17));
    WsMessage m = w->Receive(5000);
    EXPECT_EQ(m.kind, WsMessage::kClose);
  }
  {
    // A text frame that is not UTF-8 fails the connection (RFC 6455: 1007).
    auto w = Connect(a);
    UntilReady(*w);
    w->SendText("{\"type\":\"\xff\"}");
    WsMessage m = w->Receive(5000);
    EXPECT_EQ(m.kind, WsMessage::kClose);
    EXPECT_EQ(m.close_code, 1007);
  }
  auto w = Connect(a);
  UntilReady(*w);
  w->SendText(R"({"type":"ping"})");
  EXPECT_TRUE(w->WaitFor([](const json& f) { return f["type"] == "pong"; }, 5000));
}

TEST_F(StreamTest, RefusesBadAuthAndBadSince) {
  TestUser a = NewUser();
  WsClient none(node_->http_port(), "/api/v1/stream");
  EXPECT_EQ(none.status(), 401);
  EXPECT_EQ(json::parse(none.body())["error"]["code"], "unauthorized");
  WsClient bad(node_->http_port(), StreamTarget("gct_nope"));
  EXPECT_EQ(bad.status(), 401);
  WsClient neg(node_->http_port(), "/api/v1/stream?access_token=" + a.token + "&since=-5");
  EXPECT_EQ(neg.status(), 400);
  WsClient junk(node_->http_port(), "/api/v1/stream?access_token=" + a.token + "&since=abc");
  EXPECT_EQ(junk.status(), 400);
  WsClient header(node_->http_port(), "/api/v1/stream", {{"Authorization", "Bearer " + a.token}});
  EXPECT_EQ(header.status(), 101);
  EXPECT_EQ(c_.Get("/api/v1/stream", a.token).status, 426);
}

TEST_F(StreamTest, RevokedSessionClosesItsStream) {
  TestUser a = NewUser();
  auto w = Connect(a);
  UntilReady(*w);
  ASSERT_EQ(c_.Post("/api/v1/auth/logout", nullptr, a.token).status, 204);
  EXPECT_EQ(CloseCode(*w, 20000), 4002);  // a close frame, with 4002
}

TEST_F(StreamTest, ReadMarkersReachTheUsersOtherStreams) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  auto w1 = Connect(b), w2 = Connect(b), wa = Connect(a);
  for (auto* w : {w1.get(), w2.get(), wa.get()}) UntilReady(*w);
  json m = Send(a, g, "read me");
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", m["seq"]}}, b.token).status, 200);
  for (auto* w : {w1.get(), w2.get()}) {
    auto r = w->WaitFor([](const json& f) { return f["type"] == "read"; }, 5000);
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["group_id"], g);
    EXPECT_EQ((*r)["seq"], m["seq"]);
  }
  // Not sent to anyone else.
  Send(b, g, "marker");
  std::vector<json> skipped;
  ASSERT_TRUE(wa->WaitFor([](const json& f) { return IsMessage(f, "marker"); }, 5000, &skipped));
  for (auto& f : skipped) EXPECT_NE(f["type"], "read");
}

TEST_F(StreamTest, DeactivationClosesTheUsersStreams) {
  std::string admin = CreateAdmin(*node_, UniqueName("adm"), "adminpassword");
  ASSERT_FALSE(admin.empty());
  TestUser a = NewUser();
  auto w = Connect(a);
  UntilReady(*w);
  ASSERT_EQ(c_.Post("/api/v1/admin/users/" + G(a.id) + "/deactivate", nullptr, admin).status, 200);
  EXPECT_EQ(CloseCode(*w, 20000), 4002);  // a close frame, with 4002
  WsClient again(node_->http_port(), StreamTarget(a.token));
  EXPECT_EQ(again.status(), 401);
}

TEST(StreamIdle, SilentClientsAreDisconnected) {
  auto owned = StartedNode("  idle_timeout_s: 5\n");
  NodeProcess& node = *owned;
  std::string t = RegisterToken(node, "quiet");
  WsClient w(node.http_port(), StreamTarget(t));
  ASSERT_EQ(w.status(), 101);
  // Do not read, so the server's pings (every 2.5 s) go unanswered.
  std::this_thread::sleep_for(std::chrono::seconds(7));
  WsMessage m;
  for (int i = 0; i < 20; ++i) {
    m = w.Receive(3000);
    if (m.kind == WsMessage::kClose || m.kind == WsMessage::kTimeout) break;
  }
  EXPECT_EQ(m.kind, WsMessage::kClose);
  EXPECT_NE(node.LogText().find("stream idle timeout"), std::string::npos);
  // A client that answers pings stays connected past the timeout.
  WsClient alive(node.http_port(), StreamTarget(t));
  ASSERT_EQ(alive.status(), 101);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(7);
  while (std::chrono::steady_clock::now() < until) {
    WsMessage x = alive.Receive(500);  // answers pings
    ASSERT_NE(x.kind, WsMessage::kClose);
  }
  EXPECT_TRUE(alive.open());
  EXPECT_EQ(node.Stop(), 0);
}

// A client that stops reading is dropped with 4001 instead of growing the
// node's memory, and resumes with since.
TEST(StreamSlowConsumer, IsDroppedAndResumes) {
  auto owned = StartedNode("  send_queue_bytes: 65536\n");
  NodeProcess& node = *owned;
  HttpClient c = node.Client();
  std::string ta = RegisterToken(node, "fast"), tb = RegisterToken(node, "slow");
  std::string g = c.Post("/api/v1/groups", {{"name", "firehose"}}, ta).json()["group_id"];
  c.Post("/api/v1/groups/" + G(g) + "/join", json::object(), tb);
  WsClient slow(node.http_port(), StreamTarget(tb));
  ASSERT_EQ(slow.status(), 101);
  // Do not read; fill kernel buffers and the node's queue (about 8 MB).
  std::string body(15000, 'x');
  for (int i = 0; i < 600; ++i) {
    auto r = c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", body + std::to_string(i)}}, ta);
    ASSERT_EQ(r.status, 201);
  }
  int64_t last = 0;
  int events = 0;
  WsMessage m;
  for (int i = 0; i < 1000; ++i) {
    m = slow.Receive(5000);
    if (m.kind != WsMessage::kText) break;
    json f = json::parse(m.data);
    if (f["type"] == "event") {
      last = f["event"]["stream_pos"];
      ++events;
    }
  }
  EXPECT_EQ(m.kind, WsMessage::kClose);
  EXPECT_EQ(m.close_code, 4001);
  EXPECT_LT(events, 600);
  // Resume: everything after the last frame received, then ready.
  WsClient again(node.http_port(), StreamTarget(tb, last));
  ASSERT_EQ(again.status(), 101);
  int replayed = 0;
  for (int i = 0; i < 1000; ++i) {
    auto f = again.ReceiveJson(5000);
    ASSERT_TRUE(f);
    if ((*f)["type"] == "ready") break;
    if ((*f)["type"] == "event") ++replayed;
  }
  EXPECT_EQ(events + replayed, 600 + 0) << "events before the drop plus replayed must cover every message";
  EXPECT_NE(node.LogText().find("client too slow"), std::string::npos);
  EXPECT_EQ(node.Stop(), 0);
}

TEST(StreamRestart, ClientsResumeAfterANodeRestartAndMissNothing) {
  auto owned = StartedNode();
  NodeProcess& node = *owned;
  HttpClient c = node.Client();
  std::string ta = RegisterToken(node, "alpha"), tb = RegisterToken(node, "beta");
  std::string g = c.Post("/api/v1/groups", {{"name", "restart"}}, ta).json()["group_id"];
  c.Post("/api/v1/groups/" + G(g) + "/join", json::object(), tb);
  int64_t last = 0;
  {
    WsClient w(node.http_port(), StreamTarget(tb));
    ASSERT_EQ(w.status(), 101);
    for (int i = 0; i < 5; ++i) c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "pre" + std::to_string(i)}}, ta);
    for (int i = 0; i < 50; ++i) {
      auto f = w.ReceiveJson(5000);
      if (!f) break;
      if ((*f)["type"] == "event") last = (*f)["event"]["stream_pos"];
      if ((*f)["type"] == "event" && (*f)["event"]["content"].value("body", "") == "pre4") {
      break;
    }
    }
    node.Restart();
    // The old stream is gone. Frames it had already received may still be
    // read first: the `notification` frames of the messages above, which the
    // notification worker sends after their events (nothing else).
    WsMessage m = w.Receive(5000);
    for (int i = 0; i < 10 && m.kind == WsMessage::kText; ++i, m = w.Receive(5000)) {
      EXPECT_EQ(json::parse(m.data)["type"], "notification") << m.data;
    }
    EXPECT_NE(m.kind, WsMessage::kText);
  }
  HttpClient c2 = node.Client();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(c2.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "post" + std::to_string(i)}}, ta).status, 201);
  }
  WsClient w(node.http_port(), StreamTarget(tb, last));
  ASSERT_EQ(w.status(), 101);
  std::vector<std::string> bodies;
  for (int i = 0; i < 50; ++i) {
    auto f = w.ReceiveJson(5000);
    ASSERT_TRUE(f);
    if ((*f)["type"] == "ready") break;
    if ((*f)["type"] == "event") bodies.push_back((*f)["event"]["content"].value("body", ""));
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"post0", "post1", "post2", "post3", "post4"}));
  EXPECT_EQ(node.Stop(), 0);
}

TEST(StreamShutdown, StreamsAreClosedWith1001) {
  auto owned = StartedNode();
  NodeProcess& node = *owned;
  std::string t = RegisterToken(node, "bye");
  WsClient w(node.http_port(), StreamTarget(t));
  ASSERT_EQ(w.status(), 101);
  ASSERT_TRUE(w.WaitFor([](const json& f) { return f["type"] == "ready"; }, 5000));
  // Answer the close from another thread while the node shuts down.
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      WsMessage m = w.Receive(200);
      if (m.kind == WsMessage::kClose) break;
    }
  });
  EXPECT_EQ(node.Stop(), 0);
  reader.join();
  EXPECT_EQ(w.close_code(), 1001);
}

TEST(StreamLimits, ConnectionLimitAnswers503) {
  auto owned = StartedNode("  max_connections: 2\n");
  NodeProcess& node = *owned;
  std::string t = RegisterToken(node, "lim");
  WsClient w1(node.http_port(), StreamTarget(t)), w2(node.http_port(), StreamTarget(t));
  EXPECT_EQ(w1.status(), 101);
  EXPECT_EQ(w2.status(), 101);
  WsClient w3(node.http_port(), StreamTarget(t));
  EXPECT_EQ(w3.status(), 503);
  EXPECT_EQ(node.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
