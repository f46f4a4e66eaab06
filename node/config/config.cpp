// The config loader: YAML file -> validated Config, then GROUPCHAT_* overrides.
//
// Everything is driven by one table (kKeys below): each entry names a key path
// ("http.threads"), its type, its range or format check and where it lives in
// Config. The file walker, the environment overrides and DescribeConfig all
// walk that same table, so a key added there is parsed, validated,
// overridable and described without further code.
//
// Rules worth knowing (also stated in config/node.yaml):
// - Unknown keys and duplicate keys are errors at every level (yaml-cpp keeps
//   duplicates silently, so the walker checks each mapping itself).
// - A key with an empty value (`threads:` or `threads: ~`) is the same as an
//   absent key: its default applies. An empty section likewise.
// - Numbers and booleans must be plain YAML scalars: `threads: "4"` is a
//   string and is rejected. Booleans are true/false/yes/no/1/0 (any case).
// - Environment variable for a key: "GROUPCHAT_" + the path uppercased with
//   dots turned into underscores (rate_limits.per_ip.rate ->
//   GROUPCHAT_RATE_LIMITS_PER_IP_RATE). Lists are comma-separated, the
//   resolve map is `name=url,name2=url2`. Other GROUPCHAT_* variables are
//   ignored.
#include "node/config/config.h"

#include "node/common/address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <type_traits>
#include <variant>

extern char** environ;

