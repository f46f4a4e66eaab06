// Bad input over federation, from a fake node "evil.test" that speaks the
// real wire protocol (its own keys, a signed node document served over HTTP,
// CURVE over ZeroMQ): malformed, unknown and oversized frames, forged
// signatures, wrong origins, events for groups it has no member in, pushes
// for groups it is not home of, replays, a stranger's key, and a flood past
// the per-peer rate limit. Every refusal is answered or logged, the node keeps
// running, and its stored log stays intact and verifiable.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>
#include <zmq.h>

#include <atomic>
#include <random>
#include <thread>

#include "node/identity/node_keys.h"
#include "services/groups/group_log.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"
#include "tests/harness/harness.h"
#include "tests/support/loopback_listener.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

// Serves one canned HTTP answer to every request, on 127.0.0.1 (the fake
// node's /.well-known/groupchat/node); over TLS when given a certificate.
class TinyHttpServer {
 public:
  explicit TinyHttpServer(std::string body, const std::string& cert = "", const std::string& key = "")
      : body_(std::move(body)) {
    if (!cert.empty()) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~TinyHttpServer() {
    listener_.Shutdown();
    thread_.join();
    if (ctx_) SSL_CTX_free(ctx_);
  }
  int port() const { return listener_.port(); }

 private:
  void Loop() {
    for (int c; (c = listener_.Accept()) >= 0;) {
      char buf[4096];
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      timeval tv{2, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (ctx_) {
        SSL* ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) == 1) {
          (void)SSL_read(ssl, buf, sizeof buf);
          SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
          SSL_shutdown(ssl);
        }
        SSL_free(ssl);
      } else {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 2000) == 1) (void)!recv(c, buf, sizeof buf, 0);
        (void)!send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      }
      close(c);
    }
  }
  std::string body_;
  SSL_CTX* ctx_ = nullptr;
  LoopbackListener listener_;
  std::thread thread_;
};

struct FakeNode {
  std::string name = "evil.test";
  std::string sign_pub, sign_sec, curve_pub, curve_sec, key_id;
  FakeNode() {
    sign_pub.resize(32);
    sign_sec.resize(64);
    crypto_sign_keypair(reinterpret_cast<unsigned char*>(sign_pub.data()),
                        reinterpret_cast<unsigned char*>(sign_sec.data()));
    curve_pub.resize(32);
    curve_sec.resize(32);
    crypto_box_keypair(reinterpret_cast<unsigned char*>(curve_pub.data()),
                       reinterpret_cast<unsigned char*>(curve_sec.data()));
    key_id = "ed25519:" + Base64Url(sign_pub).substr(0, 8);
  }
  std::string Document() const {
    json doc = {{"name", name},
                {"federation_endpoint", "tcp://127.0.0.1:1"},
                {"public_key", Base64Url(sign_pub)},
                {"key_id", key_id},
                {"transport_key", Base64Url(curve_pub)},
                {"old_verify_keys", json::object()}};
    doc["signature"] = SignBytes(*SigningBytes(doc), sign_sec);
    return doc.dump();
  }
  // {event, content}: a signed origin event of `sender` for `group`.
  json Event(const std::string& group, const std::string& sender, const std::string& type, const json& content,
             const std::string& origin = "") const {
    ChainEvent ce{group, type, sender, origin.empty() ? name : origin, NowMs(), NewNonce(), *ContentHash(content),
                  std::nullopt};
    json e = OriginEventJson(ce);
    e["signatures"] = {{name, {{key_id, SignBytes(*SigningBytes(e), sign_sec)}}}};
    return {{"event", e}, {"content", content}};
  }
};

std::string Z85(const std::string& raw) {
  char out[41];
  zmq_z85_encode(out, reinterpret_cast<const uint8_t*>(raw.data()), 32);
  return std::string(out, 40);
}

