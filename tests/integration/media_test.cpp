// The media service end to end: a real node on a real PostgreSQL, driven
// over HTTP with real files (made by tests/harness/media_fixtures.h).
// Scenarios: the upload answer and download headers; what re-encoding
// removes (EXIF with GPS, PNG text); hostile files (HTML and SVG with
// scripts, a PDF labelled image/png, a truncated JPEG, a pixel bomb); size
// limit, quota, who may read, path traversal, Range, thumbnails,
// quarantine, admin listing; ten identical uploads at once; a store that
// fails; the sweep; a SIGKILL right after an upload's 201. After every
// test the node is still serving.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/harness/harness.h"
#include "tests/harness/media_fixtures.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

constexpr int64_t kUploadLimit = 4 << 20;
constexpr int64_t kQuota = 6 << 20;

class MediaTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    StartNode(std::string(kNoRateLimits) + "limits:\n  max_upload_bytes: " + std::to_string(kUploadLimit) +
              "\nmedia:\n  quota_bytes_per_user: " + std::to_string(kQuota) + "\n");
    admin_token_ = CreateAdmin(*node_, "root", "rootpassword");
    ASSERT_FALSE(admin_token_.empty());
  }

  TestUser NewUser() { return NodeTest::NewUser("m"); }
  HttpResponse Upload(const TestUser& u, const std::string& bytes, const std::string& filename = "f.bin",
                      const std::string& claimed_type = "application/octet-stream") {
    return c_.PostRaw("/api/v1/media?filename=" + filename, bytes, claimed_type, u.token);
  }
  json Uploaded(const TestUser& u, const std::string& bytes, const std::string& filename = "f.bin") {
    auto r = Upload(u, bytes, filename);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json() : json::object();
  }
  HttpResponse Download(const std::string& media_id, const std::string& token, const HttpHeaders& extra = {}) {
    HttpHeaders h = extra;
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    return c_.Request("GET", "/api/v1/media/" + media_id, {}, h);
  }
  HttpResponse SendMedia(const TestUser& u, const std::string& g, const std::string& media_id) {
    return c_.Post("/api/v1/groups/" + PathSegment(g) + "/messages", {{"body", ""}, {"media_id", media_id}}, u.token);
  }

  static inline std::string admin_token_;
};

