// Web Push from a real node to a local push service started by the test
// (tests/push/push_receiver.js, proven against the npm web-push package by
// tests/push/receiver.test.js): it decrypts every push with npm http_ece and
// the subscription's private key and checks the VAPID token with node's
// crypto (signature with k, aud = the endpoint's origin, exp within 24 h,
// sub = notifications.vapid_subject) and the RFC 8030 headers. The node is
// configured with notifications.allow_private_endpoints so that it may reach
// the receiver over http:// on loopback, as the webhook tests do.
//
// Scenarios: the VAPID key (published, 0600, kept across restarts), a
// mention and a message decrypted to the inbox entry with their Urgency and
// Topic, a withdrawal under the same Topic, 410 removing the pusher, 429
// with Retry-After and 500 retried to success, another 4xx recorded and not
// retried, malformed subscriptions refused with 400, a browser endpoint moving
// to the user who registered it last, N pushers at once, and a SIGKILL right
// after sends were acknowledged (pushed after the restart, same ids).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <thread>

#include "node/common/encoding.h"
#include "tests/harness/harness.h"
#include "tests/harness/node_script.h"
#include "tests/support/api.h"
#include "tests/support/node_test.h"
#include "tests/support/push_service.h"

namespace gc::test {
namespace {

using nlohmann::json;

constexpr const char* kSubject = "mailto:ops@acme.test";
constexpr const char* kNodeYaml =
    "rate_limits:\n  enabled: false\nnotifications:\n  allow_private_endpoints: true\n"
    "  vapid_subject: mailto:ops@acme.test\n  webpush_ttl_s: 3600\n";

// Polls `done` every 20 ms until it holds, for at most 10 s (the pusher's
// status is written after the receiver answered, so it lags a little).
template <typename F>
bool Eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class WebPushTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    StartNode(kNodeYaml);
    push_ = new PushService(kSubject);
  }
  static void TearDownTestSuite() {
    delete push_;
    NodeTest::TearDownTestSuite();
  }
  json Pushers(const TestUser& u) {
    auto r = c_.Get("/api/v1/me/pushers", u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["pushers"];
  }
  // A group of `a` that `b` joined.
  std::string SharedGroup(const TestUser& a, const TestUser& b) {
    std::string g = CreateGroup(c_, a.token);
    EXPECT_EQ(c_.Post("/api/v1/groups/" + PathSegment(g) + "/join", json::object(), b.token).status, 200);
    return g;
  }
  json Subscribe(const TestUser& u, json script = json::array()) {
    json sub = push_->Subscribe(std::move(script));
    auto r = c_.Post("/api/v1/me/pushers", PusherBody(sub), u.token);
    EXPECT_EQ(r.status, 201) << r.body;
    return sub;
  }
  std::string VapidKey() {
    auto r = c_.Get("/api/v1/push/vapid-public-key");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().value("public_key", "");
  }

  static inline PushService* push_ = nullptr;
};

TEST_F(WebPushTest, VapidPublicKeyIsAnUncompressedP256Point) {
  auto r = c_.Get("/api/v1/push/vapid-public-key");
  ASSERT_EQ(r.status, 200);
  json body = r.json();
  ASSERT_EQ(body.size(), 1u) << body;
  auto raw = DecodeBase64Url(body["public_key"].get<std::string>());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 65u);
  EXPECT_EQ((*raw)[0], '\x04');
  struct stat st {};
  std::string path = node_->data_dir() + "/keys/vapid.key";
  ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
}