// A DEALER to the node under test.
class Dealer {
 public:
  Dealer(void* ctx, const std::string& endpoint, const std::string& server_key, const std::string& routing_id,
         const std::string& pub, const std::string& sec) {
    s_ = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s_, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s_, ZMQ_ROUTING_ID, routing_id.data(), routing_id.size());
    std::string sk = Z85(server_key), pk = Z85(pub), xk = Z85(sec);
    zmq_setsockopt(s_, ZMQ_CURVE_SERVERKEY, sk.data(), sk.size());
    zmq_setsockopt(s_, ZMQ_CURVE_PUBLICKEY, pk.data(), pk.size());
    zmq_setsockopt(s_, ZMQ_CURVE_SECRETKEY, xk.data(), xk.size());
    zmq_connect(s_, endpoint.c_str());
  }
  ~Dealer() { zmq_close(s_); }
  void SendRaw(const std::string& bytes) { zmq_send(s_, bytes.data(), bytes.size(), 0); }
  std::string Send(const std::string& type, const json& body, const std::string& id = "") {
    std::string msg_id = id.empty() ? NewNonce() : id;
    SendRaw(json{{"v", 1}, {"id", msg_id}, {"type", type}, {"body", body}}.dump());
    return msg_id;
  }
  // The next answer, or null after `ms`.
  json Recv(int ms = 5000) {
    zmq_pollitem_t it{s_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) != 1) return nullptr;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, s_, 0);
    std::string s(static_cast<char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
    zmq_msg_close(&m);
    return json::parse(s, nullptr, false);
  }

 private:
  void* s_;
};

class FederationSecurityTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    fake_ = new FakeNode();
    http_ = new TinyHttpServer(fake_->Document());
    StartNode(std::string(kNoRateLimits) + "federation:\n  rate_per_peer: 20\n  burst_per_peer: 60\n"
              "  resolve:\n    evil.test: http://127.0.0.1:" + std::to_string(http_->port()) + "\n");
    ctx_ = zmq_ctx_new();
  }
  static void TearDownTestSuite() {
    zmq_ctx_term(ctx_);
    NodeTest::TearDownTestSuite();
    delete http_;
    delete fake_;
  }
  void SetUp() override {
    // The fake introduces itself the way a real node does.
    auto r = c_.Post("/_federation/v1/hello", {{"name", "evil.test"}});
    ASSERT_EQ(r.status, 200) << r.body << node_->LogText();
    auto doc = c_.Get("/.well-known/groupchat/node");
    server_key_ = *DecodeBase64Url(doc.json()["transport_key"].get<std::string>());
    dealer_ = std::make_unique<Dealer>(ctx_, node_->federation_endpoint(), server_key_, "evil.test", fake_->curve_pub,
                                       fake_->curve_sec);
    // Sleep between tests so that the rate limit bucket refills.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  void TearDown() override {
    dealer_.reset();
    NodeTest::TearDown();
  }
  // An answer to `id` (skipping others), or null.
  json AnswerTo(const std::string& id) {
    for (int i = 0; i < 50; ++i) {
      json a = dealer_->Recv();
      if (a.is_null()) return a;
      if (a.value("re", "") == id) return a;
    }
    return nullptr;
  }
  // A group of a new local user (its token in token_).
  std::string PublicGroup() {
    token_ = NewUser("a").token;
    return CreateGroup(c_, token_);
  }

  static inline FakeNode* fake_ = nullptr;
  static inline TinyHttpServer* http_ = nullptr;
  static inline void* ctx_ = nullptr;
  std::string server_key_, token_;
  std::unique_ptr<Dealer> dealer_;
};

