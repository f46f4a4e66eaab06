#include "services/groups/signed_log/canonical_json.h"

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

namespace {

// Builds the value like nlohmann's own DOM parser and refuses, as it goes, a
// key repeated in an object and nesting deeper than 64 (one map insertion
// per key; no callback per token, no set of keys).
class StrictDom {
 public:
  explicit StrictDom(json& root) : root_(root) {}

  bool null() { return Put(nullptr) != nullptr; }
  bool boolean(bool v) { return Put(v) != nullptr; }
  bool number_integer(json::number_integer_t v) { return Put(v) != nullptr; }
  bool number_unsigned(json::number_unsigned_t v) { return Put(v) != nullptr; }
  bool number_float(json::number_float_t v, const std::string&) { return Put(v) != nullptr; }
  bool string(std::string& v) { return Put(std::move(v)) != nullptr; }
  bool binary(json::binary_t& v) { return Put(json::binary(std::move(v))) != nullptr; }
  bool start_object(std::size_t) { return Open(json::object()); }
  bool start_array(std::size_t) { return Open(json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(std::string& k) {
    auto& obj = stack_.back()->get_ref<json::object_t&>();
    auto [it, fresh] = obj.emplace(std::move(k), nullptr);
    if (!fresh) {
      error_ = "duplicate key \"" + it->first + "\"";
      return false;
    }
    slot_ = &it->second;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error_ = std::string("malformed JSON: ") + e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  template <typename V>
  json* Put(V&& v) {
    if (stack_.empty()) {
      root_ = json(std::forward<V>(v));
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.get_ref<json::array_t&>().emplace_back(std::forward<V>(v));
      return &top.get_ref<json::array_t&>().back();
    }
    *slot_ = json(std::forward<V>(v));
    return slot_;
  }
  bool Open(json empty) {
    if (stack_.size() >= 64) {
      error_ = "JSON nested deeper than 64 levels";
      return false;
    }
    stack_.push_back(Put(std::move(empty)));
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  json& root_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
  std::string error_;
};

}  // namespace

Result<json> ParseStrictJson(std::string_view text) {
  if (!Utf8Length(text)) return Error::Invalid("not valid UTF-8");
  json out;
  StrictDom dom(out);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &dom);
  } catch (const std::exception& e) {
    return Error::Invalid(std::string("malformed JSON: ") + e.what());
  }
  if (!ok) return Error::Invalid(dom.error().empty() ? "malformed JSON" : dom.error());
  return out;
}

}  // namespace gc
