// How a service error reads to a client: the HTTP status and the snake_case
// code of the error body (CONTRACT.md). The one table both client adapters
// use: the HTTP gateway (ToHttp, node/http/json_body.h) and the WebSocket
// stream (handshake refusals and error frames, node/stream/). Federation
// speaks its own vocabulary to peers (ErrorCodeName, federation/wire.h).
#pragma once

#include "node/common/result.h"

namespace gc {

struct ClientError {
  int status;        // the HTTP status
  const char* code;  // the error body's "code"
};

inline ClientError ClientErrorOf(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalid: return {400, "invalid_request"};
    case ErrorCode::kUnauthorized: return {401, "unauthorized"};
    case ErrorCode::kForbidden: return {403, "forbidden"};
    case ErrorCode::kNotFound: return {404, "not_found"};
    case ErrorCode::kConflict: return {409, "conflict"};
    case ErrorCode::kTooLarge: return {413, "payload_too_large"};
    case ErrorCode::kRateLimited: return {429, "rate_limited"};
    case ErrorCode::kUnavailable: return {503, "unavailable"};
    case ErrorCode::kInternal: return {500, "internal"};
  }
  return {500, "internal"};
}

}  // namespace gc
