// The S3 media store against a real S3 implementation: npm s3rver, behind a
// proxy that recomputes every request's SigV4 signature with the npm aws4
// package and refuses a mismatch (tests/s3/s3_peer.js; `make deps` installs
// both from tests/s3/package-lock.json). Scenarios: a round trip of a file
// and an image through signed requests, a wrong secret (refused by the
// proxy: the upload is 503 and nothing is referenced), virtual-host style
// addressing (media.localhost), the store going away (503 for uploads and
// downloads, the node keeps serving), and a store that hangs or crawls
// (behind a FaultProxy: 503 within media.s3.timeout_s, nothing half-written
// referenced, uploads work again once it is back).
#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>

#include "tests/harness/fault_proxy.h"
#include "tests/harness/harness.h"
#include "tests/harness/media_fixtures.h"
#include "tests/harness/node_script.h"

namespace gc::test {
namespace {

using nlohmann::json;

// The S3 peer as a child process (tests/harness/node_script.h): it exits
// with this test process.
class S3Peer {
 public:
  explicit S3Peer(const std::string& dir)
      : script_(std::string(GC_SOURCE_DIR) + "/tests/s3/s3_peer.js",
                {"--dir", dir, "--bucket", "media", "--key", "gc-test-key", "--secret", "gc-test-secret"},
                std::string(GC_SOURCE_DIR) + "/tests/s3/node_modules/s3rver", "run `make deps` (npm ci in tests/s3)"),
        port_(script_.ready()["proxy_port"].get<int>()) {}
  void Stop() { script_.Stop(); }
  int port() const { return port_; }

 private:
  NodeScript script_;
  int port_ = 0;
};

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  s[0] = '\x01';
  return s;
}

class MediaS3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    peer_ = std::make_unique<S3Peer>(s3_dir_.path());
  }
  // path_style false: requests go to media.localhost:PORT (curl resolves
  // every *.localhost name to the loopback address).
  // `port`: where the node finds the store (the peer's, or a proxy's);
  // `timeout_s`: media.s3.timeout_s.
  std::unique_ptr<NodeProcess> StartNode(const std::string& secret, bool path_style = true, int port = 0,
                                         int timeout_s = 10) {
    NodeOptions o;
    o.extra_yaml = "rate_limits:\n  enabled: false\nmedia:\n  store: s3\n  s3:\n    endpoint: http://" +
                   std::string(path_style ? "127.0.0.1" : "localhost") + ":" + std::to_string(port ? port : peer_->port()) +
                   "\n    bucket: media\n    access_key_id: gc-test-key\n    timeout_s: " + std::to_string(timeout_s) +
                   "\n    path_style: " +
                   (path_style ? "true" : "false") + "\n";
    o.env["GROUPCHAT_MEDIA_S3_SECRET_ACCESS_KEY"] = secret;
    auto node = std::make_unique<NodeProcess>(o);
    node->Start();
    auto r = node->Cli({"admin", "create-user", "--username", "root", "--password-file", "-", "--admin"},
                       "rootpassword\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    HttpClient c = node->Client();
    admin_ = c.Post("/api/v1/auth/login", {{"username", "root"}, {"password", "rootpassword"}}).json()["access_token"];
    user_ = c.Post("/api/v1/auth/register", {{"username", UniqueName("s")}, {"password", "correct horse"}})
                .json()["access_token"];
    return node;
  }
  bool ObjectStored(const std::string& sha) {
    for (auto& e : std::filesystem::recursive_directory_iterator(s3_dir_.path())) {
      if (e.path().string().find(sha) != std::string::npos) return true;
    }
    return false;
  }
  TempDir s3_dir_;
  std::unique_ptr<S3Peer> peer_;
  std::string admin_, user_;
};

TEST_F(MediaS3Test, FilesAndImagesRoundTripThroughSignedRequests) {
  auto node = StartNode("gc-test-secret");
  HttpClient c = node->Client();
  std::string bytes = RandomBytes(200000);
  auto up = c.PostRaw("/api/v1/media?filename=data.bin", bytes, "x", user_);
  ASSERT_EQ(up.status, 201) << up.body << node->LogText();
  EXPECT_TRUE(ObjectStored(up.json()["sha256"]));
  auto down = c.Request("GET", "/api/v1/media/" + up.json()["media_id"].get<std::string>(), {},
                        {{"Authorization", "Bearer " + user_}});
  ASSERT_EQ(down.status, 200) << down.body;
  EXPECT_EQ(down.body, bytes);
  auto range = c.Request("GET", "/api/v1/media/" + up.json()["media_id"].get<std::string>(), {},
                         {{"Authorization", "Bearer " + user_}, {"Range", "bytes=100-199"}});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, bytes.substr(100, 100));

  auto img = c.PostRaw("/api/v1/media", WithExif(MakeJpeg(900, 500), 1, "GCSECRETCAMERA"), "image/jpeg", user_);
  ASSERT_EQ(img.status, 201) << img.body;
  std::string id = img.json()["media_id"];
  auto thumb = c.Request("GET", "/api/v1/media/" + id + "/thumbnail?size=96", {}, {{"Authorization", "Bearer " + user_}});
  EXPECT_EQ(thumb.status, 200);
  auto original = c.Request("GET", "/api/v1/media/" + id, {}, {{"Authorization", "Bearer " + user_}});
  EXPECT_EQ(original.body.find("GCSECRETCAMERA"), std::string::npos);
  EXPECT_EQ(node->Stop(), 0);
}