TEST_F(MediaTest, UploadAnswersWithIdTypeSizeHashAndDimensions) {
  TestUser a = NewUser();
  auto r = Upload(a, MakeJpeg(1200, 900), "holiday.jpg", "text/plain");
  ASSERT_EQ(r.status, 201) << r.body;
  json m = r.json();
  std::string id = m["media_id"];
  EXPECT_EQ(id.rfind("acme.test/", 0), 0u) << id;
  EXPECT_GE(id.size() - 10, 16u);
  EXPECT_EQ(m["content_type"], "image/jpeg");  // from the bytes, not the header
  EXPECT_EQ(m["width"], 1200);
  EXPECT_EQ(m["height"], 900);
  EXPECT_EQ(m["filename"], "holiday.jpg");

  auto d = Download(id, a.token);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.header("content-type"), "image/jpeg");
  EXPECT_EQ(d.header("content-length"), std::to_string(d.body.size()));
  EXPECT_EQ(static_cast<int64_t>(d.body.size()), m["size"].get<int64_t>());
  EXPECT_EQ(HexSha256(d.body), m["sha256"]);
  EXPECT_EQ(d.header("etag"), "\"" + m["sha256"].get<std::string>() + "\"");
  EXPECT_NE(d.header("cache-control").find("private"), std::string::npos);
  EXPECT_NE(d.header("cache-control").find("immutable"), std::string::npos);
  EXPECT_EQ(d.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(d.header("content-security-policy"), "sandbox");
  EXPECT_EQ(d.header("content-disposition").rfind("inline", 0), 0u);
  EXPECT_EQ(d.header("accept-ranges"), "bytes");

  auto again = Download(id, a.token, {{"If-None-Match", d.header("etag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  // The percent-encoded one-segment form names the same media.
  std::string encoded = id;
  encoded.replace(encoded.find('/'), 1, "%2F");
  EXPECT_EQ(Download(encoded, a.token).body, d.body);
  auto info = c_.Get("/api/v1/media/" + id + "/info", a.token);
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(info.json()["filename"], "holiday.jpg");
}

TEST_F(MediaTest, JpegWithGpsIsStoredWithoutAnyExifAndUpright) {
  TestUser a = NewUser();
  std::string jpeg = WithExif(MakeJpeg(64, 32), 6, "GCSECRETCAMERA");
  json m = Uploaded(a, jpeg, "gps.jpg");
  EXPECT_EQ(m["width"], 32);  // orientation 6 applied
  EXPECT_EQ(m["height"], 64);
  auto d = Download(m["media_id"], a.token);
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.body.find("Exif"), std::string::npos);
  EXPECT_EQ(d.body.find("GCSECRETCAMERA"), std::string::npos);
  auto segments = JpegSegments(d.body);
  ASSERT_FALSE(segments.empty());
  for (auto& [marker, payload] : segments) {
    EXPECT_FALSE(marker >= 0xE1 && marker <= 0xEF) << "APP" << (marker - 0xE0) << " segment in the stored original";
    EXPECT_NE(marker, 0xFE) << "COM segment in the stored original";
  }
}

TEST_F(MediaTest, PngTextChunksAreNotStored) {
  TestUser a = NewUser();
  json m = Uploaded(a, WithPngText(MakePng(40, 30), "Comment", "GCSECRETPNGTEXT"), "t.png");
  EXPECT_EQ(m["content_type"], "image/png");
  auto d = Download(m["media_id"], a.token);
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.body.find("GCSECRETPNGTEXT"), std::string::npos);
  for (auto& t : PngChunkTypes(d.body)) EXPECT_NE(t, "tEXt");
}

TEST_F(MediaTest, HtmlAndSvgWithScriptsAreDownloadsThatNeverRender) {
  TestUser a = NewUser();
  for (std::string doc : {std::string("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"),
                          std::string("<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>")}) {
    auto r = Upload(a, doc, "page.html", "text/html");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["content_type"], "application/octet-stream");
    auto d = Download(r.json()["media_id"], a.token);
    ASSERT_EQ(d.status, 200);
    EXPECT_EQ(d.body, doc);  // files are stored as sent
    EXPECT_EQ(d.header("content-type"), "application/octet-stream");
    EXPECT_EQ(d.header("content-disposition").rfind("attachment", 0), 0u) << d.header("content-disposition");
    EXPECT_EQ(d.header("content-security-policy"), "sandbox");
    EXPECT_EQ(d.header("x-content-type-options"), "nosniff");
  }
}

TEST_F(MediaTest, PdfLabelledAsPngIsAPdfAttachment) {
  TestUser a = NewUser();
  std::string pdf = "%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n";
  auto r = Upload(a, pdf, "innocent.png", "image/png");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["content_type"], "application/pdf");
  EXPECT_FALSE(r.json().contains("width"));
  auto d = Download(r.json()["media_id"], a.token);
  EXPECT_EQ(d.header("content-type"), "application/pdf");
  EXPECT_EQ(d.header("content-disposition").rfind("attachment", 0), 0u);
  EXPECT_EQ(c_.Get("/api/v1/media/" + r.json()["media_id"].get<std::string>() + "/thumbnail?size=96", a.token).status,
            404);
}

TEST_F(MediaTest, BrokenAndBombImagesAreInvalidMedia) {
  TestUser a = NewUser();
  std::string jpeg = MakeJpeg(400, 300);
  for (const std::string& bad : {jpeg.substr(0, jpeg.size() / 2), PngBomb(30000, 30000),
                                 std::string("\x89PNG\r\n\x1A\n", 8) + "garbage after the signature",
                                 std::string("GIF89a") + std::string(20, '\xff')}) {
    auto r = Upload(a, bad, "x.png", "image/png");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_media") << r.body;
  }
  auto bomb = Upload(a, PngBomb(30000, 30000));
  EXPECT_NE(bomb.json()["error"]["message"].get<std::string>().find("30000 x 30000"), std::string::npos) << bomb.body;
  EXPECT_EQ(ErrorCode(Upload(a, "")), "invalid_request");
}

TEST_F(MediaTest, OverTheLimitIsRefusedBeforeTheBodyArrives) {
  TestUser a = NewUser();
  RawConnection raw(node_->http_port());
  ASSERT_TRUE(raw.Send("POST /api/v1/media?filename=big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a.token +
                       "\r\nContent-Length: " + std::to_string(kUploadLimit + 1) + "\r\n\r\n"));
  auto responses = raw.ReadResponses(1, 10000);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 413);
  EXPECT_EQ(responses[0].json()["error"]["code"], "payload_too_large");
  // A client that sends the whole over-limit body anyway still gets the 413.
  auto r = Upload(a, RandomBytes(kUploadLimit + 1));
  EXPECT_EQ(r.status, 413);
}

