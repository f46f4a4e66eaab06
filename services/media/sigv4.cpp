#include "services/media/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "node/http/http_types.h"

namespace gc {

namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += d[p[i] >> 4];
    out += d[p[i] & 15];
  }
  return out;
}

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Trims and collapses runs of spaces (SigV4 canonical header values).
std::string CanonicalValue(const std::string& v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// RFC 3986 remove_dot_segments, plus collapsing "//".
std::string NormalizePath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  bool trailing = !path.empty() && path.back() == '/';
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    if (seg == "." || seg == "..") trailing = j == path.size() ? true : trailing;
    i = j + 1;
  }
  std::string r;
  for (auto& s : out) r += "/" + s;
  if (r.empty()) return "/";
  if (trailing) r += "/";
  return r;
}

}  // namespace

std::string Sha256Hex(const std::string& data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return Hex(out, sizeof out);
}

std::string SigV4Encode(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string AmzDateNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

SigV4Result SignV4(const SigV4Request& req, const SigV4Credentials& creds, const std::string& region,
                   const std::string& service, const std::string& amz_date, bool normalize,
                   bool sign_payload_header) {
  SigV4Result res;
  res.added_headers.emplace_back("x-amz-date", amz_date);
  if (sign_payload_header) res.added_headers.emplace_back("x-amz-content-sha256", req.payload_sha256_hex);
  if (!creds.session_token.empty()) res.added_headers.emplace_back("x-amz-security-token", creds.session_token);

  // Headers: lowercase names, values trimmed, repeats joined with ','.
  std::map<std::string, std::string> headers;
  auto add = [&](const std::string& name, const std::string& value) {
    std::string k = Lower(name);
    std::string v = CanonicalValue(value);
    auto it = headers.find(k);
    if (it == headers.end()) headers.emplace(k, v);
    else it->second += "," + v;
  };
  for (auto& [k, v] : req.headers) add(k, v);
  for (auto& [k, v] : res.added_headers) add(k, v);
  std::string canonical_headers, signed_headers;
  for (auto& [k, v] : headers) {
    canonical_headers += k + ":" + v + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += k;
  }

  // Query: decoded, re-encoded, sorted by name then value.
  std::vector<std::pair<std::string, std::string>> params;
  std::string_view q = req.query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k, v;
    if (!PercentDecode(part.substr(0, eq), &k, false)) k = std::string(part.substr(0, eq));
    if (eq != std::string_view::npos && !PercentDecode(part.substr(eq + 1), &v, false)) {
      v = std::string(part.substr(eq + 1));
    }
    params.emplace_back(SigV4Encode(k, false), SigV4Encode(v, false));
  }
  std::sort(params.begin(), params.end());
  std::string canonical_query;
  for (auto& [k, v] : params) {
    if (!canonical_query.empty()) canonical_query += '&';
    canonical_query += k + "=" + v;
  }

  std::string path = req.path.empty() ? "/" : req.path;
  if (normalize) path = NormalizePath(path);
  res.canonical_request = req.method + "\n" + SigV4Encode(path, true) + "\n" + canonical_query + "\n" +
                          canonical_headers + "\n" + signed_headers + "\n" + req.payload_sha256_hex;
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  res.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + Sha256Hex(res.canonical_request);
  std::string key = Hmac("AWS4" + creds.secret_access_key, date);
  key = Hmac(key, region);
  key = Hmac(key, service);
  key = Hmac(key, "aws4_request");
  std::string sig = Hmac(key, res.string_to_sign);
  res.signature = Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
  res.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                      ", SignedHeaders=" + signed_headers + ", Signature=" + res.signature;
  return res;
}

}  // namespace gc
