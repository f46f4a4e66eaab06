// Result<T>: the value of an operation or the reason it failed.
//
// Every service call returns one. The error codes are deliberately few; each
// adapter (HTTP, federation, CLI) maps them to its own vocabulary in one place:
// for clients ClientErrorOf (node/common/client_error.h, used by ToHttp in
// node/http/json_body.h and by the stream), for peers ErrorCodeName
// (federation/wire.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace gc {

enum class ErrorCode {
  kInvalid,       // the input is malformed or breaks a rule (HTTP 400)
  kUnauthorized,  // no valid credentials (401)
  kForbidden,     // credentials are valid but not allowed to do this (403)
  kNotFound,      // no such thing, or the caller may not know it exists (404)
  kConflict,      // clashes with existing state, e.g. a taken name (409)
  kTooLarge,      // over a size limit (413)
  kRateLimited,   // too many requests; retry_after_s says when to come back (429)
  kUnavailable,   // a dependency is down or overloaded; retry later (503)
  kInternal,      // a bug or an unexpected failure (500)
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // snake_case code sent to clients; empty means the default for `code`.
  std::string detail_code;
  int retry_after_s = 0;  // only for kRateLimited

  static Error Invalid(std::string m, std::string detail = {}) {
    return {ErrorCode::kInvalid, std::move(m), std::move(detail), 0};
  }
  static Error Unauthorized(std::string m) { return {ErrorCode::kUnauthorized, std::move(m), {}, 0}; }
  static Error Forbidden(std::string m) { return {ErrorCode::kForbidden, std::move(m), {}, 0}; }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m), {}, 0}; }
  static Error Conflict(std::string m, std::string detail = {}) {
    return {ErrorCode::kConflict, std::move(m), std::move(detail), 0};
  }
  static Error TooLarge(std::string m) { return {ErrorCode::kTooLarge, std::move(m), {}, 0}; }
  static Error RateLimited(int retry_after_s) {
    return {ErrorCode::kRateLimited, "too many requests, retry later", {}, retry_after_s};
  }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m), {}, 0}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m), {}, 0}; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}     // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  const Error& error() const { return std::get<1>(v_); }
  Error&& take_error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};

// Result<void> equivalent.
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

// The outcome of `r` without its value (e.g. a statement whose rows are not needed).
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.ok() ? OkStatus() : Status(r.error());
}

}  // namespace gc

// Propagates an error from an expression returning Result/Status.
#define GC_TRY(expr)                                      \
  do {                                                    \
    auto gc_try_result_ = (expr);                         \
    if (!gc_try_result_.ok()) return std::move(gc_try_result_).take_error(); \
  } while (0)
