// The registry of sections and the value handling every key shares: parsing
// scalars, checking bounds, the words of error messages. The sections
// themselves are in sections/*.cpp.
#include "node/config/config_schema.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <type_traits>

namespace gc::config {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

template <typename T>
bool ParseInteger(std::string_view s, T* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::optional<bool> ParseBool(std::string_view s) {
  std::string l = Lower(s);
  if (l == "true" || l == "yes" || l == "1") return true;
  if (l == "false" || l == "no" || l == "0") return false;
  return std::nullopt;
}

}  // namespace

std::span<const Section> AllConfigSections() {
  // The order of config/node.yaml. A new section: one line here.
  static const Section kSections[] = {
      NodeConfigSection(),     HttpConfigSection(),     FederationConfigSection(), DatabaseConfigSection(),
      RegistrationConfigSection(), LimitsConfigSection(), MediaConfigSection(),  StreamConfigSection(),
      SessionsConfigSection(),     RateLimitsConfigSection(), LogConfigSection(), NotificationsConfigSection(),
  };
  return kSections;
}

const std::vector<KeyEntry>& AllConfigKeys() {
  static const std::vector<KeyEntry> kAll = [] {
    std::vector<KeyEntry> all;
    for (const Section& section : AllConfigSections())
      for (const Key& key : section.keys)
        all.push_back({std::string(section.name) + "." + std::string(key.name), &key, &section});
    return all;
  }();
  return kAll;
}

const KeyEntry* FindKey(std::string_view path) {
  for (const KeyEntry& k : AllConfigKeys())
    if (k.path == path) return &k;
  return nullptr;
}

bool IsSection(std::string_view path) {
  for (const KeyEntry& k : AllConfigKeys()) {
    std::string_view p = k.path;
    if (p.size() > path.size() && p.substr(0, path.size()) == path && p[path.size()] == '.') return true;
  }
  return false;
}

std::string EnvName(std::string_view path) {
  std::string name = "GROUPCHAT_";
  for (char c : path) {
    if (c == '.') {
      name += '_';
    } else if (c >= 'a' && c <= 'z') {
      name += static_cast<char>(c - 'a' + 'A');
    } else {
      name += c;
    }
  }
  return name;
}

std::string Quote(std::string_view value) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : value) {
    if (++n > 80) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool ParseDouble(std::string_view s, double* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+') return false;
  // from_chars (general format) takes no hex and no leading '+', but does take
  // "inf" and "nan": refuse those below.
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, p);
}

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  std::string l = Lower(s);
  if (l == "null" || l == "~" || l == "true" || l == "false" || l == "yes" || l == "no" || l == "on" ||
      l == "off" || l == "y" || l == "n")
    return true;
  double d;
  return ParseDouble(s, &d);
}

std::string TypeName(const Field& field) {
  struct Visitor {
    const char* operator()(const StringField&) const { return "string"; }
    const char* operator()(const IntField&) const { return "integer"; }
    const char* operator()(const Int64Field&) const { return "integer"; }
    const char* operator()(const DoubleField&) const { return "number"; }
    const char* operator()(const BoolField&) const { return "boolean"; }
    const char* operator()(const ListField&) const { return "list of strings"; }
    const char* operator()(const MapField&) const { return "mapping"; }
  };
  return std::visit(Visitor{}, field);
}

std::string Expectation(const Field& field) {
  struct Visitor {
    std::string operator()(const StringField& f) const { return f.expect; }
    std::string operator()(const IntField& f) const {
      return "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max);
    }
    std::string operator()(const Int64Field& f) const {
      return "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max);
    }
    std::string operator()(const DoubleField& f) const {
      return std::string("a number ") + (f.exclusive ? "> " : ">= ") + FormatDouble(f.min);
    }
    std::string operator()(const BoolField&) const { return "true or false"; }
    std::string operator()(const ListField& f) const { return std::string("a list of strings, each ") + f.expect; }
    std::string operator()(const MapField& f) const {
      return std::string("a mapping of ") + f.key_expect + " to " + f.value_expect;
    }
  };
  return std::visit(Visitor{}, field);
}

std::string ValueText(const KeyEntry& entry, const Config& config) {
  Config c = config;  // the table's accessors take a mutable Config
  auto scalar = [](const std::string& s) { return NeedsQuotes(s) ? Quote(s) : s; };
  return std::visit(
      [&](const auto& f) -> std::string {
        using T = std::decay_t<decltype(f)>;
        const auto& v = f.ref(c);
        if constexpr (std::is_same_v<T, StringField>) {
          return scalar(v);
        } else if constexpr (std::is_same_v<T, DoubleField>) {
          return FormatDouble(v);
        } else if constexpr (std::is_same_v<T, BoolField>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, ListField>) {
          std::string out = "[";
          for (const auto& item : v) out += (out.size() > 1 ? ", " : "") + scalar(item);
          return out + "]";
        } else if constexpr (std::is_same_v<T, MapField>) {
          std::string out = "{";
          for (const auto& [k, val] : v) out += (out.size() > 1 ? ", " : "") + scalar(k) + ": " + scalar(val);
          return out + "}";
        } else {
          return std::to_string(v);  // int, int64
        }
      },
      entry.key->field);
}

std::string Expected(const std::string& expect, std::string_view got) {
  return "expected " + expect + ", got " + Quote(got);
}

std::string ApplyScalar(const Field& field, std::string_view text, Config& config) {
  std::string expect = Expectation(field);
  if (auto* f = std::get_if<StringField>(&field)) {
    if (f->check && !f->check(text)) return Expected(expect, text);
    f->ref(config) = std::string(text);
  } else if (auto* f = std::get_if<IntField>(&field)) {
    int v = 0;
    if (!ParseInteger(text, &v) || v < f->min || v > f->max) return Expected(expect, text);
    f->ref(config) = v;
  } else if (auto* f = std::get_if<Int64Field>(&field)) {
    int64_t v = 0;
    if (!ParseInteger(text, &v) || v < f->min || v > f->max) return Expected(expect, text);
    f->ref(config) = v;
  } else if (auto* f = std::get_if<DoubleField>(&field)) {
    double v = 0;
    if (!ParseDouble(text, &v) || v < f->min || (f->exclusive && v == f->min)) return Expected(expect, text);
    f->ref(config) = v;
  } else if (auto* f = std::get_if<BoolField>(&field)) {
    auto v = ParseBool(text);
    if (!v) return Expected(expect, text);
    f->ref(config) = *v;
  }
  return "";
}

}  // namespace gc::config
