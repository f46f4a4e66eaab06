// The config as text: DescribeConfig (the effective values, secrets
// redacted, for the admin console) and ConfigReference (every key with its
// type, default, accepted values and doc, for docs/config.md). Both walk the
// table of keys (config_schema.h).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string_view>
#include <type_traits>

#include "node/config/config.h"
#include "node/config/config_schema.h"

namespace gc {
namespace {

using namespace config;

// DescribeConfig helpers.

bool IsSecretParam(std::string_view key) { return key == "password" || key == "sslpassword"; }

// key=value conninfo (libpq syntax: values bare or single-quoted, backslash
// escapes): password values become ***. Unparseable text is hidden entirely.
std::string RedactConninfo(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (is_space(s[i])) {
      out += s[i++];
      continue;
    }
    size_t key_start = i;
    while (i < s.size() && s[i] != '=' && !is_space(s[i])) ++i;
    std::string_view key = s.substr(key_start, i - key_start);
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') return "***";
    ++i;
    while (i < s.size() && is_space(s[i])) ++i;
    size_t value_start = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\') ? 2 : 1;
      if (i >= s.size()) return "***";  // unterminated quote
      ++i;
    } else {
      while (i < s.size() && !is_space(s[i])) i += (s[i] == '\\') ? 2 : 1;
      i = std::min(i, s.size());
    }
    out += key;
    out += '=';
    if (IsSecretParam(key)) {
      out += "***";
    } else {
      out += s.substr(value_start, i - value_start);
    }
  }
  return out;
}

// postgresql://user:PASSWORD@host/db?password=PASSWORD -> *** for both.
std::string RedactDatabaseUrl(const std::string& url) {
  bool is_uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!is_uri) return RedactConninfo(url);
  size_t start = url.find("://") + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  std::string out = url.substr(0, start);
  std::string_view authority = std::string_view(url).substr(start, end - start);
  size_t at = authority.rfind('@');
  size_t colon = authority.find(':');
  if (at != std::string_view::npos && colon < at) {
    out += authority.substr(0, colon + 1);
    out += "***";
    out += authority.substr(at);
  } else {
    out += authority;
  }
  // Query parameters, between '?' and '#'.
  size_t q = url.find('?', end);
  size_t hash = url.find('#', end);
  if (q == std::string::npos || (hash != std::string::npos && hash < q)) return out + url.substr(end);
  if (hash == std::string::npos) hash = url.size();
  out += url.substr(end, q + 1 - end);
  std::string_view query = std::string_view(url).substr(q + 1, hash - q - 1);
  size_t pos = 0;
  while (true) {
    size_t amp = query.find('&', pos);
    std::string_view param = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && IsSecretParam(param.substr(0, eq))) {
      out += param.substr(0, eq + 1);
      out += "***";
    } else {
      out += param;
    }
    if (amp == std::string_view::npos) break;
    out += '&';
    pos = amp + 1;
  }
  return out + url.substr(hash);
}

// Would a plain YAML scalar with this text read back as something other than
// this string (a number, boolean, null) or need quoting anyway?
}  // namespace

std::string RedactUrlPassword(const std::string& url) {
  size_t start = url.find("://");
  if (start == std::string::npos) return url;
  start += 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < start) return url;
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string DescribeConfig(const Config& config) {
  Config c = config;  // the table's accessors take a mutable Config
  c.database.url = RedactDatabaseUrl(c.database.url);
  if (!c.media.s3.secret_access_key.empty()) c.media.s3.secret_access_key = "***";
  c.notifications.email.smtp_url = RedactUrlPassword(c.notifications.email.smtp_url);

  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;  // the sections currently open
  for (const KeyEntry& entry : AllConfigKeys()) {
    std::string_view path = entry.path;
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      parts.emplace_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    while (open.size() > common) {
      out << YAML::EndMap;
      open.pop_back();
    }
    while (open.size() + 1 < parts.size()) {
      out << YAML::Key << parts[open.size()] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[open.size()]);
    }
    out << YAML::Key << parts.back() << YAML::Value;
    std::visit(
        [&](const auto& f) {
          using T = std::decay_t<decltype(f)>;
          auto& v = f.ref(c);
          if constexpr (std::is_same_v<T, StringField>) {
            if (NeedsQuotes(v)) out << YAML::DoubleQuoted;
            out << v;
          } else if constexpr (std::is_same_v<T, DoubleField>) {
            out << FormatDouble(v);
          } else if constexpr (std::is_same_v<T, ListField>) {
            if (v.empty()) out << YAML::Flow;
            out << YAML::BeginSeq;
            for (const auto& item : v) out << item;
            out << YAML::EndSeq;
          } else if constexpr (std::is_same_v<T, MapField>) {
            if (v.empty()) out << YAML::Flow;
            out << YAML::BeginMap;
            for (const auto& [k, val] : v) out << YAML::Key << k << YAML::Value << val;
            out << YAML::EndMap;
          } else {
            out << v;  // int, int64, bool
          }
        },
        entry.key->field);
  }
  while (!open.empty()) {
    out << YAML::EndMap;
    open.pop_back();
  }
  out << YAML::EndMap;

  std::string text;
  if (!config.source_path.empty()) text = "# effective configuration, loaded from " + config.source_path + "\n";
  return text + out.c_str() + "\n";
}

std::string ConfigReference() {
  const Config defaults;
  std::string out =
      "# Configuration keys\n\n"
      "Generated by `groupchat config-doc` from the tables in node/config/sections/; do not edit by hand\n"
      "(node/config/config_schema.h says how to add a key). config/node.yaml is the commented example;\n"
      "its rules (unknown keys refused, empty values mean the default, unquoted numbers) apply here.\n"
      "Every key can be overridden by the environment variable GROUPCHAT_ + its path upper cased, dots\n"
      "as underscores (`http.threads`: `GROUPCHAT_HTTP_THREADS`).\n";
  for (const Section& section : AllConfigSections()) {
    out += "\n## " + std::string(section.name) + "\n\n" + std::string(section.doc) + "\n\n";
    out += "| key | type | default | accepted | what it does |\n| --- | --- | --- | --- | --- |\n";
    for (const KeyEntry& entry : AllConfigKeys()) {
      if (entry.section->name != section.name) continue;
      const Key& key = *entry.key;
      std::string def = key.required ? "required" : "`" + ValueText(entry, defaults) + "`";
      out += "| `" + entry.path + "` | " + TypeName(key.field) + " | " + def + " | " + Expectation(key.field) +
             " | " + std::string(key.doc) + " |\n";
    }
  }
  return out;
}

}  // namespace gc
