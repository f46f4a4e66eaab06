// Sessions: stream tickets instead of tokens in URLs, and sessions that end
// after a time without use.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

std::string Register(HttpClient& c, const std::string& name) { return RegisterAs(c, name).token; }

std::string Ticket(HttpClient& c, const std::string& token) {
  auto r = c.Post("/api/v1/stream/tickets", json::object(), token);
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["expires_in_s"], 30);
  return r.json().value("ticket", "");
}

class SessionsTest : public NodeTest {
 protected:
  static void SetUpTestSuite() { StartNode(kNoRateLimits); }
};

TEST_F(SessionsTest, AStreamOpensWithATicketThatWorksOnce) {
  HttpClient c = node_->Client();
  std::string token = Register(c, UniqueName("t"));
  std::string ticket = Ticket(c, token);
  ASSERT_EQ(ticket.rfind("gcst_", 0), 0u);
  WsClient ws(node_->http_port(), "/api/v1/stream?ticket=" + ticket);
  ASSERT_EQ(ws.status(), 101) << ws.body();
  EXPECT_TRUE(ws.WaitFor([](const json& f) { return f["type"] == "ready"; }, 5000).has_value());
  // Spent: a second connection with it is refused, as is a made-up one.
  WsClient again(node_->http_port(), "/api/v1/stream?ticket=" + ticket);
  EXPECT_EQ(again.status(), 401);
  EXPECT_NE(again.body().find("ticket"), std::string::npos) << again.body();
  WsClient made_up(node_->http_port(), "/api/v1/stream?ticket=gcst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(made_up.status(), 401);
  // Tickets are only for signed-in sessions.
  EXPECT_EQ(c.Post("/api/v1/stream/tickets", json::object()).status, 401);
}

TEST_F(SessionsTest, TenTicketsAtOnceOpenTenStreams) {
  HttpClient c = node_->Client();
  std::string token = Register(c, UniqueName("t"));
  std::vector<std::string> tickets;
  for (int i = 0; i < 10; ++i) tickets.push_back(Ticket(c, token));
  std::vector<std::unique_ptr<WsClient>> streams;
  for (const auto& t : tickets) streams.push_back(std::make_unique<WsClient>(node_->http_port(), "/api/v1/stream?ticket=" + t));
  for (auto& ws : streams) {
    ASSERT_EQ(ws->status(), 101) << ws->body();
    EXPECT_TRUE(ws->WaitFor([](const json& f) { return f["type"] == "ready"; }, 5000).has_value());
  }
}

TEST_F(SessionsTest, ATicketOfASessionThatEndedIsRefused) {
  HttpClient c = node_->Client();
  std::string token = Register(c, UniqueName("t"));
  std::string ticket = Ticket(c, token);
  ASSERT_EQ(c.Post("/api/v1/auth/logout", json::object(), token).status, 204);
  WsClient ws(node_->http_port(), "/api/v1/stream?ticket=" + ticket);
  EXPECT_EQ(ws.status(), 401);
}

// A node whose sessions end after 2 s without use: one session is left
// alone, another keeps a stream open, a third keeps making requests.
TEST(IdleSessions, EndAfterTheIdleTimeoutUnlessInUse) {
  auto started = StartNodeWith("rate_limits:\n  enabled: false\nsessions:\n  idle_timeout_s: 2\n");
  NodeProcess& node = *started;
  HttpClient c = node.Client();
  // Each session is put to use right after it starts: on a loaded machine a
  // registration may take longer than the 2 s a session may idle.
  std::string idle = Register(c, UniqueName("idle"));
  std::string streaming = Register(c, UniqueName("stream"));
  WsClient ws(node.http_port(), "/api/v1/stream?ticket=" + Ticket(c, streaming));
  std::string busy = Register(c, UniqueName("busy"));
  ASSERT_EQ(ws.status(), 101) << ws.body();
  // Wait for the housekeeping sweep (every 5 s) to end the idle session; the
  // busy session is used all along, which is also what paces this loop.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool ended = false;
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(c.Get("/api/v1/me", busy).status, 200);
    ended = node.LogText().find("idle sessions ended") != std::string::npos;
    if (!ended) ws.Drain(300);  // also reads what the stream sends meanwhile
  }
  ASSERT_TRUE(ended) << node.LogText();
  auto me = c.Get("/api/v1/me", idle);
  EXPECT_EQ(me.status, 401);
  EXPECT_EQ(c.Post("/api/v1/stream/tickets", json::object(), idle).status, 401);
  EXPECT_TRUE(ws.open());
  EXPECT_EQ(c.Get("/api/v1/me", streaming).status, 200);
  EXPECT_EQ(c.Get("/api/v1/me", busy).status, 200);
  EXPECT_EQ(node.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
