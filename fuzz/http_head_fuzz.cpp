// The HTTP request head as the node reads it (node/http/http_server.cpp):
// Boost.Beast's request parser with the node's limits (HttpServerOptions:
// 16 KiB of header, the largest body limit), fed in chunks of a size the
// input chooses, then what the session does with a complete head: the body
// limit from Content-Length, X-Request-Id validation, the WebSocket upgrade
// test, and the HttpRequest handed to the gateway (target split into path and
// query, lowercased header names, header lookup, X-Forwarded-For, query
// parameters). The first input byte picks the chunk size; the rest is the
// bytes a client sends.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <string>
#include <string_view>

#include "fuzz/fuzz_targets.h"
#include "node/http/http_server.h"
#include "node/http/http_types.h"
#include "node/http/request_head.h"

namespace gc::fuzz {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

void CheckRequest(const http::request<http::string_body>& msg) {
  (void)beast::websocket::is_upgrade(msg);
  HttpRequest r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  SplitTarget(r.target, &r.path, &r.query);
  FUZZ_CHECK(r.path.find('?') == std::string::npos);
  const bool has_query = r.target.size() > r.path.size();
  FUZZ_CHECK((has_query ? r.path + "?" + r.query : r.path) == r.target);
  for (const auto& f : msg) r.headers.emplace_back(LowerHeaderName(f.name_string()), std::string(f.value()));
  for (const auto& [name, value] : r.headers) {
    FUZZ_CHECK(std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
    std::string_view first = r.header(name);
    FUZZ_CHECK(first.data() != nullptr);
  }
  if (auto it = msg.find("x-request-id"); it != msg.end()) {
    std::string_view id = it->value();
    if (ValidRequestId(id)) {
      FUZZ_CHECK(!id.empty() && id.size() <= 128);
      FUZZ_CHECK(id.find_first_of("\r\n \"\\<>") == std::string_view::npos);
    }
  }
  std::string_view xff = r.header("x-forwarded-for");
  std::string_view client = ForwardedClient(xff);
  FUZZ_CHECK(client.find(',') == std::string_view::npos && (client.empty() || client.front() != ' '));
  FUZZ_CHECK(client.empty() || xff.substr(xff.size() - client.size()) == client);
  // Every parameter name present in the query, looked up as handlers do.
  std::string_view q = r.query;
  for (int i = 0; i < 64 && !q.empty(); ++i) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    std::string key;
    if (!PercentDecode(part.substr(0, part.find('=')), &key, true)) continue;
    FUZZ_CHECK(key.size() <= part.size());
    if (auto v = r.query_param(key)) FUZZ_CHECK(v->size() <= r.query.size());
  }
}

}  // namespace

int HttpHeadTarget(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;

  const HttpServerOptions limits;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_any_body);
  // As the session reads: a buffer that grows by what arrives, the parser
  // consuming from its front; first the head, then (if any) the body.
  size_t begin = 0, end = std::min(chunk, n);
  bool head_checked = false;
  for (int guard = 0; guard < 1 << 16; ++guard) {
    beast::error_code ec;
    size_t used = parser.put(boost::asio::buffer(bytes + begin, end - begin), ec);
    FUZZ_CHECK(used <= end - begin);
    begin += used;
    if (ec && ec != http::error::need_more) return 0;  // the session answers 400/413/431 or closes
    if (parser.is_header_done() && !head_checked) {
      head_checked = true;
      std::string_view target = parser.get().target();
      FUZZ_CHECK(target.substr(0, target.find('?')).size() <= target.size());
      if (auto len = parser.content_length(); len && *len > 65536) return 0;  // 413 before any body byte
      parser.body_limit(65536);
    }
    if (parser.is_done()) {
      CheckRequest(parser.release());
      return 0;
    }
    if (ec == http::error::need_more || used == 0) {
      if (end == n) return 0;  // the client stopped mid-request: the header timeout ends it
      end = std::min(end + chunk, n);
    }
  }
  return 0;
}

}  // namespace gc::fuzz
