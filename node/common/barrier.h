// The barrier: the one place where an exception that escaped a handler ends.
//
// Third-party code throws (Beast, nlohmann-json, yaml-cpp, libpq wrappers,
// the standard library on a bad size), and an exception that leaves an Asio
// completion handler or a thread's loop calls std::terminate: one bad input
// would end the node for everyone. So every thread the node starts runs its
// loop through SpawnGuarded/RunGuarded, worker tasks and federation frames
// run through Guard, and a unit of work that should end alone when it throws
// (a connection, a request, a frame) marks itself with a HandlerScope that
// names it and says how to end it. When an exception escapes, the barrier
// logs it with the innermost scope's name and request id, runs that scope's
// on_escape (close that connection; nothing for a dropped frame), counts it
// (groupchat_handler_exceptions_total in /metrics) and goes on: the loop is
// resumed, the process keeps serving.
//
// This is a last line, not error handling: code that expects a failure
// returns a Result (STYLE.md, Errors). A count above zero is a bug to fix.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace gc {

class HandlerScope {
 public:
  // `what` names the handler ("http request", "stream read"), `id` the
  // request id or peer; both must outlive the scope. `on_escape` runs (on
  // this thread, after unwinding) if an exception leaves the scope; it must
  // not throw and should only post or close.
  HandlerScope(const char* what, std::string_view id, std::function<void()> on_escape = nullptr) noexcept;
  ~HandlerScope();
  HandlerScope(const HandlerScope&) = delete;
  HandlerScope& operator=(const HandlerScope&) = delete;

 private:
  const char* what_;
  std::string_view id_;
  std::function<void()> on_escape_;
  int uncaught_;
};

// Runs `body` until it returns normally: whatever it throws is caught,
// logged, its scope's on_escape is run, and `body` runs again. For loops that
// can resume after a failed iteration (io_context::run, a worker's loop).
void RunGuarded(const char* loop, const std::function<void()>& body) noexcept;

// Runs `task` once; whatever it throws is caught and handled as above.
// Returns false if it threw.
bool Guard(const char* what, std::string_view id, const std::function<void()>& task) noexcept;

// A named thread whose body runs under RunGuarded.
std::thread SpawnGuarded(std::string name, std::function<void()> body);

// Exceptions caught by the barrier since start.
uint64_t HandlerExceptions();

}  // namespace gc
