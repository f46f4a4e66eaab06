// AWS Signature Version 4 (SigV4) request signing, for the S3 media store.
//
// Written here rather than taken from libcurl's CURLOPT_AWS_SIGV4 so that
// it can be checked against AWS's published test vectors
// (tests/unit/data/aws-sigv4, tests/unit/sigv4_test.cpp) and so that the
// payload hash is the real SHA-256 of the object (curl 7.88 would need the
// x-amz-content-sha256 header added by hand anyway).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gc {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional: signed as x-amz-security-token
};

struct SigV4Request {
  std::string method;   // "GET"
  std::string path;     // not percent-encoded: "/bucket/key" (encoded by the signer)
  std::string query;    // raw query string without '?', may be empty
  std::vector<std::pair<std::string, std::string>> headers;  // must include host
  std::string payload_sha256_hex;
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // hex
  std::string authorization;  // the Authorization header value
  std::vector<std::pair<std::string, std::string>> added_headers;  // x-amz-date, x-amz-security-token
};

// Signs `req` for `region`/`service` at `amz_date` (YYYYMMDDTHHMMSSZ).
// `normalize`: remove dot segments from the path (every service but S3).
// `sign_payload_header`: add and sign x-amz-content-sha256 (S3 needs it).
SigV4Result SignV4(const SigV4Request& req, const SigV4Credentials& creds, const std::string& region,
                   const std::string& service, const std::string& amz_date, bool normalize,
                   bool sign_payload_header);

// RFC 3986 percent-encoding as SigV4 wants it (unreserved kept; '/' kept
// when `keep_slash`).
std::string SigV4Encode(const std::string& s, bool keep_slash);

// Hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);

// The current time as YYYYMMDDTHHMMSSZ (UTC).
std::string AmzDateNow();

}  // namespace gc
