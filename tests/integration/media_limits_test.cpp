// The media service at its bounds, each on a node of its own: an upload
// with a wrong or missing token is refused from its head (401, nothing
// written to disk, no 100 Continue); media.retention_days removes old media
// everywhere with an audit entry while newer media stays (the rows are
// backdated in the node's database, so "older" needs no waiting); a full
// image queue answers 503 with Retry-After, never hangs, and the node keeps
// serving; a signed link streams a file over 32 MiB with Range and refuses
// every change to it.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "node/db/pg.h"
#include "tests/harness/harness.h"
#include "tests/harness/media_fixtures.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

size_t FilesUnder(const std::string& dir) {
  size_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

uintmax_t BytesUnder(const std::string& dir) {
  uintmax_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

class MediaLimitsTest : public ::testing::Test {
 protected:
  void Start(const std::string& yaml) {
    node_ = StartNodeWith(std::string(kNoRateLimits) + yaml);
    admin_ = CreateAdmin(*node_, "root", "rootpassword");
    ASSERT_FALSE(admin_.empty());
    c_ = std::make_unique<HttpClient>(node_->http_port());
    user_ = RegisterUser(*c_, "l").token;
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->Stop(), 0);
    }
  }
  HttpResponse Get(const std::string& media_id) {
    return c_->Request("GET", "/api/v1/media/" + media_id, {}, {{"Authorization", "Bearer " + user_}});
  }
  std::string Head(const std::string& token, size_t length, bool expect_continue) {
    return "POST /api/v1/media?filename=big.bin HTTP/1.1\r\nHost: x\r\n" +
           (token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n") +
           (expect_continue ? "Expect: 100-continue\r\n" : "") + "Content-Length: " + std::to_string(length) +
           "\r\n\r\n";
  }
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<HttpClient> c_;
  std::string admin_, user_;
};

TEST_F(MediaLimitsTest, AWrongTokenIsRefusedFromTheHeadAndNothingReachesTheDisk) {
  Start("");
  std::string tmp = node_->data_dir() + "/media/tmp";
  uintmax_t media_bytes = BytesUnder(node_->data_dir() + "/media");
  constexpr size_t k20MB = 20u << 20;
  // The head alone: the 401 comes without the body, and without a 100.
  for (const std::string& token : {std::string("not-a-token"), std::string()}) {
    RawConnection raw(node_->http_port());
    ASSERT_TRUE(raw.Send(Head(token, k20MB, /*expect_continue=*/true)));
    auto responses = raw.ReadResponses(1, 10000);
    ASSERT_EQ(responses.size(), 1u) << "token '" << token << "'";
    EXPECT_EQ(responses[0].status, 401);
    EXPECT_EQ(responses[0].json()["error"]["code"], "unauthorized");
    EXPECT_TRUE(raw.PeerClosed(10000));
  }
  // A client that sends all 20 MB anyway reads the same 401 (the rest of
  // the body is drained, never stored).
  HttpClient c(node_->http_port());
  c.set_timeout(std::chrono::seconds(60));
  std::string big = RandomBytes(k20MB);
  auto r = c.PostRaw("/api/v1/media", big, "application/octet-stream", "not-a-token");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "unauthorized");
  EXPECT_EQ(FilesUnder(tmp), 0u);
  EXPECT_EQ(BytesUnder(node_->data_dir() + "/media"), media_bytes);

  // A valid token with Expect: 100-continue gets the 100, then the 201.
  RawConnection raw(node_->http_port());
  std::string body = RandomBytes(100000);
  ASSERT_TRUE(raw.Send(Head(user_, body.size(), /*expect_continue=*/true)));
  std::string interim;
  for (int i = 0; i < 50 && interim.find("\r\n\r\n") == std::string::npos; ++i) {  // a read may be partial
    std::string got = raw.ReadSome(10000);
    if (got.empty()) break;
    interim += got;
  }
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
  ASSERT_TRUE(raw.Send(body));
  auto done = raw.ReadResponses(1, 30000);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status, 201) << done[0].body;
  EXPECT_EQ(Get(done[0].json()["media_id"]).body, body);
}