namespace gc {
namespace {

// ---------------------------------------------------------------------------
// Value checks. Each returns true when the (string) value is acceptable.


bool IsIpv4(std::string_view s) {
  in_addr a{};
  return inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool IsIpv6(std::string_view s) {
  in6_addr a{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

bool IsIpAddress(std::string_view s) { return IsIpv4(s) || IsIpv6(s); }

// A host for a listen address: IPv4, hostname (not an all-numeric thing that
// fails to be an IPv4 address), or `*` when allow_star.
bool IsListenHost(std::string_view host, bool allow_star) {
  if (allow_star && host == "*") return true;
  if (IsIpv4(host)) return true;
  if (!IsDnsName(host, /*lowercase_only=*/false)) return false;
  // "999.1.1.1" or "127.1" are DNS-shaped but meant as (bad) IPv4 addresses.
  for (char c : host)
    if (c != '.' && (c < '0' || c > '9')) return true;
  return false;
}

// host:port with host IPv4, [IPv6] or hostname; port 0..65535.
bool IsHostPort(std::string_view s, bool allow_star) {
  std::string_view host, port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    if (!IsIpv6(s.substr(1, close - 1))) return false;
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (!IsListenHost(host, allow_star)) return false;
  }
  if (allow_star && port == "*") return true;
  return ParsePort(port, 0, /*allow_leading_zero=*/true);
}

bool ValidServerName(std::string_view s) { return IsValidServerName(s); }

bool ValidHttpListen(std::string_view s) { return IsHostPort(s, /*allow_star=*/false); }

bool ValidPublishedEndpoint(std::string_view s) {
  constexpr std::string_view kScheme = "tcp://";
  if (s.empty()) return true;
  if (s.substr(0, kScheme.size()) != kScheme) return false;
  auto hp = s.substr(kScheme.size());
  return IsHostPort(hp, /*allow_star=*/false) && hp.substr(hp.rfind(':') + 1) != "0";
}

bool ValidFederationListen(std::string_view s) {
  constexpr std::string_view kScheme = "tcp://";
  if (s.substr(0, kScheme.size()) != kScheme) return false;
  return IsHostPort(s.substr(kScheme.size()), /*allow_star=*/true);
}

bool ValidBaseUrl(std::string_view s) {
  size_t rest;
  if (s.substr(0, 7) == "http://") {
    rest = 7;
  } else if (s.substr(0, 8) == "https://") {
    rest = 8;
  } else {
    return false;
  }
  size_t end = s.find_first_of("/?#", rest);
  if (end == rest) return false;  // no host
  if (rest >= s.size()) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  return true;
}

bool NonEmpty(std::string_view s) { return !s.empty(); }

bool ValidDatabaseUrl(std::string_view s) {
  if (s.empty()) return true;
  if (s.substr(0, 13) == "postgresql://" || s.substr(0, 11) == "postgres://") return true;
  return s.find('=') != std::string_view::npos;  // key=value conninfo
}

bool ValidPolicy(std::string_view s) { return s == "open" || s == "allowlist"; }
bool ValidMediaStore(std::string_view s) { return s == "filesystem" || s == "s3"; }
bool ValidOptionalBaseUrl(std::string_view s) { return s.empty() || ValidBaseUrl(s); }
bool ValidRegistrationMode(std::string_view s) { return s == "open" || s == "invite" || s == "closed"; }
bool ValidLogLevel(std::string_view s) {
  return s == "debug" || s == "info" || s == "warn" || s == "error";
}

constexpr const char* kServerNameExpect = "a server name (lowercase DNS name, optionally :port)";

// ---------------------------------------------------------------------------
// The schema.

using Check = bool (*)(std::string_view);

struct StringField {
  std::string& (*ref)(Config&);
  Check check;          // nullptr: any string
  const char* expect;   // what check wants, for messages
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

struct Key {
  std::string_view path;
  Field field;
};

#define GC_CFG(member) [](Config& c) -> auto& { return c.member; }
#define GC_BUCKET(name)                                                                    \
  Key{"rate_limits." #name ".rate", DoubleField{GC_CFG(rate_limits.name.rate), 0, true}},   \
  Key{"rate_limits." #name ".burst", DoubleField{GC_CFG(rate_limits.name.burst), 1, false}}

const Key kKeys[] = {
    {"node.name", StringField{GC_CFG(node.name), ValidServerName, kServerNameExpect}},
    {"node.data_dir", StringField{GC_CFG(node.data_dir), NonEmpty, "a non-empty directory path"}},

    {"http.listen", StringField{GC_CFG(http.listen), ValidHttpListen,
                                "host:port (IPv4, [IPv6] or hostname; port 0 to 65535)"}},
    {"http.threads", IntField{GC_CFG(http.threads), 1, 64}},
    {"http.workers", IntField{GC_CFG(http.workers), 1, 256}},
    {"http.max_connections", IntField{GC_CFG(http.max_connections), 1, 1000000}},
    {"http.max_connections_per_ip", IntField{GC_CFG(http.max_connections_per_ip), 1, 1000000}},
    {"http.header_timeout_ms", IntField{GC_CFG(http.header_timeout_ms), 100, 600000}},
    {"http.idle_timeout_s", IntField{GC_CFG(http.idle_timeout_s), 1, 86400}},
    {"http.max_body_bytes", IntField{GC_CFG(http.max_body_bytes), 1024, 1073741824}},
    {"http.trusted_proxies", ListField{GC_CFG(http.trusted_proxies), IsIpAddress, "an IP address"}},
    {"http.web_dir", StringField{GC_CFG(http.web_dir), NonEmpty, "a directory path"}},
    {"http.admin_dir", StringField{GC_CFG(http.admin_dir), NonEmpty, "a directory path"}},

    {"federation.listen", StringField{GC_CFG(federation.listen), ValidFederationListen,
                                      "tcp://host:port (port 0 to 65535)"}},
    {"federation.policy", StringField{GC_CFG(federation.policy), ValidPolicy, "open or allowlist"}},
    {"federation.allow", ListField{GC_CFG(federation.allow), ValidServerName, kServerNameExpect}},
    {"federation.deny", ListField{GC_CFG(federation.deny), ValidServerName, kServerNameExpect}},
    {"federation.endpoint", StringField{GC_CFG(federation.endpoint), ValidPublishedEndpoint,
                                        "empty, or tcp://host:port with a port 1 to 65535"}},
    {"federation.rate_per_peer", DoubleField{GC_CFG(federation.rate_per_peer), 0, true}},
    {"federation.burst_per_peer", DoubleField{GC_CFG(federation.burst_per_peer), 1, false}},
    {"federation.resolve", MapField{GC_CFG(federation.resolve), ValidServerName, kServerNameExpect,
                                    ValidBaseUrl, "an http:// or https:// URL"}},

    {"database.url", StringField{GC_CFG(database.url), ValidDatabaseUrl,
                                 "empty, a postgresql:// URL or a key=value connection string"}},
    {"database.pool_size", IntField{GC_CFG(database.pool_size), 1, 256}},
    {"database.connect_timeout_s", IntField{GC_CFG(database.connect_timeout_s), 1, 600}},
    {"database.pg_bin_dir", StringField{GC_CFG(database.pg_bin_dir), nullptr, "a string"}},

    {"registration.mode", StringField{GC_CFG(registration.mode), ValidRegistrationMode,
                                      "open, invite or closed"}},

    {"limits.max_message_bytes", Int64Field{GC_CFG(limits.max_message_bytes), 1, 1048576}},
    {"limits.max_upload_bytes", Int64Field{GC_CFG(limits.max_upload_bytes), 1, 4294967296LL}},

    {"media.store", StringField{GC_CFG(media.store), ValidMediaStore, "filesystem or s3"}},
    {"media.s3.endpoint", StringField{GC_CFG(media.s3.endpoint), ValidOptionalBaseUrl, "empty, or an http:// or https:// URL"}},
    {"media.s3.bucket", StringField{GC_CFG(media.s3.bucket), nullptr, "a string"}},
    {"media.s3.region", StringField{GC_CFG(media.s3.region), NonEmpty, "a region name such as us-east-1"}},
    {"media.s3.access_key_id", StringField{GC_CFG(media.s3.access_key_id), nullptr, "a string"}},
    {"media.s3.secret_access_key", StringField{GC_CFG(media.s3.secret_access_key), nullptr, "a string"}},
    {"media.s3.path_style", BoolField{GC_CFG(media.s3.path_style)}},
    {"media.s3.timeout_s", IntField{GC_CFG(media.s3.timeout_s), 1, 3600}},
    {"media.max_image_pixels", Int64Field{GC_CFG(media.max_image_pixels), 1, 1000000000}},
    {"media.quota_bytes_per_user", Int64Field{GC_CFG(media.quota_bytes_per_user), 0, INT64_MAX}},
    {"media.remote_cache_bytes", Int64Field{GC_CFG(media.remote_cache_bytes), 0, INT64_MAX}},
    {"media.retention_days", IntField{GC_CFG(media.retention_days), 0, 36500}},
    {"media.unreferenced_after_s", IntField{GC_CFG(media.unreferenced_after_s), 1, 31536000}},
    {"media.sweep_interval_s", IntField{GC_CFG(media.sweep_interval_s), 10, 86400}},
    {"media.image_workers", IntField{GC_CFG(media.image_workers), 1, 64}},
    {"media.image_queue", IntField{GC_CFG(media.image_queue), 0, 10000}},

    {"stream.max_connections", IntField{GC_CFG(stream.max_connections), 1, 1000000}},
    {"stream.send_queue_bytes", IntField{GC_CFG(stream.send_queue_bytes), 4096, 268435456}},
    {"stream.max_frame_bytes", IntField{GC_CFG(stream.max_frame_bytes), 256, 1048576}},
    {"stream.idle_timeout_s", IntField{GC_CFG(stream.idle_timeout_s), 5, 3600}},
    {"stream.typing_ttl_s", IntField{GC_CFG(stream.typing_ttl_s), 1, 60}},

    {"sessions.idle_timeout_s", Int64Field{GC_CFG(sessions.idle_timeout_s), 0, 315360000}},

    {"rate_limits.enabled", BoolField{GC_CFG(rate_limits.enabled)}},
    GC_BUCKET(per_ip),
    GC_BUCKET(per_user),
    GC_BUCKET(login_per_ip),
    GC_BUCKET(login_per_username),
    GC_BUCKET(register_per_ip),

    {"log.level", StringField{GC_CFG(log.level), ValidLogLevel, "debug, info, warn or error"}},
    {"log.access", BoolField{GC_CFG(log.access)}},
};

#undef GC_BUCKET
#undef GC_CFG

const Key* FindKey(std::string_view path) {
  for (const Key& k : kKeys)
    if (k.path == path) return &k;
  return nullptr;
}

// A section: a proper prefix (ending at a dot) of some key path.
bool IsSection(std::string_view path) {
  for (const Key& k : kKeys)
    if (k.path.size() > path.size() && k.path.substr(0, path.size()) == path && k.path[path.size()] == '.')
      return true;
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

// ---------------------------------------------------------------------------
// Scalar parsing shared by the file and the environment.

// `value` quoted for a message, with control characters escaped and long
// values shortened.
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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

template <typename T>
bool ParseInteger(std::string_view s, T* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+') return false;
  // from_chars (general format) takes no hex and no leading '+', but does take
  // "inf" and "nan": refuse those below.
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}

std::optional<bool> ParseBool(std::string_view s) {
  std::string l = Lower(s);
  if (l == "true" || l == "yes" || l == "1") return true;
  if (l == "false" || l == "no" || l == "0") return false;
  return std::nullopt;
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, p);
}

// What a scalar field expects, e.g. "an integer from 1 to 64".
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
    std::string operator()(const ListField& f) const {
      return std::string("a list of strings, each ") + f.expect;
    }
    std::string operator()(const MapField& f) const {
      return std::string("a mapping of ") + f.key_expect + " to " + f.value_expect;
    }
  };
  return std::visit(Visitor{}, field);
}

std::string Expected(const std::string& expect, std::string_view got) {
  return "expected " + expect + ", got " + Quote(got);
}

// Parses and checks one scalar for a String/Int/Int64/Double/Bool field and
// stores it. Returns an error message ("expected ..., got ...") or nullopt.
std::optional<std::string> ApplyScalar(const Field& field, std::string_view text, Config& config) {
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
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// The YAML file.

struct Failure {
  std::string message;
};

class FileReader {
 public:
  FileReader(const std::string& name, Config& config) : name_(name), config_(config) {}

  std::optional<Failure> Read(const std::string& text) {
    if (auto failure = CheckOneDocument(text)) return failure;
    YAML::Node doc = YAML::Load(text);
    if (doc.IsNull()) return std::nullopt;
    if (!doc.IsMap()) return At(doc.Mark(), "expected a mapping of sections (node, http, ...), got " + Describe(doc));
    return WalkMap(doc, "");
  }

  std::string Location(std::string_view section) const {
    auto it = section_marks_.find(std::string(section));
    if (it == section_marks_.end()) return name_ + ": ";
    return Prefix(it->second);
  }

  bool WasSet(std::string_view path) const { return set_.count(std::string(path)) > 0; }

 private:
  std::string Prefix(const YAML::Mark& mark) const {
    if (mark.is_null() || mark.line < 0 || mark.column < 0) return name_ + ": ";
    return name_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
  }

  Failure At(const YAML::Mark& mark, const std::string& message) const { return {Prefix(mark) + message}; }

  // Refuses a second document. Not with YAML::LoadAll: on a stray ',' at the
  // top level yaml-cpp 0.7 yields empty documents at the same place for ever
  // (the config loader hung, using ever more memory; found by the fuzz
  // target config). This walks the documents' events instead and stops at
  // the second one, or at one that starts where the previous one did.
  std::optional<Failure> CheckOneDocument(const std::string& text) const {
    struct Documents : YAML::EventHandler {
      std::vector<YAML::Mark> starts;  // where each document starts
      std::vector<YAML::Mark> roots;   // where its first node is (for messages)
      void Node(const YAML::Mark& mark) {
        if (roots.size() < starts.size()) roots.push_back(mark);
      }
      void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
      void OnDocumentEnd() override {}
      void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
      void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
      void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        Node(mark);
      }
      void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                           YAML::EmitterStyle::value) override {
        Node(mark);
      }
      void OnSequenceEnd() override {}
      void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        Node(mark);
      }
      void OnMapEnd() override {}
    } docs;
    std::istringstream in(text);
    YAML::Parser parser(in);
    while (docs.starts.size() < 2 && parser.HandleNextDocument(docs)) {
    }
    if (docs.starts.size() < 2) return std::nullopt;
    const YAML::Mark& start = docs.starts[1];
    if (start.pos == docs.starts[0].pos && start.pos >= 0 && static_cast<size_t>(start.pos) < text.size()) {
      return At(start, std::string("unexpected '") + text[start.pos] + "' outside a [...] or {...} collection");
    }
    const YAML::Mark& second = docs.roots.size() > 1 ? docs.roots[1] : start;
    return At(second, "only one YAML document is allowed");
  }

  static std::string Describe(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Sequence: return "a list";
      case YAML::NodeType::Map: return "a mapping";
      case YAML::NodeType::Null: return "nothing";
      case YAML::NodeType::Scalar: return Quote(node.Scalar());
      default: return "an undefined value";
    }
  }

  static std::string Where(const std::string& prefix) {
    return prefix.empty() ? std::string("at top level") : "in section " + prefix;
  }

  std::optional<Failure> WalkMap(const YAML::Node& map, const std::string& prefix) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node k = it->first;  // copies: `it->` yields a temporary proxy
      const YAML::Node v = it->second;
      if (!k.IsScalar()) return At(k.Mark(), "expected a key name " + Where(prefix) + ", got " + Describe(k));
      const std::string& key = k.Scalar();
      if (!seen.insert(key).second) return At(k.Mark(), "duplicate key " + Quote(key) + " " + Where(prefix));
      std::string path = prefix.empty() ? key : prefix + "." + key;
      if (const Key* spec = FindKey(path)) {
        if (auto f = ApplyNode(*spec, v)) return f;
      } else if (IsSection(path)) {
        section_marks_[path] = k.Mark();
        if (v.IsNull()) continue;  // empty section: defaults
        if (!v.IsMap()) return At(v.Mark(), path + ": expected a section (a mapping of keys), got " + Describe(v));
        if (auto f = WalkMap(v, path)) return f;
      } else {
        return At(k.Mark(), "unknown key " + Quote(key) + " " + Where(prefix));
      }
    }
    return std::nullopt;
  }