TEST_F(MediaTest, AnUploadWithoutATokenIsRefusedBeforeItsBody) {
  RawConnection raw(node_->http_port());
  ASSERT_TRUE(raw.Send("POST /api/v1/media HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
  auto responses = raw.ReadResponses(1, 10000);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 401);
  // Nothing was staged for it.
  size_t staged = 0;
  for (auto& e : std::filesystem::directory_iterator(node_->data_dir() + "/media/tmp")) staged += e.is_regular_file();
  EXPECT_EQ(staged, 0u);
}

TEST_F(MediaTest, QuotaIsPerUserAndSaysSo) {
  TestUser a = NewUser(), b = NewUser();
  size_t part = static_cast<size_t>(kQuota / 2 + 1024);
  ASSERT_EQ(Upload(a, RandomBytes(part)).status, 201);
  auto over = Upload(a, RandomBytes(part));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(ErrorCode(over), "quota_exceeded");
  EXPECT_EQ(Upload(b, RandomBytes(part)).status, 201);  // another user's quota
}

TEST_F(MediaTest, OnlyUploaderAndGroupMembersMayRead) {
  TestUser alice = NewUser(), bob = NewUser(), carol = NewUser(), mallory = NewUser();
  std::string id = Uploaded(alice, MakeJpeg(30, 30))["media_id"];
  EXPECT_EQ(Download(id, "").status, 401);
  auto none = Download(id, bob.token);
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(ErrorCode(none), "not_found");
  // Unknown ids answer exactly like forbidden ones.
  EXPECT_EQ(Download("acme.test/AAAAAAAAAAAAAAAAAAAAAAAA", bob.token).body.find("no such media") != std::string::npos,
            none.body.find("no such media") != std::string::npos);

  std::string g = NewGroup(alice);
  ASSERT_EQ(c_.Post("/api/v1/groups/" + PathSegment(g) + "/join", json::object(), bob.token).status, 200);
  // Bob may not post Alice's media before he can see it.
  auto steal = SendMedia(bob, g, id);
  EXPECT_EQ(steal.status, 400) << steal.body;
  EXPECT_EQ(SendMedia(bob, g, "acme.test/AAAAAAAAAAAAAAAAAAAAAAAA").status, 400);
  ASSERT_EQ(SendMedia(alice, g, id).status, 201);
  EXPECT_EQ(Download(id, bob.token).status, 200);
  // Carol joins later: she sees the history, so the picture too.
  ASSERT_EQ(c_.Post("/api/v1/groups/" + PathSegment(g) + "/join", json::object(), carol.token).status, 200);
  EXPECT_EQ(Download(id, carol.token).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/media/" + id + "/thumbnail?size=96", carol.token).status, 200);
  EXPECT_EQ(Download(id, mallory.token).status, 404);
  // Bob left: no longer.
  ASSERT_EQ(c_.Post("/api/v1/groups/" + PathSegment(g) + "/leave", json::object(), bob.token).status, 200);
  EXPECT_EQ(Download(id, bob.token).status, 404);
}

TEST_F(MediaTest, AnAvatarIsAnImageOfYourOwnThatEveryoneMaySee) {
  TestUser alice = NewUser(), bob = NewUser();
  std::string face = Uploaded(alice, MakePng(64, 64))["media_id"];
  std::string doc = Uploaded(alice, RandomBytes(1000))["media_id"];
  EXPECT_EQ(Download(face, bob.token).status, 404);
  // Not Bob's to use, and not an image.
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"avatar_media_id", face}}, bob.token).status, 400);
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"avatar_media_id", doc}}, alice.token).status, 400);
  ASSERT_EQ(c_.Patch("/api/v1/me", {{"avatar_media_id", face}}, alice.token).status, 200);
  EXPECT_EQ(Download(face, bob.token).status, 200);
  EXPECT_EQ(Download(face, "").status, 401);
  ASSERT_EQ(c_.Patch("/api/v1/me", {{"avatar_media_id", nullptr}}, alice.token).status, 200);
  EXPECT_EQ(Download(face, bob.token).status, 404);
}

