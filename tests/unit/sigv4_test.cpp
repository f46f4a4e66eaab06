// The SigV4 signer of the S3 media store (services/media/sigv4.h) against
// AWS's published signing test suite (tests/unit/data/aws-sigv4, see its
// README): every case's canonical request, string to sign and signature.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/media/sigv4.h"
#include "tests/unit/unit_files.h"

namespace gc {
namespace {

using unit::ReadFile;

TEST(MediaSigV4, MatchesTheAwsTestSuite) {
  std::filesystem::path root = std::filesystem::path(GC_SOURCE_DIR) / "tests/unit/data/aws-sigv4";
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto ctx = nlohmann::json::parse(ReadFile(entry.path() / "context.json"));
    std::string request = ReadFile(entry.path() / "request.txt");
    // request.txt: "METHOD TARGET HTTP/1.1", header lines "Name:value", a
    // blank line, the body.
    size_t eol = request.find('\n');
    std::string first = request.substr(0, eol);
    std::string method = first.substr(0, first.find(' '));
    std::string target = first.substr(method.size() + 1, first.rfind(" HTTP/") - method.size() - 1);
    SigV4Request req;
    req.method = method;
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    size_t pos = eol + 1;
    std::string body;
    while (pos < request.size()) {
      size_t e = request.find('\n', pos);
      std::string line = request.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
      pos = e == std::string::npos ? request.size() : e + 1;
      if (line.empty()) {
        body = request.substr(pos);
        break;
      }
      size_t colon = line.find(':');
      req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
    req.payload_sha256_hex = Sha256Hex(body);
    SigV4Credentials creds{ctx["credentials"]["access_key_id"], ctx["credentials"]["secret_access_key"],
                           ctx["credentials"].value("token", "")};
    std::string ts = ctx["timestamp"];  // 2015-08-30T12:36:00Z
    std::string amz = ts.substr(0, 4) + ts.substr(5, 2) + ts.substr(8, 2) + "T" + ts.substr(11, 2) +
                      ts.substr(14, 2) + ts.substr(17, 2) + "Z";
    SigV4Result r = SignV4(req, creds, ctx["region"], ctx["service"], amz, ctx["normalize"], ctx["sign_body"]);
    EXPECT_EQ(r.canonical_request, ReadFile(entry.path() / "header-canonical-request.txt"));
    EXPECT_EQ(r.string_to_sign, ReadFile(entry.path() / "header-string-to-sign.txt"));
    EXPECT_EQ(r.signature, ReadFile(entry.path() / "header-signature.txt"));
    ++cases;
  }
  EXPECT_GE(cases, 30);
}

TEST(MediaSigV4, EncodesLikeS3AndSignsTheS3Headers) {
  EXPECT_EQ(SigV4Encode("/media/a b+c~d", true), "/media/a%20b%2Bc~d");
  EXPECT_EQ(SigV4Encode("a/b", false), "a%2Fb");
  SigV4Request req{"PUT", "/bucket/media/abc", "", {{"host", "127.0.0.1:9000"}}, Sha256Hex("x")};
  SigV4Result r = SignV4(req, {"AK", "SK", ""}, "us-east-1", "s3", "20260101T000000Z", false, true);
  EXPECT_NE(r.authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"), std::string::npos)
      << r.authorization;
  EXPECT_NE(r.canonical_request.find("x-amz-content-sha256:" + Sha256Hex("x")), std::string::npos);
  // A different secret, a different signature.
  EXPECT_NE(SignV4(req, {"AK", "SK2", ""}, "us-east-1", "s3", "20260101T000000Z", false, true).signature, r.signature);
}

}  // namespace
}  // namespace gc
