// Outbound HTTP policy (federation fetches, notification pushers): fetching a node document, saying hello, and the address checks every outbound request passes.
//
// The names these requests go to come from other nodes and from anonymous
// callers of POST /_federation/v1/hello, so an unchecked fetch would make the
// node a port scanner and a proxy into its own network (issue: "an anonymous
// endpoint makes the node connect anywhere"). Every fetch therefore:
//   - resolves the host itself and refuses it if any address it resolves to
//     is loopback, private, link-local, shared (CGNAT), multicast, reserved
//     or unspecified (IPv4 and IPv6, IPv4-mapped included), unless the
//     caller allows private addresses (only for names an admin listed in
//     federation.resolve);
//   - connects to exactly the address it checked (no second lookup that DNS
//     rebinding could change);
//   - follows no redirects: any answer but 200 is a failure;
//   - has one deadline for the whole exchange (connect, TLS, request,
//     answer) and reads at most kMaxAnswerBytes;
//   - says what went wrong in its error, for the log; callers answering an
//     anonymous client give a generic message instead.
#pragma once

#include <sys/socket.h>

#include <string>
#include <utility>
#include <vector>

#include "node/common/result.h"

namespace gc {

struct OutboundPolicy {
  bool allow_private = false;  // loopback and private ranges too (federation.resolve names)
  int deadline_ms = 5000;      // the whole exchange
};

inline constexpr size_t kMaxAnswerBytes = 65536;

// True if `addr` is a public unicast address (see the list above).
bool IsPublicAddress(const sockaddr* addr);

// The addresses `host` resolves to, if the policy allows every one of them
// (kUnavailable otherwise, or when it does not resolve). Also for the
// ZeroMQ endpoint a node document names.
Result<std::vector<std::pair<sockaddr_storage, socklen_t>>> ResolveAllowed(const std::string& host,
                                                                           const std::string& port,
                                                                           const OutboundPolicy& policy);

// GET (or POST `post_body` as JSON) base_url + path over HTTP/1.1, http:// or
// https:// (certificate and host name verified against the system's CAs, or
// the file in SSL_CERT_FILE). The body of a 200 answer; kForbidden for a 403
// (the peer refuses us); kUnavailable for anything else, an address the
// policy refuses included.
Result<std::string> HttpFetch(const std::string& base_url, const std::string& path, const OutboundPolicy& policy,
                              const std::string* post_body);

// The CA file that outbound TLS trusts instead of the system's CAs: the
// SSL_CERT_FILE environment variable when set and not empty, else nullptr.
// HttpFetch gets it from OpenSSL's default paths; libcurl does not read the
// variable, so its users (webhook and Web Push pushers) set CURLOPT_CAINFO
// from this, and every outbound https:// trusts the same CAs.
const char* TrustedCaFile();

}  // namespace gc