TEST_F(MediaTest, PathTraversalIdsNeverReachTheFilesystem) {
  TestUser a = NewUser();
  for (const char* path : {"/api/v1/media/..%2F..%2F..%2Fetc%2Fpasswd", "/api/v1/media/acme.test/..%2F..%2Fetc%2Fpasswd",
                           "/api/v1/media/../../etc/passwd", "/api/v1/media/acme.test%2F..%2F..%2Fblobs",
                           "/api/v1/media/acme.test/%2e%2e%2f%2e%2e%2fnode.yaml", "/api/v1/media/%00/AAAAAAAAAAAAAAAAAAAA",
                           "/api/v1/media/acme.test/AAAAAAAAAAAAAAAA%00AAAA/thumbnail?size=96"}) {
    auto r = c_.Get(path, a.token);
    EXPECT_GE(r.status, 400) << path;
    EXPECT_LT(r.status, 500) << path;
    EXPECT_NO_THROW(r.json()) << path;
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
  }
}

TEST_F(MediaTest, RangeRequestsAnswerPartialContent) {
  TestUser a = NewUser();
  std::string bytes = RandomBytes(100000);
  std::string id = Uploaded(a, bytes, "video.bin")["media_id"];
  auto r = Download(id, a.token, {{"Range", "bytes=10-19"}});
  ASSERT_EQ(r.status, 206);
  EXPECT_EQ(r.body, bytes.substr(10, 10));
  EXPECT_EQ(r.header("content-range"), "bytes 10-19/100000");
  auto tail = Download(id, a.token, {{"Range", "bytes=-5"}});
  EXPECT_EQ(tail.body, bytes.substr(bytes.size() - 5));
  auto open = Download(id, a.token, {{"Range", "bytes=99990-"}});
  EXPECT_EQ(open.body, bytes.substr(99990));
  auto beyond = Download(id, a.token, {{"Range", "bytes=200000-"}});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.header("content-range"), "bytes */100000");
  auto head = c_.Request("HEAD", "/api/v1/media/" + id, {}, {{"Authorization", "Bearer " + a.token}});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "100000");
}

TEST_F(MediaTest, ThumbnailsSnapToFixedSizesAndFit) {
  TestUser a = NewUser();
  std::string id = Uploaded(a, MakeJpeg(1600, 800))["media_id"];
  for (auto [asked, box] : {std::pair{50, 96}, std::pair{96, 96}, std::pair{200, 320}, std::pair{5000, 800}}) {
    auto t = c_.Get("/api/v1/media/" + id + "/thumbnail?size=" + std::to_string(asked), a.token);
    ASSERT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(t.header("content-type"), "image/webp");
    InitVipsForTests();
    vips::VImage img = vips::VImage::new_from_buffer(t.body.data(), t.body.size(), "");
    EXPECT_EQ(img.width(), box) << asked;
    EXPECT_EQ(img.height(), box / 2) << asked;
  }
  // A small image is its own thumbnail.
  std::string small = Uploaded(a, MakePng(40, 20))["media_id"];
  auto t = c_.Get("/api/v1/media/" + small + "/thumbnail?size=320", a.token);
  EXPECT_EQ(t.header("content-type"), "image/png");
  EXPECT_EQ(c_.Get("/api/v1/media/" + id + "/thumbnail?size=abc", a.token).status, 400);
}

TEST_F(MediaTest, AnimatedGifStaysAnimated) {
  TestUser a = NewUser();
  json m = Uploaded(a, MakeAnimatedGif(40, 30, 4), "a.gif");
  EXPECT_EQ(m["content_type"], "image/gif");
  EXPECT_EQ(m["width"], 40);
  EXPECT_EQ(m["height"], 30);
  auto d = Download(m["media_id"], a.token);
  InitVipsForTests();
  vips::VImage img = vips::VImage::new_from_buffer(d.body.data(), d.body.size(), "", vips::VImage::option()->set("n", -1));
  EXPECT_EQ(vips_image_get_n_pages(img.get_image()), 4);
}

