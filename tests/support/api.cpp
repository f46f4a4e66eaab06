#include "tests/support/api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "tests/harness/test_util.h"

namespace gc::test {

using nlohmann::json;

TestUser RegisterAs(HttpClient& c, const std::string& name, const std::string& password) {
  auto r = c.Post("/api/v1/auth/register", {{"username", name}, {"password", password}});
  EXPECT_EQ(r.status, 201) << "registering " << name << ": " << r.body;
  if (r.status != 201) return {};
  return {name, r.json()["user_id"], r.json()["access_token"]};
}

TestUser RegisterUser(HttpClient& c, const char* prefix) { return RegisterAs(c, UniqueName(prefix)); }

TestUser RegisterUser(const NodeProcess& node, const char* prefix) {
  HttpClient c = node.Client();
  return RegisterUser(c, prefix);
}

std::string LogIn(HttpClient& c, const std::string& name, const std::string& password) {
  auto r = c.Post("/api/v1/auth/login", {{"username", name}, {"password", password}});
  EXPECT_EQ(r.status, 200) << "logging " << name << " in: " << r.body;
  if (r.status != 200) return "";
  return r.json()["access_token"];
}

std::string CreateAdmin(NodeProcess& node, const std::string& name, const std::string& password) {
  auto cli = node.Cli({"admin", "create-user", "--username", name, "--password-file", "-", "--admin"}, password + "\n");
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  if (cli.exit_code != 0) return "";
  HttpClient c = node.Client();
  return LogIn(c, name, password);
}

std::string CreateGroup(HttpClient& c, const std::string& token, json extra) {
  extra["name"] = UniqueName("g");
  auto r = c.Post("/api/v1/groups", extra, token);
  EXPECT_EQ(r.status, 201) << r.body;
  if (r.status != 201) return "";
  return r.json()["group_id"];
}

void JoinGroup(HttpClient& c, const std::string& token, const std::string& group) {
  auto r = c.Post("/api/v1/groups/" + PathSegment(group) + "/join", json::object(), token);
  EXPECT_EQ(r.status, 200) << r.body;
}

json SendMessage(HttpClient& c, const std::string& token, const std::string& group, const std::string& body,
                 json extra) {
  extra["body"] = body;
  auto r = c.Post("/api/v1/groups/" + PathSegment(group) + "/messages", extra, token);
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json();
}

json NotificationFor(HttpClient& c, const std::string& token, const std::string& event_id) {
  auto r = c.Get("/api/v1/me/notifications?limit=100", token);
  if (r.status != 200) return nullptr;
  json page = r.json();  // named: a loop over a temporary's member would dangle
  for (const auto& n : page["notifications"]) {
    if (n["event_id"] == event_id) return n;
  }
  return nullptr;
}

json WaitNotification(HttpClient& c, const std::string& token, const std::string& event_id, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    json n = NotificationFor(c, token, event_id);
    if (!n.is_null() || std::chrono::steady_clock::now() >= deadline) return n;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polled: made by the node's worker
  }
}

std::string ErrorCode(const HttpResponse& r) { return r.json()["error"]["code"]; }

std::unique_ptr<WsClient> OpenStream(int port, const std::string& token, std::optional<int64_t> since) {
  auto ws = std::make_unique<WsClient>(port, StreamTarget(token, since));
  EXPECT_EQ(ws->status(), 101) << ws->body();
  return ws;
}

std::optional<double> MetricValue(HttpClient& c, const std::string& name) {
  auto r = c.Get("/metrics");
  EXPECT_EQ(r.status, 200) << r.body;
  // A line of its own: "\n" before the body, so that the first line counts.
  size_t at = ("\n" + r.body).find("\n" + name + " ");
  EXPECT_NE(at, std::string::npos) << "no metric " << name;
  if (r.status != 200 || at == std::string::npos) return std::nullopt;
  return std::stod(r.body.substr(at + name.size() + 1));
}

std::vector<json> UntilReady(WsClient& ws, int timeout_ms) {
  std::vector<json> before;
  auto ready = ws.WaitFor([](const json& f) { return f["type"] == "ready"; }, timeout_ms, &before);
  EXPECT_TRUE(ready.has_value()) << "no ready frame on the stream";
  return before;
}

int CloseCode(WsClient& ws, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto m = ws.Receive(std::max(1, static_cast<int>(left.count())));
    if (m.kind == WsMessage::kClose) return m.close_code;
    if (m.kind == WsMessage::kError) return -1;
    if (m.kind == WsMessage::kTimeout) return 0;
  }
  return 0;
}

std::unique_ptr<NodeProcess> StartNodeWith(const std::string& extra_yaml) {
  NodeOptions o;
  o.extra_yaml = extra_yaml;
  auto node = std::make_unique<NodeProcess>(o);
  node->Start();
  return node;
}

}  // namespace gc::test