TEST_F(FederationSecurityTest, MalformedFramesAreAnsweredWithErrors) {
  dealer_->SendRaw("this is not json");
  json a = dealer_->Recv();
  ASSERT_TRUE(a.is_object()) << node_->LogText();
  EXPECT_EQ(a["type"], "error");
  EXPECT_EQ(a["body"]["code"], "invalid");
  for (const std::string bad : {"{\"v\":1}", "[1,2,3]", "{\"v\":1,\"id\":\"x\",\"type\":\"push\",\"body\":[]}",
                                "{\"v\":1,\"id\":\"x\",\"id\":\"y\",\"type\":\"push\",\"body\":{}}"}) {
    dealer_->SendRaw(bad);
    json e = dealer_->Recv();
    ASSERT_TRUE(e.is_object()) << bad;
    EXPECT_EQ(e["type"], "error") << bad;
  }
  json unknown = AnswerTo(dealer_->Send("teleport", json::object()));
  EXPECT_EQ(unknown["type"], "error");
  json v2 = json{{"v", 2}, {"id", "v2"}, {"type", "push"}, {"body", json::object()}};
  dealer_->SendRaw(v2.dump());
  EXPECT_EQ(AnswerTo("v2")["type"], "error");
  json push = AnswerTo(dealer_->Send("push", {{"group_id", 42}, {"entries", "x"}}));
  EXPECT_EQ(push["type"], "error");
  // Odd types where strings, booleans and objects belong.
  json odd = AnswerTo(dealer_->Send("join", {{"event", 7}, {"content", "x"}, {"have_replica", "yes"}}));
  EXPECT_EQ(odd["type"], "error");
  json snap = AnswerTo(dealer_->Send("snapshot", {{"group_id", "#g:evil.test"}, {"state", {{"title", 5}, {"members", 3}}},
                                                 {"entries", {{{"seq", "one"}}}}}));
  EXPECT_EQ(snap["type"], "error");
  json prof = AnswerTo(dealer_->Send("profile", {{"user_id", "@someone:beta.test"}}));
  EXPECT_EQ(prof["body"]["code"], "not_found");
}

TEST_F(FederationSecurityTest, ForgedWrongOriginAndNonMemberEventsAreRefused) {
  std::string g = PublicGroup();
  // No user of evil.test is in the group.
  json not_member = AnswerTo(dealer_->Send("submit", fake_->Event(g, "@mallory:evil.test", "message", {{"body", "hi"}})));
  EXPECT_EQ(not_member["type"], "error");
  EXPECT_EQ(not_member["body"]["code"], "forbidden") << not_member.dump();
  // An event claiming another origin.
  json other = fake_->Event(g, "@bob:beta.test", "message", {{"body", "hi"}}, "beta.test");
  json wrong_origin = AnswerTo(dealer_->Send("submit", other));
  EXPECT_EQ(wrong_origin["body"]["code"], "forbidden") << wrong_origin.dump();
  // A sender of another server under evil's own origin.
  json spoof = fake_->Event(g, "@root:acme.test", "message", {{"body", "hi"}});
  EXPECT_EQ(AnswerTo(dealer_->Send("submit", spoof))["body"]["code"], "forbidden");
  // A forged signature.
  json forged = fake_->Event(g, "@mallory:evil.test", "member",
                             {{"user_id", "@mallory:evil.test"}, {"membership", "join"}, {"role", "member"}});
  std::string& sig = forged["event"]["signatures"]["evil.test"][fake_->key_id].get_ref<std::string&>();
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  json f = AnswerTo(dealer_->Send("join", forged));
  EXPECT_EQ(f["body"]["code"], "unauthorized") << f.dump();
  // Content that is not what the hash says.
  json swapped = fake_->Event(g, "@mallory:evil.test", "message", {{"body", "one"}});
  swapped["content"]["body"] = "two";
  EXPECT_EQ(AnswerTo(dealer_->Send("submit", swapped))["body"]["code"], "invalid");
  // Entries for a group this node is home of.
  json push = AnswerTo(dealer_->Send("push", {{"group_id", g}, {"entries", json::array()}}));
  EXPECT_EQ(push["body"]["code"], "forbidden") << push.dump();
  // A catch-up of a group it takes no part in.
  json cu = AnswerTo(dealer_->Send("catchup", {{"group_id", g}, {"from_seq", 0}}));
  EXPECT_EQ(cu["body"]["code"], "forbidden") << cu.dump();

  // None of it reached the log.
  auto h = node_->Client().Get("/api/v1/groups/" + G(g) + "/messages", token_);
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.body.find("mallory"), std::string::npos) << h.body;
  EXPECT_EQ(node_->Cli({"admin", "verify-group", g}).exit_code, 0);
}

