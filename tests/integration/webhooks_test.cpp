// Webhook pushers against a real node and a real HTTP receiver in this
// process: the signed POST of the inbox entry, the status a pusher shows,
// retries after 503 with Retry-After, removal after 410, do-not-disturb, and
// the URL policy (https:// to public addresses only, unless
// notifications.allow_private_endpoints, which this suite's node sets so
// that it may reach the loopback receiver).
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "tests/harness/harness.h"
#include "tests/support/api.h"
#include "tests/support/loopback_listener.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

struct Received {
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::chrono::steady_clock::time_point at;
};

// A minimal HTTP/1.1 server: one request per connection, answered with the
// next scripted status (200 once the script is empty).
class WebhookReceiver {
 public:
  WebhookReceiver() : thread_([this] { Run(); }) {}
  ~WebhookReceiver() {
    listener_.Shutdown();
    thread_.join();
  }
  int port() const { return listener_.port(); }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  // Answers to come, in order: {status, retry_after_s (0: no header)}.
  void Script(std::vector<std::pair<int, int>> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& a : answers) script_.push_back(a);
  }
  // Waits until `n` requests arrived (10 s deadline); all received so far.
  std::vector<Received> WaitFor(size_t n, int timeout_ms = 10000) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return got_.size() >= n; });
    return got_;
  }

 private:
  void Run() {
    for (;;) {
      int fd = listener_.Accept();
      if (fd < 0) return;
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string in;
      char buf[4096];
      size_t head_end = std::string::npos;
      size_t need = 0;
      for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0) break;
        in.append(buf, static_cast<size_t>(k));
        if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
          auto cl = Lower(in.substr(0, head_end)).find("content-length:");
          need = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 15));
        }
        if (head_end != std::string::npos && in.size() >= head_end + 4 + need) break;
      }
      Received r;
      r.at = std::chrono::steady_clock::now();
      if (head_end != std::string::npos) {
        std::string head = in.substr(0, head_end);
        size_t pos = head.find("\r\n");
        while (pos != std::string::npos && pos < head.size()) {
          size_t next = head.find("\r\n", pos + 2);
          std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
          auto colon = line.find(':');
          if (colon != std::string::npos) {
            std::string v = line.substr(colon + 1);
            v.erase(0, v.find_first_not_of(' '));
            r.headers[Lower(line.substr(0, colon))] = v;
          }
          pos = next;
        }
        r.body = in.substr(head_end + 4, need);
      }
      std::pair<int, int> answer{200, 0};
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!script_.empty()) {
          answer = script_.front();
          script_.pop_front();
        }
      }
      std::string out = "HTTP/1.1 " + std::to_string(answer.first) + " X\r\nContent-Length: 0\r\nConnection: close\r\n";
      if (answer.second > 0) out += "Retry-After: " + std::to_string(answer.second) + "\r\n";
      out += "\r\n";
      (void)send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      close(fd);
      {
        std::lock_guard<std::mutex> lock(mu_);
        got_.push_back(std::move(r));
      }
      cv_.notify_all();
    }
  }
  static std::string Lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  LoopbackListener listener_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int, int>> script_;
  std::vector<Received> got_;
  std::thread thread_;
};

std::string Hmac(const std::string& secret, const std::string& body) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[sizeof mac * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string("sha256=") + hex;
}

class WebhooksTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    StartNode(std::string(kNoRateLimits) + "notifications:\n  allow_private_endpoints: true\n");
  }
  json Pushers(const TestUser& u) {
    auto r = c_.Get("/api/v1/me/pushers", u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["pushers"];
  }
  // `a` and `b` in a new group of a's, b with a webhook pusher to `rx`.
  struct Members {
    TestUser a, b;
    std::string group;
  };
  Members MembersWithWebhook(const WebhookReceiver& rx) {
    Members m{NewUser("w"), NewUser("w"), ""};
    m.group = NewGroup(m.a);
    JoinGroup(c_, m.b.token, m.group);
    auto reg = c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", rx.url()}}, m.b.token);
    EXPECT_EQ(reg.status, 201) << reg.body;
    return m;
  }
  // u's first pusher once `done` holds for it, or as it is after `within`
  // (the sender records an answer after it got it).
  json WaitPusher(const TestUser& u, const std::function<bool(const json&)>& done,
                  std::chrono::seconds within = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + within;
    json p;
    do {
      p = Pushers(u)[0];
      if (done(p)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return p;
  }
};

TEST_F(WebhooksTest, PostsTheSignedEntryAndShowsTheSuccess) {
  WebhookReceiver rx;
  TestUser a = NewUser("w"), b = NewUser("w");
  std::string g = NewGroup(a);
  JoinGroup(c_, b.token, g);
  auto reg = c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", rx.url()}}, b.token);
  ASSERT_EQ(reg.status, 201) << reg.body;
  std::string secret = reg.json()["secret"];
  EXPECT_GE(secret.size(), 40u);
  json m = SendMessage(c_, a.token, g, "ship it " + b.id);

  auto got = rx.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  json entry = json::parse(got[0].body);
  EXPECT_EQ(entry["event_id"], m["event_id"]);
  EXPECT_EQ(entry["kind"], "mention");
  EXPECT_EQ(got[0].headers["content-type"], "application/json");
  EXPECT_EQ(got[0].headers["x-groupchat-signature"], Hmac(secret, got[0].body));
  EXPECT_NE(got[0].headers["x-groupchat-signature"], Hmac(secret + "x", got[0].body));
  EXPECT_EQ(got[0].headers["x-groupchat-notification-id"], std::to_string(entry["notification_id"].get<int64_t>()));

  // The status shows the success.
  json p = WaitPusher(b, [](const json& p) { return !p["last_success_at"].is_null(); });
  EXPECT_FALSE(p["last_success_at"].is_null());
  EXPECT_EQ(p["failures"], 0);
  EXPECT_TRUE(p["last_error"].is_null());
  EXPECT_FALSE(p.contains("secret")) << "the secret is shown once";

  // The sender's own message is not pushed to them; do-not-disturb is not pushed.
  int64_t later = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count() + 3600 * 1000;
  ASSERT_EQ(c_.Patch("/api/v1/me/notification-settings", {{"dnd_until", later}}, b.token).status, 200);
  json quiet = SendMessage(c_, a.token, g, "during dnd");
  SendMessage(c_, b.token, g, "my own");
  // Made (in the inbox) before do-not-disturb ends.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool made = false;
  while (!made && std::chrono::steady_clock::now() < until) {
    json page = c_.Get("/api/v1/me/notifications", b.token).json();
    for (const auto& n : page["notifications"]) made = made || n["event_id"] == quiet["event_id"];
    if (!made) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(made);
  ASSERT_EQ(c_.Patch("/api/v1/me/notification-settings", {{"dnd_until", nullptr}}, b.token).status, 200);
  json loud = SendMessage(c_, a.token, g, "after dnd");
  got = rx.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(json::parse(got[1].body)["event_id"], loud["event_id"]);
}

TEST_F(WebhooksTest, RetriesAfter503HonouringRetryAfterWithTheSameId) {
  WebhookReceiver rx;
  rx.Script({{503, 2}});
  auto [a, b, g] = MembersWithWebhook(rx);
  SendMessage(c_, a.token, g, "again please");
  auto first = rx.WaitFor(1);
  ASSERT_EQ(first.size(), 1u);
  // The failure is visible while the retry waits.
  json p = WaitPusher(b, [](const json& p) { return p["failures"] == 1; }, std::chrono::seconds(2));
  EXPECT_EQ(p["failures"], 1);
  EXPECT_EQ(p["last_error"], "HTTP 503");

  auto got = rx.WaitFor(2, 15000);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[1].at - got[0].at, std::chrono::milliseconds(1900)) << "Retry-After: 2 was not honoured";
  EXPECT_EQ(json::parse(got[1].body)["notification_id"], json::parse(got[0].body)["notification_id"]);
  EXPECT_EQ(got[1].body, got[0].body);
}

TEST_F(WebhooksTest, GoneEndpointRemovesThePusher) {
  WebhookReceiver rx;
  rx.Script({{410, 0}});
  auto [a, b, g] = MembersWithWebhook(rx);
  SendMessage(c_, a.token, g, "anyone there?");
  ASSERT_EQ(rx.WaitFor(1).size(), 1u);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Pushers(b).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(Pushers(b).empty());
}

TEST_F(WebhooksTest, RedirectsAreNotFollowed) {
  WebhookReceiver rx;
  rx.Script({{302, 0}});
  auto [a, b, g] = MembersWithWebhook(rx);
  SendMessage(c_, a.token, g, "first");
  ASSERT_EQ(rx.WaitFor(1).size(), 1u);
  // Recorded as a failure.
  json p = WaitPusher(b, [](const json& p) { return p["failures"] == 1; });
  EXPECT_EQ(p["last_error"], "HTTP 302");
  // Dropped, not followed or retried: the next request is the next message.
  json second = SendMessage(c_, a.token, g, "second");
  auto got = rx.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(json::parse(got[1].body)["event_id"], second["event_id"]);
}

TEST_F(WebhooksTest, PushersAreOwnedAndBadInputIsRefused) {
  TestUser a = NewUser("w"), b = NewUser("w");
  WebhookReceiver rx;
  auto reg = c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", rx.url()}}, a.token);
  ASSERT_EQ(reg.status, 201);
  int64_t id = reg.json()["pusher_id"];
  EXPECT_EQ(c_.Delete("/api/v1/me/pushers/" + std::to_string(id), b.token).status, 404);
  EXPECT_EQ(c_.Delete("/api/v1/me/pushers/abc", a.token).status, 404);
  EXPECT_EQ(c_.Get("/api/v1/me/pushers").status, 401);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", json::object(), a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", {{"kind", "carrier-pigeon"}, {"url", rx.url()}}, a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", "not a url"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", "ftp://127.0.0.1/x"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", "http://u:p@127.0.0.1/x"}}, a.token).status,
            400);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", "http://127.0.0.1/" + std::string(3000, 'a')}},
                    a.token).status,
            400);
  EXPECT_EQ(c_.Delete("/api/v1/me/pushers/" + std::to_string(id), a.token).status, 204);
  EXPECT_TRUE(Pushers(a).empty());
}

// The default policy, on a node without allow_private_endpoints.
TEST(WebhookPolicy, OnlyHttpsToPublicAddressesIsAccepted) {
  auto node = StartNodeWith("rate_limits:\n  enabled: false\n");
  HttpClient c(node->http_port());
  TestUser a = RegisterUser(c, "p");
  for (std::string url : {"http://example.com/hook", "https://127.0.0.1/hook", "https://localhost/hook",
                          "https://10.1.2.3/hook", "https://192.168.0.1/hook", "https://169.254.169.254/latest",
                          "https://[::1]/hook", "https://[fe80::1]/hook", "https://0.0.0.0/hook",
                          "https://224.0.0.1/hook", "https://100.64.0.1/hook"}) {
    auto r = c.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", url}}, a.token);
    EXPECT_EQ(r.status, 400) << url << " " << r.body;
  }
  // A public literal address passes the check (nothing is sent until a
  // notification is made, and no name is looked up).
  auto ok = c.Post("/api/v1/me/pushers", {{"kind", "webhook"}, {"url", "https://93.184.216.34/hook"}}, a.token);
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(node->Stop(), 0);
}

}  // namespace
}  // namespace gc::test