  // A scalar where a number or boolean is expected must be a plain scalar.
  std::optional<Failure> ScalarText(const YAML::Node& v, const std::string& path, const Field& field,
                                    bool typed) const {
    if (!v.IsScalar()) return At(v.Mark(), path + ": expected " + Expectation(field) + ", got " + Describe(v));
    if (typed && v.Tag() == "!")
      return At(v.Mark(), path + ": expected " + Expectation(field) + ", got the quoted string " +
                              Quote(v.Scalar()) + " (remove the quotes)");
    return std::nullopt;
  }

  std::optional<Failure> ApplyNode(const Key& spec, const YAML::Node& v) {
    const std::string path(spec.path);
    if (v.IsNull()) return std::nullopt;  // `key:` alone: the default applies
    const Field& field = spec.field;
    if (auto* f = std::get_if<ListField>(&field)) {
      if (!v.IsSequence()) return At(v.Mark(), path + ": expected a list of strings, got " + Describe(v));
      std::vector<std::string> items;
      for (const YAML::Node& item : v) {
        if (!item.IsScalar())
          return At(item.Mark(), path + ": expected " + std::string(f->expect) + ", got " + Describe(item));
        if (!f->check(item.Scalar())) return At(item.Mark(), path + ": " + Expected(f->expect, item.Scalar()));
        items.push_back(item.Scalar());
      }
      f->ref(config_) = std::move(items);
    } else if (auto* f = std::get_if<MapField>(&field)) {
      if (!v.IsMap()) return At(v.Mark(), path + ": expected " + Expectation(field) + ", got " + Describe(v));
      std::map<std::string, std::string> entries;
      for (auto it = v.begin(); it != v.end(); ++it) {
        const YAML::Node ek = it->first;
        const YAML::Node ev = it->second;
        if (!ek.IsScalar())
          return At(ek.Mark(), path + ": expected " + std::string(f->key_expect) + ", got " + Describe(ek));
        if (!f->key_check(ek.Scalar())) return At(ek.Mark(), path + ": " + Expected(f->key_expect, ek.Scalar()));
        if (entries.count(ek.Scalar()))
          return At(ek.Mark(), "duplicate key " + Quote(ek.Scalar()) + " in " + path);
        if (!ev.IsScalar())
          return At(ev.IsNull() ? ek.Mark() : ev.Mark(),
                    path + ": expected " + std::string(f->value_expect) + " for " + Quote(ek.Scalar()) + ", got " +
                        Describe(ev));
        if (!f->value_check(ev.Scalar())) return At(ev.Mark(), path + ": " + Expected(f->value_expect, ev.Scalar()));
        entries[ek.Scalar()] = ev.Scalar();
      }
      f->ref(config_) = std::move(entries);
    } else {
      bool typed = !std::holds_alternative<StringField>(field);
      if (auto f = ScalarText(v, path, field, typed)) return f;
      if (auto msg = ApplyScalar(field, v.Scalar(), config_)) return At(v.Mark(), path + ": " + *msg);
    }
    set_.insert(path);
    return std::nullopt;
  }

