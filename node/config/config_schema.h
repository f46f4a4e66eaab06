// The table of config keys: what every key is called, its type, its bounds or
// format check, where it lives in Config and one line on what it does.
//
// Why a table: the file reader, the GROUPCHAT_* environment overrides,
// DescribeConfig (the effective config in the admin console) and the key
// reference (`groupchat config-doc`, docs/config.md) all walk it, so a key
// added here is parsed, validated, overridable, described and documented with
// no further code; tests/unit/config_test.cpp checks that config/node.yaml
// shows exactly the keys of the table and that docs/config.md is the
// generator's output. (userver's component schemas do the same.)
//
// A section is one file in node/config/sections/ holding its table. To add a
// section (say media.*): add its struct to Config (config.h), a file
// sections/media.cpp that defines MediaConfigSection(), one line in
// AllConfigSections() (config_schema.cpp), the keys with comments to
// config/node.yaml, then regenerate docs/config.md with
// `build/groupchat config-doc > docs/config.md`.
//
// Defaults are not repeated here: a key's default is its member initializer
// in config.h, which the reference reads back through the key's accessor.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "node/config/config.h"

namespace gc::config {

// A check on a string value: true when acceptable.
using Check = bool (*)(std::string_view);

struct StringField {
  std::string& (*ref)(Config&);
  Check check;         // nullptr: any string
  const char* expect;  // what check wants, for messages ("open or allowlist")
};
struct IntField {
  int& (*ref)(Config&);
  int min, max;
};
struct Int64Field {
  int64_t& (*ref)(Config&);
  int64_t min, max;
};
struct DoubleField {
  double& (*ref)(Config&);
  double min;
  bool exclusive;  // value > min rather than >= min
};
struct BoolField {
  bool& (*ref)(Config&);
};
struct ListField {
  std::vector<std::string>& (*ref)(Config&);
  Check check;
  const char* expect;
};
struct MapField {
  std::map<std::string, std::string>& (*ref)(Config&);
  Check key_check;
  const char* key_expect;
  Check value_check;
  const char* value_expect;
};
using Field = std::variant<StringField, IntField, Int64Field, DoubleField, BoolField, ListField, MapField>;

// One key of a section. `name` is relative to the section ("threads",
// "per_ip.rate" for a key in a subsection).
struct Key {
  std::string_view name;
  Field field;
  std::string_view doc;   // one line, for the reference
  bool required = false;  // no default: the file or the environment must give it
};

struct Section {
  std::string_view name;  // top-level YAML key ("http")
  std::string_view doc;   // one line on what the section configures
  std::span<const Key> keys;
};

// A key with its full dotted path ("rate_limits.per_ip.rate").
struct KeyEntry {
  std::string path;
  const Key* key;
  const Section* section;
};

// Every section, in the order of config/node.yaml (and of DescribeConfig).
std::span<const Section> AllConfigSections();

// Every key of every section, in order, with its full path. Built once.
const std::vector<KeyEntry>& AllConfigKeys();

// The key with this full path, or nullptr.
const KeyEntry* FindKey(std::string_view path);

// True when `path` is a section or subsection: a proper prefix, ending at a
// dot, of some key path ("rate_limits", "rate_limits.per_ip").
bool IsSection(std::string_view path);

// The environment variable that overrides a key: GROUPCHAT_ + the path upper
// cased with dots as underscores.
std::string EnvName(std::string_view path);

// The type in words, for the reference ("integer", "list of strings").
std::string TypeName(const Field& field);

// What a field accepts, e.g. "an integer from 1 to 64"; the text of error
// messages and of the reference.
std::string Expectation(const Field& field);

// A key's value in `config` as it would be written in YAML (strings quoted
// when they would otherwise read back as something else; lists and maps in
// flow style), e.g. `2`, `"web"`, `[]`, `{beta.test: http://...}`.
std::string ValueText(const KeyEntry& entry, const Config& config);

// Parses and checks one scalar for a String/Int/Int64/Double/Bool field and
// stores it in `config`. Returns an error ("expected ..., got ...") or "".
std::string ApplyScalar(const Field& field, std::string_view text, Config& config);

// `value` quoted for a message, with control characters escaped and long
// values shortened.
std::string Quote(std::string_view value);

// "expected EXPECT, got "VALUE"".
std::string Expected(const std::string& expect, std::string_view got);

std::string_view Trim(std::string_view s);
bool ParseDouble(std::string_view s, double* out);
std::string FormatDouble(double v);
// Would this string, written as a plain YAML scalar, read back as something
// else (a number, boolean, null) or need quoting anyway?
bool NeedsQuotes(const std::string& s);

// The sections (node/config/sections/*.cpp).
Section NodeConfigSection();
Section HttpConfigSection();
Section FederationConfigSection();
Section DatabaseConfigSection();
Section RegistrationConfigSection();
Section LimitsConfigSection();
Section MediaConfigSection();
Section StreamConfigSection();
Section SessionsConfigSection();
Section RateLimitsConfigSection();
Section LogConfigSection();
Section NotificationsConfigSection();

}  // namespace gc::config

// An accessor for a Config member, for the tables: GC_CONFIG_REF(http.threads).
#define GC_CONFIG_REF(member) [](::gc::Config& c) -> auto& { return c.member; }