TEST_F(FederationSecurityTest, ReplaysAreHarmless) {
  std::string g = PublicGroup();
  json join = fake_->Event(g, "@mallory:evil.test", "member",
                           {{"user_id", "@mallory:evil.test"}, {"membership", "join"}, {"role", "member"}});
  join["have_replica"] = true;
  json j = AnswerTo(dealer_->Send("join", join));
  ASSERT_EQ(j["type"], "ack") << j.dump() << node_->LogText();
  json msg = fake_->Event(g, "@mallory:evil.test", "message", {{"body", "only once"}});
  json a1 = AnswerTo(dealer_->Send("submit", msg));
  ASSERT_EQ(a1["type"], "ack") << a1.dump();
  json a2 = AnswerTo(dealer_->Send("submit", msg));  // the same event again
  ASSERT_EQ(a2["type"], "ack") << a2.dump();
  EXPECT_EQ(a2["body"]["seq"], a1["body"]["seq"]);
  EXPECT_EQ(a2["body"]["replayed"], true);
  auto h = node_->Client().Get("/api/v1/groups/" + G(g) + "/messages", token_);
  size_t count = 0;
  for (size_t p = h.body.find("only once"); p != std::string::npos; p = h.body.find("only once", p + 1)) ++count;
  EXPECT_EQ(count, 1u) << h.body;
  EXPECT_EQ(node_->Cli({"admin", "verify-group", g}).exit_code, 0);
}

// media.fetch (spec/federation.md 8.6c): a node with no member in any group
// carrying the media gets the same not_found as for media that does not
// exist; once its user has joined, it gets the bytes; once the message is
// deleted, not_found again.
TEST_F(FederationSecurityTest, MediaIsFetchedOnlyByParticipantsOfAGroupCarryingIt) {
  std::string g = PublicGroup();
  std::string bytes(20000, 'x');
  bytes[0] = '\x01';
  HttpClient c = node_->Client();
  auto up = c.PostRaw("/api/v1/media?filename=a.bin", bytes, "application/octet-stream", token_);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = up.json()["media_id"];
  auto sent = c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "file"}, {"media_id", id}}, token_);
  ASSERT_EQ(sent.status, 201) << sent.body;

  auto fetch = [&](const json& body) { return AnswerTo(dealer_->Send("media.fetch", body)); };
  json refused = fetch({{"media_id", id}, {"offset", 0}});
  EXPECT_EQ(refused["type"], "error") << refused.dump();
  EXPECT_EQ(refused["body"]["code"], "not_found");
  std::string server = id.substr(0, id.find('/'));
  json unknown = fetch({{"media_id", server + "/AAAAAAAAAAAAAAAAAAAAAAAA"}, {"offset", 0}});
  EXPECT_EQ(unknown["body"], refused["body"]) << "no oracle for what exists";
  EXPECT_EQ(fetch({{"media_id", "../../etc/passwd"}, {"offset", 0}})["body"], refused["body"]);
  EXPECT_EQ(fetch({{"media_id", id}})["body"]["code"], "invalid");
  EXPECT_EQ(fetch({{"media_id", 7}, {"offset", 0}})["body"]["code"], "invalid");

  json join = fake_->Event(g, "@eve:evil.test", "member",
                           {{"user_id", "@eve:evil.test"}, {"membership", "join"}, {"role", "member"}});
  join["have_replica"] = true;
  ASSERT_EQ(AnswerTo(dealer_->Send("join", join))["type"], "ack");
  json ok = fetch({{"media_id", id}, {"offset", 0}});
  ASSERT_EQ(ok["type"], "ack") << ok.dump();
  EXPECT_EQ(ok["body"]["size"], 20000);
  EXPECT_EQ(ok["body"]["sha256"], up.json()["sha256"]);
  EXPECT_EQ(*DecodeBase64Url(ok["body"]["data"].get<std::string>()), bytes);
  json tail = fetch({{"media_id", id}, {"offset", 19990}});
  EXPECT_EQ(*DecodeBase64Url(tail["body"]["data"].get<std::string>()), bytes.substr(19990));
  EXPECT_EQ(fetch({{"media_id", id}, {"offset", 20001}})["body"]["code"], "invalid");

  // The message is deleted: the media is no longer carried by a live one.
  auto del = c.Delete("/api/v1/groups/" + G(g) + "/messages/" + PathSegment(sent.json()["event_id"]), token_);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(fetch({{"media_id", id}, {"offset", 0}})["body"], refused["body"]);
}