TEST_F(MediaTest, TenIdenticalUploadsAtOnceAreStoredOnce) {
  auto stats = [&] { return c_.Get("/api/v1/admin/stats", admin_token_).json()["media"]; };
  TestUser a = NewUser();
  std::string bytes = MakeJpeg(1000 + static_cast<int>(getpid() % 500), 700);  // new content for this run
  json before = stats();
  std::vector<std::thread> threads;
  std::vector<HttpResponse> answers(10);
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] {
      HttpClient c(node_->http_port());
      c.set_timeout(std::chrono::seconds(60));
      answers[i] = c.PostRaw("/api/v1/media?filename=same.jpg", bytes, "image/jpeg", a.token);
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ids, hashes;
  for (auto& r : answers) {
    ASSERT_EQ(r.status, 201) << r.body;
    ids.insert(r.json()["media_id"]);
    hashes.insert(r.json()["sha256"]);
  }
  EXPECT_EQ(ids.size(), 10u);    // ten uploads
  EXPECT_EQ(hashes.size(), 1u);  // of the same bytes
  json after = stats();
  EXPECT_EQ(after["count"].get<int64_t>() - before["count"].get<int64_t>(), 10);
  // One original and its three thumbnails, stored once.
  EXPECT_EQ(after["blobs"].get<int64_t>() - before["blobs"].get<int64_t>(), 4);
  for (auto& id : ids) EXPECT_EQ(HexSha256(Download(id, a.token).body), *hashes.begin());
}

TEST_F(MediaTest, QuarantineHidesMediaFromEveryoneUntilReleased) {
  TestUser a = NewUser();
  std::string id = Uploaded(a, MakeJpeg(20, 20))["media_id"];
  EXPECT_EQ(c_.Post("/api/v1/admin/media/" + id + "/quarantine", json::object(), a.token).status, 403);
  ASSERT_EQ(c_.Post("/api/v1/admin/media/" + id + "/quarantine", json::object(), admin_token_).status, 200);
  EXPECT_EQ(Download(id, a.token).status, 404);
  EXPECT_EQ(c_.Get("/api/v1/media/" + id + "/thumbnail?size=96", a.token).status, 404);
  auto audit = c_.Get("/api/v1/admin/audit?action=media.quarantine", admin_token_);
  EXPECT_NE(audit.body.find(id), std::string::npos) << audit.body;
  auto listed = c_.Get("/api/v1/admin/media?uploader=" + PathSegment(a.id), admin_token_);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json()["media"].size(), 1u);
  EXPECT_EQ(listed.json()["media"][0]["quarantined"], true);
  ASSERT_EQ(c_.Delete("/api/v1/admin/media/" + id + "/quarantine", admin_token_).status, 200);
  EXPECT_EQ(Download(id, a.token).status, 200);
  EXPECT_EQ(c_.Post("/api/v1/admin/media/acme.test/AAAAAAAAAAAAAAAAAAAAAAAA/quarantine", json::object(), admin_token_)
                .status,
            404);
}

TEST_F(MediaTest, AdminSeesMediaStatsAndBiggestUploaders) {
  TestUser a = NewUser();
  Uploaded(a, RandomBytes(5000));
  Uploaded(a, MakePng(10, 10));
  auto s = c_.Get("/api/v1/admin/stats", admin_token_);
  ASSERT_EQ(s.status, 200);
  EXPECT_GT(s.json()["media_bytes"].get<int64_t>(), 5000);
  auto list = c_.Get("/api/v1/admin/media?type=image/&uploader=" + PathSegment(a.id), admin_token_);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["media"].size(), 1u);
  EXPECT_EQ(list.json()["media"][0]["content_type"], "image/png");
  auto big = c_.Get("/api/v1/admin/media?min_size=4000&uploader=" + PathSegment(a.id), admin_token_);
  EXPECT_EQ(big.json()["media"].size(), 1u);
  auto top = c_.Get("/api/v1/admin/media/uploaders?limit=100", admin_token_);
  ASSERT_EQ(top.status, 200);
  EXPECT_NE(top.body.find(a.id), std::string::npos);
  EXPECT_EQ(c_.Get("/api/v1/admin/media", a.token).status, 403);
  auto metrics = c_.Get("/metrics");
  EXPECT_NE(metrics.body.find("groupchat_media_uploads_total"), std::string::npos);
}

// Last: it restarts the shared node.
TEST_F(MediaTest, ZzMediaSurvivesSigkillRightAfterTheUploadIsAnswered) {
  TestUser a = NewUser();
  std::string bytes = RandomBytes(300000);
  json m = Uploaded(a, bytes);
  node_->Kill();
  node_->Start();
  HttpClient c(node_->http_port());
  auto d = c.Request("GET", "/api/v1/media/" + m["media_id"].get<std::string>(), {},
                     {{"Authorization", "Bearer " + a.token}});
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.body, bytes);
}

