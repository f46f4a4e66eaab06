// Structured logging: one JSON object per line on stderr.
//
// {"ts":"2026-11-26T04:00:00.123Z","level":"info","msg":"listening","http":"127.0.0.1:8080"}
// Thread-safe; a line is written with one write(2) so lines from threads never
// interleave.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace gc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key and its value, already JSON-encoded.
struct LogField {
  LogField(std::string_view k, std::string_view v);
  LogField(std::string_view k, const std::string& v) : LogField(k, std::string_view(v)) {}
  LogField(std::string_view k, const char* v) : LogField(k, std::string_view(v)) {}
  LogField(std::string_view k, int64_t v);
  LogField(std::string_view k, int v) : LogField(k, static_cast<int64_t>(v)) {}
  LogField(std::string_view k, uint64_t v) : LogField(k, static_cast<int64_t>(v)) {}
  LogField(std::string_view k, double v);
  LogField(std::string_view k, bool v);
  std::string key;
  std::string json_value;
};

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view s, LogLevel* out);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kDebug, m, f); }
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kInfo, m, f); }
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kWarn, m, f); }
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kError, m, f); }

// JSON string escaping (with quotes), used by the logger and the access log.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace gc