// A home node may invite this node's users, but not claim they joined its
// group; and once an entry is held, a different one for its seq is a fork.
TEST_F(FederationSecurityTest, UnaskedReplicasAndForksAreRefused) {
  HttpClient c = node_->Client();
  TestUser v = NewUser("v");
  std::string victim = v.id, token = v.token;
  std::string g = "#" + UniqueName("spam") + ":evil.test";
  int64_t now = NowMs();
  // Entries of evil's group, sequenced and signed by evil as its home.
  auto entry = [&](int64_t seq, const std::string& prev, const std::string& type, const json& content,
                   std::string* hash) {
    ChainEvent ce{g, type, "@mallory:evil.test", "evil.test", now, NewNonce(), *ContentHash(content), std::nullopt};
    std::string id = *EventIdOf(ce);
    std::string bytes = *CanonicalJson(EntryJson(g, seq, prev, id, now));
    *hash = Base64Url(Sha256(bytes));
    return json{{"seq", seq}, {"prev", prev}, {"home_ts", now}, {"event_id", id}, {"event", OriginEventJson(ce)},
                {"content", content}, {"signatures", {{"evil.test", {{fake_->key_id, SignBytes(bytes, fake_->sign_sec)}}}}}};
  };
  std::string h1, h2, h3, h3b;
  json e1 = entry(1, "", "group.create", {{"group_id", g}, {"title", "spam"}}, &h1);
  json e2 = entry(2, h1, "member", {{"user_id", "@mallory:evil.test"}, {"membership", "join"}, {"role", "owner"}}, &h2);
  auto snapshot = [&](const std::string& membership, const json& last) {
    json members = {{{"user_id", "@mallory:evil.test"}, {"membership", "join"}, {"role", "owner"}},
                    {{"user_id", victim}, {"membership", membership}, {"role", "member"}}};
    return json{{"group_id", g},
                {"state", {{"title", "spam"}, {"visibility", "public"}, {"join_rule", "open"}, {"members", members}}},
                {"entries", {e1, e2, last}}};
  };
  json joined = entry(3, h2, "member", {{"user_id", victim}, {"membership", "join"}, {"role", "member"}}, &h3);
  json refused = AnswerTo(dealer_->Send("snapshot", snapshot("join", joined)));
  EXPECT_EQ(refused["body"]["code"], "forbidden") << refused.dump();
  EXPECT_EQ(c.Get("/api/v1/groups", token).body.find("spam"), std::string::npos);

  // An invitation is what a remote home may send.
  json invited = entry(3, h2, "member", {{"user_id", victim}, {"membership", "invite"}}, &h3);
  json ok = AnswerTo(dealer_->Send("snapshot", snapshot("invite", invited)));
  ASSERT_EQ(ok["type"], "ack") << ok.dump() << node_->LogText();
  EXPECT_EQ(ok["body"]["have"], 3);
  auto mine = c.Get("/api/v1/groups", token);
  EXPECT_NE(mine.body.find(g), std::string::npos) << mine.body;

  // The same seq 3, rewritten.
  json other = entry(3, h2, "member", {{"user_id", victim}, {"membership", "ban"}}, &h3b);
  json fork = AnswerTo(dealer_->Send("push", {{"group_id", g}, {"entries", {other}}}));
  EXPECT_EQ(fork["body"]["code"], "conflict") << fork.dump();
  EXPECT_NE(node_->LogText().find("federation fork"), std::string::npos);
  EXPECT_NE(c.Get("/api/v1/groups", token).body.find("\"invite\""), std::string::npos);  // still invited, not banned
  EXPECT_EQ(node_->Cli({"admin", "verify-group", g}).exit_code, 0);
}