TEST_F(WebPushTest, MentionAndMessageArriveEncryptedAndSigned) {
  TestUser a = RegisterUser(c_, "wp"), b = RegisterUser(c_, "wp");
  std::string g = SharedGroup(a, b), g2 = SharedGroup(a, b);
  json sub = push_->Subscribe();
  auto reg = c_.Post("/api/v1/me/pushers", PusherBody(sub), b.token);
  ASSERT_EQ(reg.status, 201) << reg.body;
  EXPECT_EQ(reg.json()["kind"], "webpush");
  EXPECT_EQ(reg.json()["endpoint"], sub["endpoint"]);
  EXPECT_FALSE(reg.json().contains("secret"));
  EXPECT_FALSE(reg.json().contains("keys")) << "the subscription's keys are not shown again";

  json mention = SendMessage(c_, a.token, g, "look here " + b.id);
  json plain = SendMessage(c_, a.token, g, "and here");
  json other = SendMessage(c_, a.token, g2, "elsewhere");
  json got = push_->Pushes(sub, 3);
  ASSERT_EQ(got.size(), 3u) << got;
  for (const auto& p : got) {
    ASSERT_TRUE(p["ok"].get<bool>()) << p;
    EXPECT_EQ(p["jwt"]["k"], VapidKey());
    EXPECT_EQ(p["jwt"]["sub"], kSubject);
    EXPECT_EQ(p["headers"]["ttl"], "3600");
  }
  json e0 = json::parse(got[0]["payload"].get<std::string>());
  json e1 = json::parse(got[1]["payload"].get<std::string>());
  json e2 = json::parse(got[2]["payload"].get<std::string>());
  EXPECT_EQ(e0["event_id"], mention["event_id"]);
  EXPECT_EQ(e0["kind"], "mention");
  EXPECT_EQ(got[0]["headers"]["urgency"], "high");
  EXPECT_EQ(e1["event_id"], plain["event_id"]);
  EXPECT_EQ(e1["kind"], "message");
  EXPECT_EQ(got[1]["headers"]["urgency"], "normal");
  EXPECT_EQ(e2["event_id"], other["event_id"]);
  // One Topic per group: a newer notification of the group replaces an older one.
  std::string topic = got[0]["headers"]["topic"];
  EXPECT_EQ(topic.size(), 32u);
  EXPECT_EQ(got[1]["headers"]["topic"], topic);
  EXPECT_NE(got[2]["headers"]["topic"], topic);
  // The payload is the inbox entry.
  json inbox = c_.Get("/api/v1/me/notifications", b.token).json()["notifications"];
  ASSERT_EQ(inbox.size(), 3u);
  json newest = inbox[0];
  EXPECT_EQ(newest["notification_id"], e2["notification_id"]);
  newest.erase("read");
  e2.erase("read");
  EXPECT_EQ(newest, e2);
  // The pusher shows the success.
  json p;
  EXPECT_TRUE(Eventually([&] { return !(p = Pushers(b)[0])["last_success_at"].is_null(); }));
  EXPECT_EQ(p["failures"], 0);
  EXPECT_TRUE(p["last_error"].is_null());
}

