#include "node/common/barrier.h"

#include <pthread.h>

#include <atomic>
#include <exception>

#include "node/common/log.h"

namespace gc {

namespace {

std::atomic<uint64_t> g_caught{0};

// What the innermost scope an exception left recorded while unwinding.
struct Escaped {
  bool set = false;
  std::string what;
  std::string id;
  std::function<void()> on_escape;
};
thread_local Escaped t_escaped;

void Handle(const char* where, std::string_view id, const char* error) noexcept {
  g_caught.fetch_add(1, std::memory_order_relaxed);
  Escaped e = std::move(t_escaped);
  t_escaped = Escaped{};
  try {
    LogError("handler threw; its work was dropped and the node goes on",
             {{"loop", where},
              {"handler", e.set ? e.what : std::string(where)},
              {"request_id", e.set ? e.id : std::string(id)},
              {"error", error}});
    if (e.on_escape) e.on_escape();
  } catch (...) {
    // Logging or the clean-up threw too (out of memory): nothing more to do.
  }
}

template <typename F>
bool Catching(const char* where, std::string_view id, const F& f) noexcept {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    Handle(where, id, e.what());
  } catch (...) {
    Handle(where, id, "an exception that is not a std::exception");
  }
  return false;
}

}  // namespace

HandlerScope::HandlerScope(const char* what, std::string_view id, std::function<void()> on_escape) noexcept
    : what_(what), id_(id), on_escape_(std::move(on_escape)), uncaught_(std::uncaught_exceptions()) {
  // A record that no barrier consumed (the exception was caught on the way,
  // e.g. by the gateway's own catch) is stale once new work begins.
  if (t_escaped.set) t_escaped = Escaped{};
}

HandlerScope::~HandlerScope() {
  // Unwinding through this scope: the innermost scope records itself.
  if (std::uncaught_exceptions() > uncaught_ && !t_escaped.set) {
    try {
      t_escaped.set = true;
      t_escaped.what = what_;
      t_escaped.id = std::string(id_);
      t_escaped.on_escape = std::move(on_escape_);
    } catch (...) {
    }
  }
}

void RunGuarded(const char* loop, const std::function<void()>& body) noexcept {
  while (!Catching(loop, "", body)) {
  }
}

bool Guard(const char* what, std::string_view id, const std::function<void()>& task) noexcept {
  return Catching(what, id, task);
}

std::thread SpawnGuarded(std::string name, std::function<void()> body) {
  return std::thread([name = std::move(name), body = std::move(body)] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    RunGuarded(name.c_str(), body);
  });
}

uint64_t HandlerExceptions() { return g_caught.load(std::memory_order_relaxed); }

}  // namespace gc