// A snapshot that creates a replica is checked like a push to one: the home
// signature of its entries must verify, and it may list as joined only the
// local users who asked this node to join.
TEST_F(FederationSecurityTest, SnapshotIsVerifiedAndListsOnlyLocalUsersWhoAsked) {
  HttpClient c = node_->Client();
  auto user = [&](const char* prefix) {
    TestUser u = NewUser(prefix);
    return std::make_pair(u.id, u.token);
  };
  auto [invitee, invitee_token] = user("i");
  auto [bystander, bystander_token] = user("b");
  std::string g = "#" + UniqueName("lure") + ":evil.test";
  int64_t now = NowMs();
  // `key`: the key the home signs the entry with.
  auto entry = [&](int64_t seq, const std::string& prev, const std::string& type, const json& content,
                   std::string* hash, const std::string& key) {
    ChainEvent ce{g, type, "@mallory:evil.test", "evil.test", now, NewNonce(), *ContentHash(content), std::nullopt};
    std::string id = *EventIdOf(ce);
    std::string bytes = *CanonicalJson(EntryJson(g, seq, prev, id, now));
    *hash = Base64Url(Sha256(bytes));
    return json{{"seq", seq}, {"prev", prev}, {"home_ts", now}, {"event_id", id}, {"event", OriginEventJson(ce)},
                {"content", content}, {"signatures", {{"evil.test", {{fake_->key_id, SignBytes(bytes, key)}}}}}};
  };
  std::string h1, h2, h3;
  json e1 = entry(1, "", "group.create", {{"group_id", g}, {"title", "lure"}}, &h1, fake_->sign_sec);
  json e2 = entry(2, h1, "member", {{"user_id", "@mallory:evil.test"}, {"membership", "join"}, {"role", "owner"}}, &h2,
                  fake_->sign_sec);
  json members = {{{"user_id", "@mallory:evil.test"}, {"membership", "join"}, {"role", "owner"}},
                  {{"user_id", invitee}, {"membership", "invite"}, {"role", "member"}},
                  {{"user_id", bystander}, {"membership", "join"}, {"role", "member"}}};
  auto snapshot = [&](const json& last) {
    return json{{"group_id", g},
                {"state", {{"title", "lure"}, {"visibility", "public"}, {"join_rule", "open"}, {"members", members}}},
                {"entries", {e1, e2, last}}};
  };

  // The last entry signed with another key: no replica.
  std::string other_pub(32, '\0'), other_sec(64, '\0');
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(other_pub.data()),
                      reinterpret_cast<unsigned char*>(other_sec.data()));
  json forged = entry(3, h2, "member", {{"user_id", invitee}, {"membership", "invite"}}, &h3, other_sec);
  json refused = AnswerTo(dealer_->Send("snapshot", snapshot(forged)));
  EXPECT_EQ(refused["body"]["code"], "unauthorized") << refused.dump();
  EXPECT_EQ(c.Get("/api/v1/groups", invitee_token).body.find(g), std::string::npos);

  // Signed: the invitation stands, the bystander it calls joined does not.
  json invited = entry(3, h2, "member", {{"user_id", invitee}, {"membership", "invite"}}, &h3, fake_->sign_sec);
  json ok = AnswerTo(dealer_->Send("snapshot", snapshot(invited)));
  ASSERT_EQ(ok["type"], "ack") << ok.dump() << node_->LogText();
  EXPECT_NE(c.Get("/api/v1/groups", invitee_token).body.find(g), std::string::npos);
  EXPECT_EQ(c.Get("/api/v1/groups", bystander_token).body.find(g), std::string::npos);
  auto seen = c.Get("/api/v1/groups/" + G(g) + "/messages", bystander_token);
  EXPECT_NE(seen.status, 200) << seen.body;
  EXPECT_NE(node_->LogText().find("a local user who did not ask to join"), std::string::npos);
}

