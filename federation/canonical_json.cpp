#include "federation/canonical_json.h"

#include <cstdio>
#include <vector>

#include "node/common/text.h"

namespace gc {

using nlohmann::json;

namespace {

constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;

Status EncodeString(std::string_view s, std::string& out) {
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

Status Encode(const json& v, std::string& out, int depth) {
  if (depth > 64) return Error::Invalid("JSON nested deeper than 64 levels");
  switch (v.type()) {
    case json::value_t::null: out += "null"; return OkStatus();
    case json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; return OkStatus();
    case json::value_t::number_integer: return AppendCanonicalInt(out, v.get<int64_t>());
    case json::value_t::number_unsigned: {
      uint64_t n = v.get<uint64_t>();
      if (n > static_cast<uint64_t>(kMaxSafe)) return Error::Invalid("integer out of the range +-(2^53-1)");
      out += std::to_string(n);
      return OkStatus();
    }
    case json::value_t::number_float: return Error::Invalid("floating-point numbers are not allowed");
    case json::value_t::string: return EncodeString(v.get_ref<const std::string&>(), out);
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
        if (!first) out += ',';
        first = false;
        GC_TRY(EncodeString(it.key(), out));
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

Status AppendCanonicalString(std::string& out, std::string_view s) { return EncodeString(s, out); }

Status AppendCanonicalInt(std::string& out, int64_t v) {
  if (v > kMaxSafe || v < -kMaxSafe) return Error::Invalid("integer out of the range +-(2^53-1)");
  out += std::to_string(v);
  return OkStatus();
}

Result<std::string> CanonicalJson(const json& value) {
  std::string out;
  GC_TRY(Encode(value, out, 0));
  return out;
}

Result<json> ParseStrictJson(std::string_view text) {
  if (!Utf8Length(text)) return Error::Invalid("not valid UTF-8");
  bool dup = false;
  int depth_exceeded = 0;
  try {
    // Duplicate keys: nlohmann keeps the last of them, so an object with
    // fewer members than keys seen had a duplicate (counting is much
    // cheaper than keeping every key of every object in a set).
    std::vector<size_t> keys;
    json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
      if (depth > 64) {
        depth_exceeded = 1;
        return false;
      }
      switch (event) {
        case json::parse_event_t::object_start: keys.push_back(0); break;
        case json::parse_event_t::key:
          if (!keys.empty()) ++keys.back();
          break;
        case json::parse_event_t::object_end:
          if (!keys.empty()) {
            if (parsed.size() != keys.back()) dup = true;
            keys.pop_back();
          }
          break;
        default: break;
      }
      return true;
    };
    json j = json::parse(text.begin(), text.end(), check);
    if (depth_exceeded) return Error::Invalid("JSON nested deeper than 64 levels");
    if (dup) return Error::Invalid("duplicate key in an object");
    return j;
  } catch (const std::exception& e) {
    return Error::Invalid(std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace gc
