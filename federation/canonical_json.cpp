#include "federation/canonical_json.h"

#include <cstdio>
#include <unordered_set>
#include <vector>

#include "node/common/text.h"

namespace gc {

using nlohmann::json;

namespace {

constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;

Status Encode(const json& v, std::string& out, int depth) {
  if (depth > 64) return Error::Invalid("JSON nested deeper than 64 levels");
  switch (v.type()) {
    case json::value_t::null: out += "null"; return OkStatus();
    case json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; return OkStatus();
    case json::value_t::number_integer: {
      int64_t n = v.get<int64_t>();
      if (n > kMaxSafe || n < -kMaxSafe) return Error::Invalid("integer out of the range +-(2^53-1)");
      out += std::to_string(n);
      return OkStatus();
    }
    case json::value_t::number_unsigned: {
      uint64_t n = v.get<uint64_t>();
      if (n > static_cast<uint64_t>(kMaxSafe)) return Error::Invalid("integer out of the range +-(2^53-1)");
      out += std::to_string(n);
      return OkStatus();
    }
    case json::value_t::number_float: return Error::Invalid("floating-point numbers are not allowed");
    case json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (!Utf8Length(s)) return Error::Invalid("string is not valid UTF-8");
      out += '"';
      for (unsigned char c : s) {
        switch (c) {
          case '"': out += "\\\""; break;
          case '\\': out += "\\\\"; break;
          case '\b': out += "\\b"; break;
          case '\t': out += "\\t"; break;
          case '\n': out += "\\n"; break;
          case '\f': out += "\\f"; break;
          case '\r': out += "\\r"; break;
          default:
            if (c < 0x20) {
              char buf[8];
              snprintf(buf, sizeof buf, "\\u%04x", c);
              out += buf;
            } else {
              out += static_cast<char>(c);
            }
        }
      }
      out += '"';
      return OkStatus();
    }
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ',';
        first = false;
        GC_TRY(Encode(e, out, depth + 1));
      }
      out += ']';
      return OkStatus();
    }
    case json::value_t::object: {
      // nlohmann's object is a std::map<std::string>: iteration is already in
      // bytewise key order, and keys are unique.
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!Utf8Length(it.key())) return Error::Invalid("object key is not valid UTF-8");
        if (!first) out += ',';
        first = false;
        GC_TRY(Encode(json(it.key()), out, depth + 1));
        out += ':';
        GC_TRY(Encode(it.value(), out, depth + 1));
      }
      out += '}';
      return OkStatus();
    }
    default: return Error::Invalid("unsupported JSON value");
  }
}

}  // namespace

Result<std::string> CanonicalJson(const json& value) {
  std::string out;
  GC_TRY(Encode(value, out, 0));
  return out;
}

Result<json> ParseStrictJson(std::string_view text) {
  if (!Utf8Length(text)) return Error::Invalid("not valid UTF-8");
  std::string dup;
  int depth_exceeded = 0;
  try {
    // Duplicate keys: parse with a callback that sees every key; nlohmann
    // keeps the last, so detect duplicates by tracking keys per object.
    std::vector<std::unordered_set<std::string>> keys;
    json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
      if (depth > 64) {
        depth_exceeded = 1;
        return false;
      }
      if (event == json::parse_event_t::object_start) keys.emplace_back();
      if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
      if (event == json::parse_event_t::key && !keys.empty()) {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (!keys.back().insert(k).second) dup = k;
      }
      return true;
    };
    json j = json::parse(text.begin(), text.end(), check);
    if (depth_exceeded) return Error::Invalid("JSON nested deeper than 64 levels");
    if (!dup.empty()) return Error::Invalid("duplicate key \"" + dup + "\"");
    return j;
  } catch (const std::exception& e) {
    return Error::Invalid(std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace gc
