// What the node reads from a parsed HTTP request head, besides Beast's own
// parsing: the path and query of the target, lowercased header names, the
// client's X-Request-Id (kept only when well-formed) and the client address a
// trusted proxy forwards. Pure functions without Beast types, shared by
// http_server.cpp and the libFuzzer target fuzz/http_head_fuzz.cpp.
#pragma once

#include <string>
#include <string_view>

namespace gc {

// Splits a request target "path?query" at its first '?': `path` is what
// comes before it (all of `target` when there is none), `query` what comes
// after ("" when there is none).
void SplitTarget(std::string_view target, std::string* path, std::string* query);

// `name` in ASCII lower case (header names are matched in lower case).
std::string LowerHeaderName(std::string_view name);

// An X-Request-Id the node echoes: 1 to 128 characters of A-Z, a-z, 0-9, '-',
// '_', '.', ':' (anything else could forge log lines or headers).
bool ValidRequestId(std::string_view id);

// The client address in a trusted proxy's X-Forwarded-For: its last
// comma-separated entry without leading spaces; "" when that is empty.
std::string_view ForwardedClient(std::string_view x_forwarded_for);

}  // namespace gc