TEST_F(MediaLimitsTest, RetentionRemovesOldMediaEverywhereWithAnAuditEntry) {
  Start("media:\n  retention_days: 30\n");
  std::string g = CreateGroup(*c_, user_);
  auto up = [&](const std::string& bytes) {
    auto r = c_->PostRaw("/api/v1/media", bytes, "x", user_);
    EXPECT_EQ(r.status, 201) << r.body;
    std::string id = r.json()["media_id"];
    SendMessage(*c_, user_, g, "", {{"media_id", id}});  // referenced: only retention may remove it
    return id;
  };
  std::string old_file = up(RandomBytes(3000)), old_image = up(MakeJpeg(900, 600)), recent = up(RandomBytes(3000));
  int64_t blobs_before = c_->Get("/api/v1/admin/stats", admin_).json()["media"]["blobs"];
  {
    // Older than the limit without waiting 30 days: the rows are backdated.
    PgConn db(node_->database_url());
    ASSERT_TRUE(db.Connect().ok());
    static constexpr SqlQuery kBackdate{
        "test_media_backdate", "UPDATE media SET created_at = now() - make_interval(days => $2) WHERE media_id = $1"};
    ASSERT_TRUE(db.Exec(kBackdate, {old_file, int64_t{31}}).ok());
    ASSERT_TRUE(db.Exec(kBackdate, {old_image, int64_t{400}}).ok());
    ASSERT_TRUE(db.Exec(kBackdate, {recent, int64_t{29}}).ok());
  }
  auto s = c_->Post("/api/v1/admin/media/sweep", json::object(), admin_);
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.json()["removed"], 2);
  EXPECT_EQ(Get(old_file).status, 404);
  EXPECT_EQ(Get(old_image).status, 404);
  EXPECT_EQ(c_->Request("GET", "/api/v1/media/" + old_image + "/thumbnail?size=96", {},
                        {{"Authorization", "Bearer " + user_}})
                .status,
            404);
  EXPECT_EQ(Get(recent).status, 200);
  // The blobs went too: the file's, the image's and its thumbnails'.
  int64_t blobs_after = c_->Get("/api/v1/admin/stats", admin_).json()["media"]["blobs"];
  EXPECT_GE(blobs_before - blobs_after, 3) << blobs_before << " -> " << blobs_after;
  for (const std::string& id : {old_file, old_image}) {
    auto a = c_->Get("/api/v1/admin/audit?target=" + PathSegment(id), admin_);
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_EQ(a.json()["entries"].size(), 1u) << a.body;
    EXPECT_EQ(a.json()["entries"][0]["action"], "media.retention_remove");
  }
  EXPECT_EQ(c_->Get("/api/v1/admin/audit?target=" + PathSegment(recent), admin_).json()["entries"].size(), 0u);
  // A second sweep finds nothing more.
  EXPECT_EQ(c_->Post("/api/v1/admin/media/sweep", json::object(), admin_).json()["removed"], 0);
}

TEST_F(MediaLimitsTest, AFullImageQueueAnswers503WithRetryAfterAndNeverHangs) {
  // One worker and no waiting room: while one image is re-encoded, every
  // other image upload is refused at once.
  Start("media:\n  image_workers: 1\n  image_queue: 0\n");
  std::string jpeg = MakeJpeg(3000, 3000);
  constexpr int kAtOnce = 8;
  int created = 0, refused = 0;
  // The uploads' last bytes go out together, so they reach the queue while
  // the first is still being re-encoded (a 3000 x 3000 JPEG and three
  // thumbnails take far longer than eight dispatches); bounded rounds in
  // case a round happens to be served one by one.
  for (int round = 0; round < 5 && refused == 0; ++round) {
    std::vector<RawConnection> conns;
    for (int i = 0; i < kAtOnce; ++i) {
      conns.emplace_back(node_->http_port());
      ASSERT_TRUE(conns.back().Send(Head(user_, jpeg.size(), false) + jpeg.substr(0, jpeg.size() - 1)));
    }
    for (auto& c : conns) ASSERT_TRUE(c.Send(jpeg.substr(jpeg.size() - 1)));
    for (auto& c : conns) {
      auto r = c.ReadResponses(1, 60000);  // never a hang: every upload is answered
      ASSERT_EQ(r.size(), 1u);
      if (r[0].status == 201) {
        ++created;
        EXPECT_EQ(Get(r[0].json()["media_id"]).status, 200);
      } else {
        ASSERT_EQ(r[0].status, 503) << r[0].body;
        ++refused;
        EXPECT_EQ(r[0].json()["error"]["code"], "unavailable");
        EXPECT_NE(r[0].json()["error"]["message"].get<std::string>().find("retry later"), std::string::npos);
        EXPECT_EQ(r[0].header("retry-after"), "1");
      }
    }
  }
  EXPECT_GT(created, 0);
  EXPECT_GT(refused, 0);
  // The queue drains: the node is up and takes the next image.
  EXPECT_EQ(c_->Get("/healthz").status, 200);
  EXPECT_EQ(c_->PostRaw("/api/v1/media", MakeJpeg(200, 200), "image/jpeg", user_).status, 201);
  EXPECT_EQ(c_->Get("/api/v1/admin/stats", admin_).json()["media"]["count"], created + 1);
}

