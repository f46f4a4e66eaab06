// Federated media on real nodes (spec/media.md 8): acme.test and beta.test,
// each the real binary on its own database, federating over CurveZMQ on
// loopback. Scenarios: alice@acme posts an image in a group bob@beta joined;
// bob reads it, its thumbnail and its info through beta (bytes and sha256
// equal to the origin's), carol@beta who is not in the group gets 404;
// bob forwards it into a beta group; bob's own upload posted in acme's group
// is read by alice through acme. Ten readers of uncached media cost the
// origin one fetch. Cached media survives a SIGKILL of the reader's node and
// is served while the origin is dead; uncached media then answers 502
// origin_unavailable, and so it does while the origin is frozen (SIGSTOP). A tiny media.remote_cache_bytes evicts the least
// recently read item, which is fetched again when read again (in chunks:
// the files are bigger than one federation frame). alice's avatar is seen by
// every signed-in user of beta, carol included, while alice's other uploads
// stay 404 to her.
#include <sodium.h>

#include <future>

#include "tests/harness/media_fixtures.h"
#include "tests/integration/federation_fixture.h"

namespace gc::test {
namespace {

class MediaFederationTest : public FederationTest {
 protected:
  // acme (0) and beta (1); alice@acme owns a public group that bob@beta
  // joins; carol@beta is in no group.
  void SetUpGroup(const std::string& extra = "") {
    StartNodes({"acme.test", "beta.test"}, extra);
    alice_ = Register(0);
    bob_ = Register(1);
    carol_ = Register(1);
    group_ = CreateGroup(alice_);
    auto j = Post(bob_, "/api/v1/groups/" + G(group_) + "/join");
    ASSERT_EQ(j.status, 200) << j.body;
  }
  // Uploads `bytes` as `u` and posts it in `g` with `body`; waits until
  // `reader`'s node holds the message. The upload's answer.
  json Share(const User& u, const std::string& g, const std::string& bytes, const std::string& body,
             const User& reader) {
    auto up = HttpClient(u.port).PostRaw("/api/v1/media?filename=pic.bin", bytes, "application/octet-stream", u.token);
    EXPECT_EQ(up.status, 201) << up.body;
    json item = up.json();
    auto sent = Send(u, g, body, {{"media_id", item["media_id"]}});
    EXPECT_TRUE(sent.status == 201 || sent.status == 202) << sent.body;
    EXPECT_TRUE(Eventually([&] { return HasBody(reader, g, body); })) << "the message did not reach the reader";
    return item;
  }
  static HttpResponse Fetch(const User& u, const std::string& media_id, const std::string& suffix = "") {
    return HttpClient(u.port).Get("/api/v1/media/" + media_id + suffix, u.token);
  }
  // A counter or gauge from a node's /metrics.
  double Metric(size_t node, const std::string& name) {
    HttpClient c = N(node).Client();
    return MetricValue(c, name).value_or(-1);
  }
  static std::string Code(const HttpResponse& r) {
    json j = r.json();
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  }

  User alice_, bob_, carol_;
  std::string group_;
};

TEST_F(MediaFederationTest, BetaMemberReadsAcmesImageThroughBeta) {
  SetUpGroup();
  std::string png = MakePng(1000, 600);
  json item = Share(alice_, group_, png, "a picture", bob_);
  std::string id = item["media_id"];
  ASSERT_EQ(id.rfind("acme.test/", 0), 0u) << id;

  // What the origin serves is what beta serves: the same bytes and sha256.
  auto at_origin = Fetch(alice_, id);
  ASSERT_EQ(at_origin.status, 200);
  auto r = Fetch(bob_, id);
  ASSERT_EQ(r.status, 200) << r.body << N(1).LogText();
  EXPECT_EQ(r.body, at_origin.body);
  EXPECT_EQ(HexSha256(r.body), item["sha256"]);
  EXPECT_EQ(r.header("content-type"), "image/png");
  EXPECT_EQ(r.header("etag"), "\"" + item["sha256"].get<std::string>() + "\"");
  EXPECT_EQ(r.header("content-security-policy"), "sandbox");
  // A thumbnail made on beta from its cached original.
  auto t = Fetch(bob_, id, "/thumbnail?size=96");
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.header("content-type"), "image/webp");
  EXPECT_LT(t.body.size(), png.size());
  auto info = Fetch(bob_, id, "/info");
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_EQ(info.json()["width"], 1000);
  EXPECT_EQ(info.json()["sha256"], item["sha256"]);
  // Read once, fetched once.
  EXPECT_EQ(Metric(0, "groupchat_media_served_to_peers_total"), 1);
  EXPECT_EQ(Metric(1, "groupchat_media_remote_fetches_total"), 1);