  const std::string& name_;
  Config& config_;
  std::map<std::string, YAML::Mark> section_marks_;  // section path -> position of its key
  std::set<std::string> set_;                        // key paths given a value
};

// ---------------------------------------------------------------------------
// Environment overrides.

std::vector<std::string_view> SplitCommas(std::string_view s) {
  std::vector<std::string_view> out;
  if (Trim(s).empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    out.push_back(Trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

std::optional<std::string> ApplyEnv(const Field& field, std::string_view value, Config& config) {
  if (auto* f = std::get_if<ListField>(&field)) {
    std::vector<std::string> items;
    for (std::string_view item : SplitCommas(value)) {
      if (item.empty()) return "empty item in comma-separated list " + Quote(value);
      if (!f->check(item)) return Expected(f->expect, item);
      items.emplace_back(item);
    }
    f->ref(config) = std::move(items);
    return std::nullopt;
  }
  if (auto* f = std::get_if<MapField>(&field)) {
    std::map<std::string, std::string> entries;
    for (std::string_view item : SplitCommas(value)) {
      size_t eq = item.find('=');
      if (eq == std::string_view::npos)
        return "expected name=url pairs separated by commas, got " + Quote(item.empty() ? value : item);
      std::string_view k = Trim(item.substr(0, eq));
      std::string_view v = Trim(item.substr(eq + 1));
      if (!f->key_check(k)) return Expected(f->key_expect, k);
      if (!f->value_check(v)) return Expected(f->value_expect, v);
      if (!entries.emplace(std::string(k), std::string(v)).second) return "duplicate name " + Quote(k);
    }
    f->ref(config) = std::move(entries);
    return std::nullopt;
  }
  bool typed = !std::holds_alternative<StringField>(field);
  return ApplyScalar(field, typed ? Trim(value) : value, config);
}

// ---------------------------------------------------------------------------
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
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  std::string l = Lower(s);
  if (l == "null" || l == "~" || l == "true" || l == "false" || l == "yes" || l == "no" || l == "on" ||
      l == "off" || l == "y" || l == "n")
    return true;
  double d;
  return ParseDouble(s, &d);
}

}  // namespace

// ---------------------------------------------------------------------------

Result<Config> ParseConfig(const std::string& yaml_text, const std::string& name,
                           const std::map<std::string, std::string>& env) {
  Config config;
  config.source_path = name;
  FileReader reader(name, config);
  try {
    if (auto failure = reader.Read(yaml_text)) return Error::Invalid(failure->message);
  } catch (const YAML::Exception& e) {
    std::string where = name + ":";
    if (!e.mark.is_null() && e.mark.line >= 0)
      where += std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ":";
    return Error::Invalid(where + " invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Error::Invalid(name + ": cannot parse config: " + e.what());
  }

  std::set<std::string> from_env;
  for (const Key& key : kKeys) {
    std::string var = EnvName(key.path);
    auto it = env.find(var);
    if (it == env.end()) continue;
    if (auto msg = ApplyEnv(key.field, it->second, config)) return Error::Invalid("env " + var + ": " + *msg);
    from_env.insert(std::string(key.path));
  }

  for (std::string_view required : {"node.name", "node.data_dir"}) {
    if (reader.WasSet(required) || from_env.count(std::string(required))) continue;
    return Error::Invalid(reader.Location("node") + std::string(required) + " is required");
  }
  if (config.media.store == "s3") {
    for (auto [key, value] : {std::pair{"endpoint", &config.media.s3.endpoint}, std::pair{"bucket", &config.media.s3.bucket},
                              std::pair{"access_key_id", &config.media.s3.access_key_id},
                              std::pair{"secret_access_key", &config.media.s3.secret_access_key}}) {
      if (value->empty()) {
        return Error::Invalid(reader.Location("media") + "media.s3." + key + " is required when media.store is s3");
      }
    }
  }
  return config;
}

Result<Config> LoadConfig(const std::string& path, const std::map<std::string, std::string>& env) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::Invalid(path + ": cannot read config file (" + std::strerror(errno) + ")");
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Error::Invalid(path + ": cannot read config file (" + std::strerror(err) + ")");
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (16u << 20)) {
      ::close(fd);
      return Error::Invalid(path + ": cannot read config file (larger than 16 MiB)");
    }
  }
  ::close(fd);
  return ParseConfig(text, path, env);
}

std::map<std::string, std::string> GroupchatEnvironment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 10) != "GROUPCHAT_") continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return out;
}

std::string DescribeConfig(const Config& config) {
  Config c = config;  // the table's accessors take a mutable Config
  c.database.url = RedactDatabaseUrl(c.database.url);
  if (!c.media.s3.secret_access_key.empty()) c.media.s3.secret_access_key = "***";

  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;  // the sections currently open
  for (const Key& key : kKeys) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t dot = key.path.find('.', start);
      parts.emplace_back(key.path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
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
        key.field);
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

}  // namespace gc