TEST_F(FederationSecurityTest, OversizedFrameDropsOnlyThatConnection) {
  dealer_->SendRaw(std::string(2 * 1024 * 1024, 'x'));
  EXPECT_TRUE(dealer_->Recv(1500).is_null());  // no answer: the connection was cut
  // The DEALER reconnects by itself and is served again.
  json ok;
  for (int i = 0; i < 20 && !ok.is_object(); ++i) ok = AnswerTo(dealer_->Send("key_query", json::object()));
  ASSERT_TRUE(ok.is_object()) << node_->LogText();
  EXPECT_EQ(ok["type"], "ack");
  EXPECT_EQ(ok["body"]["document"]["name"], "acme.test");
}

TEST_F(FederationSecurityTest, UnknownKeyIsRefusedAtTheTransport) {
  std::string pub(32, '\0'), sec(32, '\0');
  crypto_box_keypair(reinterpret_cast<unsigned char*>(pub.data()), reinterpret_cast<unsigned char*>(sec.data()));
  // Claims to be evil.test, but with a key nobody pinned.
  Dealer stranger(ctx_, node_->federation_endpoint(), server_key_, "evil.test", pub, sec);
  stranger.Send("key_query", json::object());
  EXPECT_TRUE(stranger.Recv(1500).is_null());
  EXPECT_NE(node_->LogText().find("federation connection refused"), std::string::npos);
}

TEST_F(FederationSecurityTest, FloodIsRateLimitedPerPeer) {
  int limited = 0, answered = 0;
  for (int i = 0; i < 150; ++i) dealer_->Send("key_query", json::object(), "flood" + std::to_string(i));
  for (int i = 0; i < 150; ++i) {
    json a = dealer_->Recv(3000);
    if (!a.is_object()) break;
    ++answered;
    if (a["type"] == "error" && a["body"]["code"] == "rate_limited") ++limited;
  }
  EXPECT_EQ(answered, 150);
  EXPECT_GT(limited, 50);
  EXPECT_LT(limited, 150);
}

// The node document of a peer found by its name alone is fetched over
// https:// with the certificate checked: trusted, the peer is pinned;
// untrusted, it is refused.
TEST(FederationTlsTest, NodeDocumentOverHttpsIsVerified) {
  TempDir dir;
  std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
                    "-addext subjectAltName=DNS:localhost -keyout " + key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  FakeNode fake;
  TinyHttpServer https(fake.Document(), cert, key);
  std::string url = "https://localhost:" + std::to_string(https.port());
  NodeOptions o;
  o.extra_yaml = "federation:\n  resolve:\n    evil.test: " + url + "\n";
  o.env["SSL_CERT_FILE"] = cert;  // the test's certificate is the only trusted one
  NodeProcess trusting(o);
  trusting.Start();
  auto ok = trusting.Client().Post("/_federation/v1/hello", {{"name", "evil.test"}});
  EXPECT_EQ(ok.status, 200) << ok.body << trusting.LogText();
  EXPECT_EQ(trusting.Stop(), 0);

  NodeOptions o2;
  o2.extra_yaml = o.extra_yaml;  // system CAs only: the self-signed certificate is not trusted
  NodeProcess wary(o2);
  wary.Start();
  auto refused = wary.Client().Post("/_federation/v1/hello", {{"name", "evil.test"}});
  EXPECT_EQ(refused.status, 502) << refused.body;
  // The caller gets the generic answer; the reason is in the node's log.
  EXPECT_EQ(refused.body.find("certificate"), std::string::npos) << refused.body;
  EXPECT_NE(wary.LogText().find("certificate"), std::string::npos);
  EXPECT_EQ(wary.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