  // Not in the group: the same 404 as for media that does not exist.
  auto nope = Fetch(carol_, id);
  EXPECT_EQ(nope.status, 404) << nope.body;
  EXPECT_EQ(Fetch(carol_, id, "/thumbnail").status, 404);
  EXPECT_EQ(Fetch(carol_, "acme.test/AAAAAAAAAAAAAAAAAAAAAAAA").body, nope.body);
  EXPECT_EQ(HttpClient(bob_.port).Get("/api/v1/media/" + id).status, 401);

  // bob forwards the picture into a group homed on beta: carol, a member
  // there, can read it from beta's cache.
  std::string bg = CreateGroup(bob_);
  ASSERT_EQ(Post(carol_, "/api/v1/groups/" + G(bg) + "/join").status, 200);
  auto fwd = Send(bob_, bg, "look", {{"media_id", id}});
  ASSERT_EQ(fwd.status, 201) << fwd.body;
  auto c = Fetch(carol_, id);
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_TRUE(c.body == at_origin.body);
  // carol cannot post media she cannot read.
  EXPECT_EQ(Send(carol_, bg, "x", {{"media_id", "acme.test/AAAAAAAAAAAAAAAAAAAAAAAA"}}).status, 400);

  // The other way round: bob's own upload in acme's group, read by alice
  // through acme (the home accepts beta's media in beta's user's message).
  std::string mine = RandomBytes(30000);
  json bobs = Share(bob_, group_, mine, "from bob", alice_);
  auto a = Fetch(alice_, bobs["media_id"]);
  ASSERT_EQ(a.status, 200) << a.body << N(0).LogText();
  EXPECT_EQ(a.body, mine);
  EXPECT_EQ(a.header("content-disposition").rfind("attachment", 0), 0u);
}

TEST_F(MediaFederationTest, TenConcurrentReadersCostTheOriginOneFetch) {
  SetUpGroup();
  std::string bytes = RandomBytes(1300000);  // three chunks
  json item = Share(alice_, group_, bytes, "big file", bob_);
  std::string id = item["media_id"];
  double served = Metric(0, "groupchat_media_served_to_peers_total");
  std::vector<std::future<HttpResponse>> readers;
  for (int i = 0; i < 10; ++i) readers.push_back(std::async(std::launch::async, [&] { return Fetch(bob_, id); }));
  for (auto& f : readers) {
    HttpResponse r = f.get();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.size(), bytes.size());
    EXPECT_TRUE(r.body == bytes);
  }
  EXPECT_EQ(Metric(0, "groupchat_media_served_to_peers_total") - served, 1);
  EXPECT_EQ(Metric(0, "groupchat_media_chunks_to_peers_total"), 3);
  EXPECT_EQ(Metric(1, "groupchat_media_remote_fetches_total"), 1);
  // A Range request is answered from the cache.
  auto part = HttpClient(bob_.port).Request("GET", "/api/v1/media/" + id, {},
                                            {{"Authorization", "Bearer " + bob_.token}, {"Range", "bytes=600000-600009"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, bytes.substr(600000, 10));
}

TEST_F(MediaFederationTest, CachedMediaOutlivesACrashAndTheOrigin) {
  SetUpGroup();
  std::string one = RandomBytes(40000), two = RandomBytes(40000);
  json cached = Share(alice_, group_, one, "one", bob_);
  json uncached = Share(alice_, group_, two, "two", bob_);
  ASSERT_EQ(Fetch(bob_, cached["media_id"]).status, 200);
  // The cache is durable from the answer on: beta killed right after it.
  N(1).Kill();
  N(1).Start();
  // The origin dies.
  N(0).Kill();
  auto r = Fetch(bob_, cached["media_id"]);
  ASSERT_EQ(r.status, 200) << r.body << N(1).LogText();
  EXPECT_TRUE(r.body == one);
  auto down = Fetch(bob_, uncached["media_id"]);
  EXPECT_EQ(down.status, 502) << down.body;
  EXPECT_EQ(Code(down), "origin_unavailable") << down.body;
  EXPECT_NE(down.json()["error"]["message"].get<std::string>().find("acme.test"), std::string::npos);
  EXPECT_EQ(N(1).Client().Get("/healthz").status, 200);
  // The origin is back: the same read succeeds.
  N(0).Start();
  HttpResponse back;
  EXPECT_TRUE(Eventually([&] {
    back = Fetch(bob_, uncached["media_id"]);
    return back.status == 200;
  })) << back.body;
  EXPECT_TRUE(back.body == two);

  // A frozen origin (SIGSTOP: no FIN, no RST, no answer): the read gives up
  // at the answer deadline with the same clear 502, and beta stays up.
  json three = Share(alice_, group_, RandomBytes(40000), "three", bob_);
  ASSERT_EQ(kill(N(0).pid(), SIGSTOP), 0);
  HttpClient patient(bob_.port);
  patient.set_timeout(std::chrono::seconds(60));  // longer than beta's own deadline
  auto frozen = patient.Get("/api/v1/media/" + three["media_id"].get<std::string>(), bob_.token);
  EXPECT_EQ(frozen.status, 502) << frozen.body;
  EXPECT_EQ(Code(frozen), "origin_unavailable") << frozen.body;
  EXPECT_TRUE(Fetch(bob_, cached["media_id"]).body == one);
  ASSERT_EQ(kill(N(0).pid(), SIGCONT), 0);
}

TEST_F(MediaFederationTest, EvictsTheLeastRecentlyReadBeyondTheCacheBound) {
  // Room for two of the 700 KB files (each two chunks), not three.
  SetUpGroup("media:\n  remote_cache_bytes: 1500000\n");
  std::vector<std::string> bytes;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    bytes.push_back(RandomBytes(700000));
    ids.push_back(Share(alice_, group_, bytes[i], "file " + std::to_string(i), bob_)["media_id"]);
  }
  ASSERT_EQ(Fetch(bob_, ids[0]).status, 200);
  ASSERT_EQ(Fetch(bob_, ids[1]).status, 200);
  // Reading 0 again makes 1 the least recently read.
  ASSERT_EQ(Fetch(bob_, ids[0]).status, 200);
  ASSERT_EQ(Fetch(bob_, ids[2]).status, 200);
  EXPECT_EQ(Metric(1, "groupchat_media_remote_evicted_total"), 1);
  double fetched = Metric(0, "groupchat_media_served_to_peers_total");
  // 0 and 2 are still held: no fetch.
  EXPECT_TRUE(Fetch(bob_, ids[0]).body == bytes[0]);
  EXPECT_TRUE(Fetch(bob_, ids[2]).body == bytes[2]);
  EXPECT_EQ(Metric(0, "groupchat_media_served_to_peers_total"), fetched);
  // 1 was evicted: fetched again, and still the right bytes.
  auto again = Fetch(bob_, ids[1]);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(again.body == bytes[1]);
  EXPECT_EQ(Metric(0, "groupchat_media_served_to_peers_total"), fetched + 1);
}

TEST_F(MediaFederationTest, ARemoteUsersAvatarIsSeenByEverySignedInUser) {
  SetUpGroup();
  HttpClient acme(alice_.port);
  auto up = acme.PostRaw("/api/v1/media?filename=me.png", MakePng(600, 600), "image/png", alice_.token);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string avatar = up.json()["media_id"];
  auto set = acme.Patch("/api/v1/me", {{"avatar_media_id", avatar}}, alice_.token);
  ASSERT_EQ(set.status, 200) << set.body;
  auto other = acme.PostRaw("/api/v1/media?filename=private.png", MakePng(300, 300), "image/png", alice_.token);
  ASSERT_EQ(other.status, 201) << other.body;
  std::string not_avatar = other.json()["media_id"];

  // carol@beta shares no group with alice: beta's profile of alice names the
  // avatar, and beta fetches it from acme as an avatar.
  auto profile = HttpClient(carol_.port).Get("/api/v1/users/" + G(alice_.id), carol_.token);
  ASSERT_EQ(profile.status, 200) << profile.body;
  EXPECT_EQ(profile.json()["avatar_media_id"], avatar);
  auto r = Fetch(carol_, avatar);
  ASSERT_EQ(r.status, 200) << r.body << N(1).LogText();
  EXPECT_TRUE(r.body == Fetch(alice_, avatar).body);
  EXPECT_EQ(r.header("content-type"), "image/png");
  auto thumb = Fetch(carol_, avatar, "/thumbnail?size=96");
  ASSERT_EQ(thumb.status, 200) << thumb.body;
  EXPECT_EQ(thumb.header("content-type"), "image/webp");
  // Every signed-in user of beta reads it from beta's cache: no new fetch.
  double served = Metric(0, "groupchat_media_served_to_peers_total");
  User dave = Register(1);
  EXPECT_EQ(Fetch(dave, avatar).status, 200);
  EXPECT_EQ(Fetch(bob_, avatar).status, 200);
  EXPECT_EQ(Metric(0, "groupchat_media_served_to_peers_total"), served);
  EXPECT_EQ(HttpClient(carol_.port).Get("/api/v1/media/" + avatar).status, 401);

  // alice's other upload is no avatar: acme refuses it to beta, and carol
  // gets the 404 of an id that exists nowhere.
  auto nope = Fetch(carol_, not_avatar);
  EXPECT_EQ(nope.status, 404) << nope.body;
  EXPECT_EQ(nope.body, Fetch(carol_, "acme.test/AAAAAAAAAAAAAAAAAAAAAAAA").body);
  EXPECT_EQ(Fetch(dave, not_avatar, "/thumbnail").status, 404);
  // Posted in a group bob is in, it is bob's to read, still not carol's.
  ASSERT_EQ(Send(alice_, group_, "the other one", {{"media_id", not_avatar}}).status, 201);
  ASSERT_TRUE(Eventually([&] { return HasBody(bob_, group_, "the other one"); }));
  EXPECT_EQ(Fetch(bob_, not_avatar).status, 200);
  EXPECT_EQ(Fetch(carol_, not_avatar).status, 404);
}

}  // namespace
}  // namespace gc::test