TEST_F(MediaLimitsTest, ASignedLinkStreamsWithRangeAndAnyChangeToItIsRefused) {
  Start("limits:\n  max_upload_bytes: 41943040\n");
  TestUser other = RegisterUser(*c_, "o");
  std::string big = RandomBytes(34u << 20);  // over the 32 MiB the client once played from memory
  c_->set_timeout(std::chrono::seconds(120));
  auto up = c_->PostRaw("/api/v1/media?filename=film.bin", big, "x", user_);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = up.json()["media_id"];
  auto sign = [&](const std::string& token) { return c_->Post("/api/v1/media/" + id + "/url", json::object(), token); };
  EXPECT_EQ(c_->Request("POST", "/api/v1/media/" + id + "/url").status, 401);
  EXPECT_EQ(sign(other.token).status, 404);  // not theirs: the answer of an unknown id
  auto s = sign(user_);
  ASSERT_EQ(s.status, 200) << s.body;
  std::string url = s.json()["url"];
  ASSERT_EQ(url.rfind("/api/v1/media/" + id + "/signed?u=", 0), 0u) << url;
  int64_t expires = s.json()["expires_at"];
  EXPECT_GT(expires, 0);

  // No token: the link is the credential. A range deep in the file is 206.
  HttpClient anon(node_->http_port());
  auto part = anon.Request("GET", url, {}, {{"Range", "bytes=34000000-34000009"}});
  ASSERT_EQ(part.status, 206) << part.body;
  EXPECT_EQ(part.body, big.substr(34000000, 10));
  EXPECT_EQ(part.header("content-range"), "bytes 34000000-34000009/" + std::to_string(big.size()));
  EXPECT_EQ(part.header("content-security-policy"), "sandbox");
  EXPECT_EQ(part.header("referrer-policy"), "no-referrer");
  EXPECT_EQ(part.header("etag"), "\"" + up.json()["sha256"].get<std::string>() + "\"");
  EXPECT_EQ(anon.Request("GET", url, {}, {{"Range", "bytes=0-3"}}).body, big.substr(0, 4));

  // Every change to the link: one 401, whatever it names.
  auto query = [&](const std::string& key) {
    size_t at = url.find(key + "=") + key.size() + 1;
    return url.substr(at, url.find('&', at) - at);
  };
  std::string sig = query("sig"), exp = query("exp"), u = query("u");
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string v = url;
    v.replace(v.find(from), from.size(), to);
    return v;
  };
  std::string other_id = c_->PostRaw("/api/v1/media", RandomBytes(1000), "x", user_).json()["media_id"];
  std::string flipped = sig;
  flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
  std::vector<std::pair<std::string, std::string>> forged = {
      {"forged signature", replaced("sig=" + sig, "sig=" + flipped)},
      {"no signature", replaced("&sig=" + sig, "")},
      {"later expiry", replaced("exp=" + exp, "exp=" + std::to_string(std::stoll(exp) + 1))},
      {"earlier expiry", replaced("exp=" + exp, "exp=" + std::to_string(std::stoll(exp) - 700))},
      {"another media id", replaced(id, other_id)},
      {"another user", replaced("u=" + u, "u=" + PathSegment(other.id))},
      {"an unknown id", replaced(id, id.substr(0, id.find('/')) + "/AAAAAAAAAAAAAAAAAAAAAAAA")},
  };
  for (auto& [what, link] : forged) {
    auto r = anon.Request("GET", link, {}, {{"Range", "bytes=0-3"}});
    EXPECT_EQ(r.status, 401) << what << ": " << link;
    EXPECT_EQ(r.json()["error"]["code"], "unauthorized") << what;
  }
  // A valid link stops working once the item is quarantined: the access is
  // checked again on every request.
  ASSERT_EQ(c_->Post("/api/v1/admin/media/" + id + "/quarantine", json::object(), admin_).status, 200);
  EXPECT_EQ(anon.Request("GET", url, {}, {{"Range", "bytes=0-3"}}).status, 404);
  EXPECT_EQ(c_->Get("/healthz").status, 200);
}

}  // namespace
}  // namespace gc::test