TEST_F(MediaS3Test, VirtualHostStyleRequestsAreSignedForTheirHost) {
  auto node = StartNode("gc-test-secret", /*path_style=*/false);
  HttpClient c = node->Client();
  std::string bytes = RandomBytes(50000);
  auto up = c.PostRaw("/api/v1/media", bytes, "x", user_);
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_TRUE(ObjectStored(up.json()["sha256"]));
  auto down = c.Request("GET", "/api/v1/media/" + up.json()["media_id"].get<std::string>(), {},
                        {{"Authorization", "Bearer " + user_}});
  ASSERT_EQ(down.status, 200) << down.body;
  EXPECT_EQ(down.body, bytes);
  EXPECT_EQ(node->Stop(), 0);
}

TEST_F(MediaS3Test, AWrongSecretIsRefusedByTheStoreAndNothingIsReferenced) {
  auto node = StartNode("not-the-secret");
  HttpClient c = node->Client();
  auto up = c.PostRaw("/api/v1/media", RandomBytes(5000), "x", user_);
  EXPECT_EQ(up.status, 503) << up.body;
  EXPECT_EQ(up.json()["error"]["code"], "unavailable");
  auto stats = c.Get("/api/v1/admin/stats", admin_).json()["media"];
  EXPECT_EQ(stats["count"], 0);
  EXPECT_EQ(stats["blobs"], 0);  // the pending reference was released
  EXPECT_NE(node->LogText().find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_EQ(node->Stop(), 0);
}

TEST_F(MediaS3Test, AStoreThatGoesAwayGives503AndTheNodeKeepsServing) {
  auto node = StartNode("gc-test-secret");
  HttpClient c = node->Client();
  auto up = c.PostRaw("/api/v1/media", RandomBytes(5000), "x", user_);
  ASSERT_EQ(up.status, 201) << up.body;
  peer_->Stop();
  auto down = c.Request("GET", "/api/v1/media/" + up.json()["media_id"].get<std::string>(), {},
                        {{"Authorization", "Bearer " + user_}});
  EXPECT_EQ(down.status, 503) << down.body;
  auto again = c.PostRaw("/api/v1/media", RandomBytes(5000), "x", user_);
  EXPECT_EQ(again.status, 503) << again.body;
  EXPECT_EQ(c.Get("/api/v1/admin/stats", admin_).json()["media"]["count"], 1);
  EXPECT_EQ(c.Get("/healthz").status, 200);
  EXPECT_EQ(node->Stop(), 0);
}

TEST_F(MediaS3Test, AHangingOrCrawlingStoreGives503InTimeAndNothingHalfWritten) {
  FaultProxy proxy(peer_->port());
  auto node = StartNode("gc-test-secret", true, proxy.port(), /*timeout_s=*/2);
  HttpClient c = node->Client();
  c.set_timeout(std::chrono::seconds(60));  // far above the bound: a hang fails the test, not the client
  auto first = c.PostRaw("/api/v1/media", RandomBytes(5000), "x", user_);
  ASSERT_EQ(first.status, 201) << first.body;
  auto stats = [&] { return c.Get("/api/v1/admin/stats", admin_).json()["media"]; };
  json before = stats();
  using F = FaultProxy::Fault;
  // A store that takes the connection and never answers, then one that
  // answers every chunk 3 s late: curl gives up after timeout_s (2 s).
  for (FaultProxy::Setting fault : {FaultProxy::Setting{F::kBlackHole}, FaultProxy::Setting{F::kDelay, 3000}}) {
    proxy.Set(FaultProxy::Direction::kBoth, fault);
    std::string bytes = RandomBytes(300000);
    auto up = c.PostRaw("/api/v1/media", bytes, "x", user_);
    EXPECT_EQ(up.status, 503) << FaultProxy::Describe(fault.fault) << ": " << up.body;
    EXPECT_EQ(up.json()["error"]["code"], "unavailable");
    auto img = c.PostRaw("/api/v1/media", MakeJpeg(600, 400), "image/jpeg", user_);
    EXPECT_EQ(img.status, 503) << FaultProxy::Describe(fault.fault) << ": " << img.body;
    // Nothing of the refused uploads is referenced: no row, no blob kept.
    json now = stats();
    EXPECT_EQ(now["count"], before["count"]);
    EXPECT_EQ(now["blobs"], before["blobs"]);
    EXPECT_EQ(now["stored_bytes"], before["stored_bytes"]);
    EXPECT_EQ(c.Get("/healthz").status, 200);
  }
  proxy.Heal();
  std::string bytes = RandomBytes(300000);
  auto up = c.PostRaw("/api/v1/media", bytes, "x", user_);
  ASSERT_EQ(up.status, 201) << up.body;
  auto down = c.Request("GET", "/api/v1/media/" + up.json()["media_id"].get<std::string>(), {},
                        {{"Authorization", "Bearer " + user_}});
  EXPECT_EQ(down.body, bytes);
  EXPECT_EQ(stats()["count"], before["count"].get<int64_t>() + 1);
  EXPECT_EQ(node->Stop(), 0);
}

}  // namespace
}  // namespace gc::test