TEST_F(WebPushTest, DeletedMessageIsWithdrawnUnderTheSameTopic) {
  TestUser a = RegisterUser(c_, "wp"), b = RegisterUser(c_, "wp");
  std::string g = SharedGroup(a, b);
  json sub = Subscribe(b);
  json m = SendMessage(c_, a.token, g, "oops, wrong group");
  json first = push_->Pushes(sub, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(c_.Delete("/api/v1/groups/" + PathSegment(g) + "/messages/" + PathSegment(m["event_id"]), a.token).status,
            200);
  json got = push_->Pushes(sub, 2);
  ASSERT_EQ(got.size(), 2u) << got;
  ASSERT_TRUE(got[1]["ok"].get<bool>()) << got[1];
  json shown = json::parse(got[0]["payload"].get<std::string>());
  json gone = json::parse(got[1]["payload"].get<std::string>());
  EXPECT_FALSE(shown["withdrawn"].get<bool>());
  EXPECT_TRUE(gone["withdrawn"].get<bool>());
  EXPECT_EQ(gone["notification_id"], shown["notification_id"]);
  EXPECT_EQ(gone["event_id"], m["event_id"]);
  EXPECT_EQ(gone["body_preview"], "");
  EXPECT_EQ(got[1]["headers"]["topic"], got[0]["headers"]["topic"]);
}

TEST_F(WebPushTest, GoneSubscriptionRemovesThePusher) {
  TestUser a = RegisterUser(c_, "wp"), b = RegisterUser(c_, "wp");
  std::string g = SharedGroup(a, b);
  json sub = Subscribe(b, json::array({{{"status", 410}}}));
  SendMessage(c_, a.token, g, "still there?");
  ASSERT_EQ(push_->Pushes(sub, 1).size(), 1u);
  EXPECT_TRUE(Eventually([&] { return Pushers(b).empty(); }));
}

TEST_F(WebPushTest, RetriesAfter429And500ThenSucceeds) {
  TestUser a = RegisterUser(c_, "wp"), b = RegisterUser(c_, "wp");
  std::string g = SharedGroup(a, b);
  // The per-kind counters (the suite's node is shared: compared before/after).
  auto metric = [&](const std::string& name) {
    std::string text = c_.Get("/metrics").body;
    auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
  };
  double retried0 = metric("groupchat_webpush_retried_total"), delivered0 = metric("groupchat_webpush_delivered_total");
  double hooks0 = metric("groupchat_webhook_failed_total");
  ASSERT_GE(retried0, 0);
  ASSERT_GE(hooks0, 0);
  json sub = Subscribe(b, json::array({{{"status", 429}, {"retry_after", 2}}, {{"status", 500}}}));
  SendMessage(c_, a.token, g, "busy?");
  json first = push_->Pushes(sub, 1);
  ASSERT_EQ(first.size(), 1u);
  // The failure shows while the retry waits.
  json p;
  EXPECT_TRUE(Eventually([&] { return (p = Pushers(b)[0])["failures"] == 1; })) << p;
  EXPECT_EQ(p["last_error"], "HTTP 429");
  json got = push_->Pushes(sub, 3, 30000);
  ASSERT_EQ(got.size(), 3u) << got;
  EXPECT_EQ(got[0]["status"], 429);
  EXPECT_EQ(got[1]["status"], 500);
  EXPECT_EQ(got[2]["status"], 201);
  EXPECT_GE(got[1]["at_ms"].get<int64_t>() - got[0]["at_ms"].get<int64_t>(), 1900) << "Retry-After: 2 ignored";
  // After a 500 the sender backs off (1 s doubled, with jitter: at least 1 s).
  EXPECT_GE(got[2]["at_ms"].get<int64_t>() - got[1]["at_ms"].get<int64_t>(), 900);
  for (const auto& x : got) {
    ASSERT_TRUE(x["ok"].get<bool>()) << x;
    EXPECT_EQ(x["payload"], got[0]["payload"]) << "a retry sends the same entry";
  }
  EXPECT_TRUE(Eventually([&] { return (p = Pushers(b)[0])["failures"] == 0; })) << p;
  EXPECT_FALSE(p["last_success_at"].is_null());
  EXPECT_TRUE(p["last_error"].is_null());
  EXPECT_GE(metric("groupchat_webpush_retried_total") - retried0, 2);
  EXPECT_GE(metric("groupchat_webpush_delivered_total") - delivered0, 1);
  EXPECT_EQ(metric("groupchat_webhook_failed_total"), hooks0) << "a Web Push failure counted as a webhook's";
}

TEST_F(WebPushTest, OtherClientErrorIsRecordedAndNotRetried) {
  TestUser a = RegisterUser(c_, "wp"), b = RegisterUser(c_, "wp");
  std::string g = SharedGroup(a, b);
  json sub = Subscribe(b, json::array({{{"status", 413}}}));
  json m1 = SendMessage(c_, a.token, g, "too big, says the push service");
  ASSERT_EQ(push_->Pushes(sub, 1).size(), 1u);
  json p;
  EXPECT_TRUE(Eventually([&] { return (p = Pushers(b)[0])["failures"] == 1; })) << p;
  EXPECT_EQ(p["last_error"], "HTTP 413");
  json m2 = SendMessage(c_, a.token, g, "next");
  json got = push_->Pushes(sub, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(json::parse(got[1]["payload"].get<std::string>())["event_id"], m2["event_id"]);
  // Nothing is owed any more (a retry of the first would still be queued),
  // and nothing more arrived.
  auto queue = [&] {
    std::string text = c_.Get("/metrics").body;
    auto at = text.find("\ngroupchat_push_queue_length ");
    return at == std::string::npos ? std::string("?") : text.substr(at + 29, text.find('\n', at + 1) - at - 29);
  };
  EXPECT_TRUE(Eventually([&] { return queue() == "0"; })) << queue();
  EXPECT_EQ(push_->Pushes(sub, 2).size(), 2u);
  EXPECT_TRUE(Eventually([&] { return Pushers(b)[0]["failures"] == 0; }));
}

TEST_F(WebPushTest, MalformedSubscriptionsAreRefused) {
  TestUser u = RegisterUser(c_, "wp");
  json sub = push_->Subscribe();
  std::string ep = sub["endpoint"], p256dh = sub["keys"]["p256dh"], auth = sub["keys"]["auth"];
  auto point = DecodeBase64Url(p256dh);
  ASSERT_TRUE(point.ok());
  std::string off_curve = *point;
  off_curve[64] = static_cast<char>(off_curve[64] ^ 1);
  std::string compressed = point->substr(0, 33);
  compressed[0] = 0x02;
  auto with = [&](json keys, json endpoint) {
    json b = {{"kind", "webpush"}, {"keys", keys}};
    if (!endpoint.is_null()) b["endpoint"] = endpoint;
    return b;
  };
  json good_keys = {{"p256dh", p256dh}, {"auth", auth}};
  std::vector<std::pair<std::string, json>> bad = {
      {"no endpoint", with(good_keys, nullptr)},
      {"endpoint not a string", with(good_keys, 5)},
      {"endpoint not a URL", with(good_keys, "not a url")},
      {"endpoint ftp", with(good_keys, "ftp://127.0.0.1/x")},
      {"endpoint too long", with(good_keys, ep + std::string(3000, 'a'))},
      {"no keys", {{"kind", "webpush"}, {"endpoint", ep}}},
      {"keys not an object", with("p256dh", ep)},
      {"no p256dh", with({{"auth", auth}}, ep)},
      {"no auth", with({{"p256dh", p256dh}}, ep)},
      {"p256dh not base64url", with({{"p256dh", "***"}, {"auth", auth}}, ep)},
      {"p256dh standard base64", with({{"p256dh", "+/" + p256dh.substr(2)}, {"auth", auth}}, ep)},
      {"p256dh 64 bytes", with({{"p256dh", Base64Url(point->substr(0, 64))}, {"auth", auth}}, ep)},
      {"p256dh compressed", with({{"p256dh", Base64Url(compressed)}, {"auth", auth}}, ep)},
      {"p256dh off the curve", with({{"p256dh", Base64Url(off_curve)}, {"auth", auth}}, ep)},
      {"p256dh a number", with({{"p256dh", 4}, {"auth", auth}}, ep)},
      {"auth 15 bytes", with({{"p256dh", p256dh}, {"auth", Base64Url(std::string(15, 'a'))}}, ep)},
      {"auth 17 bytes", with({{"p256dh", p256dh}, {"auth", Base64Url(std::string(17, 'a'))}}, ep)},
      {"auth empty", with({{"p256dh", p256dh}, {"auth", ""}}, ep)},
  };
  for (const auto& [what, body] : bad) {
    auto r = c_.Post("/api/v1/me/pushers", body, u.token);
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << what;
  }
  EXPECT_EQ(c_.Request("POST", "/api/v1/me/pushers", "{\"kind\":\"webpush\",", {{"Authorization", "Bearer " + u.token}})
                .status,
            400);
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", PusherBody(sub)).status, 401);
  EXPECT_TRUE(Pushers(u).empty());
  // Padded base64url (as some browsers give it) is accepted and stored canonical.
  json padded = PusherBody(sub);
  padded["keys"]["auth"] = auth + "==";
  EXPECT_EQ(c_.Post("/api/v1/me/pushers", padded, u.token).status, 201);
  EXPECT_EQ(Pushers(u).size(), 1u);
}

TEST_F(WebPushTest, AnEndpointBelongsToWhoeverRegisteredItLast) {
  TestUser a = RegisterUser(c_, "wp"), b = RegisterUser(c_, "wp"), c = RegisterUser(c_, "wp");
  std::string g = SharedGroup(a, b);
  ASSERT_EQ(c_.Post("/api/v1/groups/" + PathSegment(g) + "/join", json::object(), c.token).status, 200);
  json sub = Subscribe(b);
  // c signs in on the same browser and registers its subscription.
  ASSERT_EQ(c_.Post("/api/v1/me/pushers", PusherBody(sub), c.token).status, 201);
  EXPECT_TRUE(Pushers(b).empty());
  EXPECT_EQ(Pushers(c).size(), 1u);
  SendMessage(c_, a.token, g, "for c's eyes");
  json got = push_->Pushes(sub, 1);
  ASSERT_EQ(got.size(), 1u);
  json inbox = c_.Get("/api/v1/me/notifications", c.token).json()["notifications"];
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(json::parse(got[0]["payload"].get<std::string>())["notification_id"], inbox[0]["notification_id"]);
}

TEST_F(WebPushTest, ManyPushersAtOnce) {
  constexpr int kUsers = 20;
  TestUser a = RegisterUser(c_, "wp");
  std::string g = CreateGroup(c_, a.token);
  std::vector<TestUser> users;
  std::vector<json> subs;
  for (int i = 0; i < kUsers; ++i) {
    users.push_back(RegisterUser(c_, "wp"));
    ASSERT_EQ(c_.Post("/api/v1/groups/" + PathSegment(g) + "/join", json::object(), users.back().token).status, 200);
    subs.push_back(Subscribe(users.back()));
  }
  // The first user has three browsers.
  subs.push_back(Subscribe(users[0]));
  subs.push_back(Subscribe(users[0]));
  json m = SendMessage(c_, a.token, g, "all hands");
  std::set<int64_t> ids;
  for (size_t i = 0; i < subs.size(); ++i) {
    json got = push_->Pushes(subs[i], 1);
    ASSERT_EQ(got.size(), 1u) << "subscription " << i;
    ASSERT_TRUE(got[0]["ok"].get<bool>()) << got[0];
    json e = json::parse(got[0]["payload"].get<std::string>());
    EXPECT_EQ(e["event_id"], m["event_id"]);
    ids.insert(e["notification_id"].get<int64_t>());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kUsers)) << "one entry per user, the same on each of their browsers";
}

// A node of its own: it is killed and restarted.
TEST(WebPushRestart, PushedAfterSigkillWithTheSameIdsAndKey) {
  PushService push(kSubject);
  auto node = StartNodeWith(kNodeYaml);
  HttpClient c(node->http_port());
  std::string key = c.Get("/api/v1/push/vapid-public-key").json()["public_key"];
  TestUser a = RegisterUser(c, "wk"), b = RegisterUser(c, "wk");
  std::string g = CreateGroup(c, a.token);
  ASSERT_EQ(c.Post("/api/v1/groups/" + PathSegment(g) + "/join", json::object(), b.token).status, 200);
  json sub = push.Subscribe();
  ASSERT_EQ(c.Post("/api/v1/me/pushers", PusherBody(sub), b.token).status, 201);
  constexpr int kSends = 5;
  std::string last;
  for (int i = 0; i < kSends; ++i) last = SendMessage(c, a.token, g, "before the crash " + std::to_string(i))["event_id"];
  node->Kill();
  node->Start();
  HttpClient c2(node->http_port());
  EXPECT_EQ(c2.Get("/api/v1/push/vapid-public-key").json()["public_key"], key) << "the VAPID key changed";
  EXPECT_EQ(c2.Get("/api/v1/me/pushers", b.token).json()["pushers"].size(), 1u) << "the registration was acknowledged";
  // The plain messages are one coalesced entry (spec/notifications.md 1.1):
  // every push carries its notification_id, and the entry with all the
  // acknowledged sends in it is pushed (at least once).
  std::set<int64_t> ids;
  bool complete = false;
  json got;
  for (int want = 1; want <= 3 * kSends && !complete; ++want) {
    got = push.Pushes(sub, want);
    for (const auto& p : got) {
      ASSERT_TRUE(p["ok"].get<bool>()) << p;
      EXPECT_EQ(p["jwt"]["k"], key);
      json e = json::parse(p["payload"].get<std::string>());
      ids.insert(e["notification_id"].get<int64_t>());
      if (e["count"] == kSends && e["event_id"] == last) complete = true;
    }
    if (static_cast<int>(got.size()) < want) break;  // nothing more came in time
  }
  EXPECT_TRUE(complete) << got;
  json inbox = c2.Get("/api/v1/me/notifications", b.token).json()["notifications"];
  ASSERT_EQ(inbox.size(), 1u) << inbox;
  EXPECT_EQ(inbox[0]["count"], kSends);
  EXPECT_EQ(ids, std::set<int64_t>{inbox[0]["notification_id"].get<int64_t>()}) << "a push had another notification_id";
  EXPECT_EQ(node->Stop(), 0);
}

// The default policy, on a node without allow_private_endpoints.
TEST(WebPushPolicy, EndpointsMustBeHttpsToPublicAddresses) {
  auto node = StartNodeWith("rate_limits:\n  enabled: false\n");
  HttpClient c(node->http_port());
  TestUser u = RegisterUser(c, "wq");
  PushService push(kSubject);
  json sub = push.Subscribe();  // an http:// endpoint on loopback
  EXPECT_EQ(c.Post("/api/v1/me/pushers", PusherBody(sub), u.token).status, 400);
  for (std::string ep : {"https://127.0.0.1/push/x", "https://10.0.0.7/push/x", "https://[::1]/push/x",
                         "https://169.254.169.254/push/x", "http://93.184.216.34/push/x"}) {
    json body = PusherBody(sub);
    body["endpoint"] = ep;
    auto r = c.Post("/api/v1/me/pushers", body, u.token);
    EXPECT_EQ(r.status, 400) << ep << " " << r.body;
  }
  json body = PusherBody(sub);
  body["endpoint"] = "https://93.184.216.34/push/x";  // a public literal: accepted, nothing sent yet
  EXPECT_EQ(c.Post("/api/v1/me/pushers", body, u.token).status, 201);
  EXPECT_EQ(node->Stop(), 0);
}

}  // namespace
}  // namespace gc::test
