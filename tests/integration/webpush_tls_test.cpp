// Web Push over TLS, as to a real push service (issue 16: until now the
// push tests spoke http:// on loopback only). The test's push receiver
// (tests/push/push_receiver.js) also listens with https, presenting
// certificates made at test time by throwaway CAs (TestCa, the openssl CLI,
// in a temp dir); the node trusts one CA through SSL_CERT_FILE, as its
// federation fetches do (the pusher's libcurl gets it as CURLOPT_CAINFO).
//
// Shown: a push delivered over https, decrypted by npm http_ece with the
// subscription's key, its VAPID JWT checked (aud = the https origin); a push
// service whose certificate comes from a CA the node does not trust is
// refused, and so is one whose certificate names other hosts: each with a
// readable last_error on the pusher, nothing delivered, the node up.
// Webhooks are sent by the same code (PostToPusher), so this covers their
// TLS too.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/harness/harness.h"
#include "tests/support/node_test.h"
#include "tests/support/push_service.h"
#include "tests/support/test_ca.h"

namespace gc::test {
namespace {

using nlohmann::json;

constexpr const char* kTlsSubject = "mailto:ops@acme.test";

class WebPushTlsTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    TestCa trusted(dir_->path(), "trusted"), rogue(dir_->path(), "rogue");
    auto good = trusted.Issue("push-good", "DNS:localhost,IP:127.0.0.1");
    auto other_names = trusted.Issue("push-other-names", "DNS:push.example.test");
    auto untrusted = rogue.Issue("push-rogue", "DNS:localhost,IP:127.0.0.1");
    push_ = new PushService(kTlsSubject, {{"good", good.cert, good.key},
                                          {"other-names", other_names.cert, other_names.key},
                                          {"rogue", untrusted.cert, untrusted.key}});
    NodeOptions o;
    o.extra_yaml = std::string(kNoRateLimits) + "notifications:\n  allow_private_endpoints: true\n"
                   "  vapid_subject: " + kTlsSubject + "\n";
    o.env["SSL_CERT_FILE"] = trusted.cert();  // the trusted CA is the only CA file the node reads
    StartNode(std::move(o));
  }
  static void TearDownTestSuite() {
    NodeTest::TearDownTestSuite();
    delete push_;
    push_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  // `u`'s only pusher, as GET /me/pushers shows it.
  json Pusher(const TestUser& u) {
    auto r = c_.Get("/api/v1/me/pushers", u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    json list = r.json()["pushers"];
    EXPECT_EQ(list.size(), 1u) << r.body;
    return list.empty() ? json::object() : list[0];
  }
  // Polls `u`'s pusher every 20 ms until `done` holds for it, for at most
  // 20 s (its status is written after the push service answered, or the
  // connection failed); the last state seen.
  template <typename F>
  json WaitPusher(const TestUser& u, F done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    json p = Pusher(u);
    while (!done(p) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      p = Pusher(u);
    }
    return p;
  }
  // A subscription of `b` on the https listener `listener` (endpoint host
  // localhost) and a mention of b by a in a group they share: the event.
  json MentionWithPusherOn(const std::string& listener, const TestUser& a, const TestUser& b, json* sub) {
    *sub = push_->Subscribe(json::array(), listener, "localhost");
    EXPECT_EQ(sub->value("endpoint", "").rfind("https://localhost:", 0), 0u) << *sub;
    auto reg = c_.Post("/api/v1/me/pushers", PusherBody(*sub), b.token);
    EXPECT_EQ(reg.status, 201) << reg.body;
    std::string g = NewGroupWith(a, {&b});
    return Send(a, g, "over tls, " + b.id);
  }

  // A mention of a user whose pusher is on https listener `listener`, which
  // the node must refuse: the pusher's last_error once it has one, after
  // checking that the attempt counted as a failure and that the push
  // service never saw a request (the TLS handshake failed).
  std::string RefusedOn(const std::string& listener) {
    TestUser a = NewUser("wt"), b = NewUser("wt");
    json sub;
    MentionWithPusherOn(listener, a, b, &sub);
    json p = WaitPusher(b, [](const json& x) { return x["last_error"].is_string(); });
    EXPECT_TRUE(p["last_error"].is_string()) << p;
    EXPECT_GE(p.value("failures", 0), 1) << p;
    EXPECT_TRUE(p["last_success_at"].is_null()) << p;
    EXPECT_EQ(push_->Pushes(sub, 1, 0).size(), 0u);
    return p.value("last_error", "");
  }

  static inline TempDir* dir_ = nullptr;
  static inline PushService* push_ = nullptr;
};

TEST_F(WebPushTlsTest, PushOverHttpsIsDeliveredDecryptedAndSigned) {
  TestUser a = NewUser("wt"), b = NewUser("wt");
  json sub;
  json m = MentionWithPusherOn("good", a, b, &sub);
  json got = push_->Pushes(sub, 1);
  ASSERT_EQ(got.size(), 1u) << got;
  ASSERT_TRUE(got[0]["ok"].get<bool>()) << got;
  json entry = json::parse(got[0]["payload"].get<std::string>());
  EXPECT_EQ(entry["event_id"], m["event_id"]);
  EXPECT_EQ(entry["kind"], "mention");
  // The VAPID token names the https origin the node connected to.
  EXPECT_EQ(got[0]["jwt"]["aud"], "https://localhost:" + std::to_string(push_->TlsPort("good")));
  EXPECT_EQ(got[0]["jwt"]["sub"], kTlsSubject);
  EXPECT_EQ(got[0]["jwt"]["k"], c_.Get("/api/v1/push/vapid-public-key").json()["public_key"]);
  json p = WaitPusher(b, [](const json& x) { return !x["last_success_at"].is_null(); });
  EXPECT_FALSE(p["last_success_at"].is_null()) << p;
  EXPECT_TRUE(p["last_error"].is_null()) << p;
  EXPECT_EQ(p["failures"], 0) << p;
}

TEST_F(WebPushTlsTest, CertificateFromAnUntrustedCaIsRefused) {
  std::string error = RefusedOn("rogue");
  // libcurl's reason, e.g. "no answer: SSL certificate problem: unable to
  // get local issuer certificate".
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
}

TEST_F(WebPushTlsTest, CertificateForOtherHostNamesIsRefused) {
  std::string error = RefusedOn("other-names");
  // e.g. "no answer: SSL: no alternative certificate subject name matches
  // target host name 'localhost'".
  EXPECT_NE(error.find("localhost"), std::string::npos) << error;
  EXPECT_NE(error.find("name"), std::string::npos) << error;
}

}  // namespace
}  // namespace gc::test