// A node of its own: the sweep removes uploads after one second here, and
// the store is broken on purpose.
class MediaLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = StartNodeWith(std::string(kNoRateLimits) + "media:\n  unreferenced_after_s: 1\n");
    admin_ = CreateAdmin(*node_, "root", "rootpassword");
    ASSERT_FALSE(admin_.empty());
    c_ = std::make_unique<HttpClient>(node_->http_port());
    user_ = RegisterUser(*c_, "s").token;
  }
  void TearDown() override { EXPECT_EQ(node_->Stop(), 0); }
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<HttpClient> c_;
  std::string admin_, user_;
};

TEST_F(MediaLifecycleTest, SweepRemovesWhatNoMessageCarries) {
  std::string g = c_->Post("/api/v1/groups", {{"name", UniqueName("g")}}, user_).json()["group_id"];
  auto up = [&](const std::string& b) { return c_->PostRaw("/api/v1/media", b, "x", user_).json()["media_id"]; };
  std::string kept = up(RandomBytes(1000)), orphan = up(RandomBytes(1000)), deleted = up(RandomBytes(1000));
  auto path = "/api/v1/groups/" + PathSegment(g) + "/messages";
  ASSERT_EQ(c_->Post(path, {{"body", "k"}, {"media_id", kept}}, user_).status, 201);
  auto sent = c_->Post(path, {{"body", "d"}, {"media_id", deleted}}, user_);
  ASSERT_EQ(sent.status, 201);
  ASSERT_EQ(c_->Delete(path + "/" + PathSegment(sent.json()["event_id"]), user_).status, 200);
  int64_t blobs_before = c_->Get("/api/v1/admin/stats", admin_).json()["media"]["blobs"];
  // Poll: the uploads must first be older than unreferenced_after_s (1 s).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int64_t removed = 0;
  while (removed < 2 && std::chrono::steady_clock::now() < deadline) {
    auto s = c_->Post("/api/v1/admin/media/sweep", json::object(), admin_);
    ASSERT_EQ(s.status, 200) << s.body;
    removed += s.json()["removed"].get<int64_t>();
    if (removed < 2) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(removed, 2);
  auto get = [&](const std::string& id) {
    return c_->Request("GET", "/api/v1/media/" + id, {}, {{"Authorization", "Bearer " + user_}}).status;
  };
  EXPECT_EQ(get(kept), 200);
  EXPECT_EQ(get(orphan), 404);
  EXPECT_EQ(get(deleted), 404);
  EXPECT_EQ(c_->Get("/api/v1/admin/stats", admin_).json()["media"]["blobs"].get<int64_t>(), blobs_before - 2);
}

TEST_F(MediaLifecycleTest, AFailingStoreAnswers503AndReferencesNothing) {
  std::string blobs = node_->data_dir() + "/media/blobs";
  std::filesystem::remove_all(blobs);
  std::ofstream(blobs) << "not a directory";  // every blob write now fails
  auto r = c_->PostRaw("/api/v1/media", RandomBytes(2000), "x", user_);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "unavailable");
  auto r2 = c_->PostRaw("/api/v1/media", MakeJpeg(50, 50), "x", user_);
  EXPECT_EQ(r2.status, 503) << r2.body;
  auto stats = c_->Get("/api/v1/admin/stats", admin_).json()["media"];
  EXPECT_EQ(stats["count"], 0);
  EXPECT_EQ(stats["stored_bytes"], 0);
  std::filesystem::remove(blobs);
  std::filesystem::create_directory(blobs);
  auto ok = c_->PostRaw("/api/v1/media", RandomBytes(2000), "x", user_);
  EXPECT_EQ(ok.status, 201) << ok.body;
}

TEST_F(MediaLifecycleTest, A25MiBUploadDoesNotCost25MiBOfMemory) {
  auto hwm = [&] {
    std::ifstream f("/proc/" + std::to_string(node_->pid()) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1L;
  };
  // Warm up the path once (first-use allocations), then measure the peak.
  ASSERT_EQ(c_->PostRaw("/api/v1/media", RandomBytes(1 << 20), "x", user_).status, 201);
  long before = hwm();
  std::string big = RandomBytes(25 << 20);
  HttpClient c(node_->http_port());
  c.set_timeout(std::chrono::seconds(60));
  auto r = c.PostRaw("/api/v1/media", big, "x", user_);
  ASSERT_EQ(r.status, 201) << r.body;
  long grew_kib = hwm() - before;
  EXPECT_LT(grew_kib, 8 * 1024) << "peak RSS grew by " << grew_kib << " KiB for a 25 MiB upload";
}

}  // namespace
}  // namespace gc::test
