// The config loader: YAML file -> validated Config, then GROUPCHAT_* overrides.
//
// Everything is driven by one table of keys (config_schema.h; each section's
// keys in sections/*.cpp): the file walker below, the environment overrides
// and DescribeConfig walk that same table, so a key added there is parsed,
// validated, overridable and described without further code.
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

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "node/config/config_schema.h"

extern char** environ;

namespace gc {
namespace {

using namespace config;  // the table's types and helpers

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
      if (const KeyEntry* entry = FindKey(path)) {
        if (auto f = ApplyNode(*entry, v)) return f;
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

  std::optional<Failure> ApplyNode(const KeyEntry& entry, const YAML::Node& v) {
    const std::string& path = entry.path;
    if (v.IsNull()) return std::nullopt;  // `key:` alone: the default applies
    const Field& field = entry.key->field;
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
      if (auto msg = ApplyScalar(field, v.Scalar(), config_); !msg.empty()) return At(v.Mark(), path + ": " + msg);
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
  std::string msg = ApplyScalar(field, typed ? Trim(value) : value, config);
  if (msg.empty()) return std::nullopt;
  return msg;
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
  for (const KeyEntry& entry : AllConfigKeys()) {
    std::string var = EnvName(entry.path);
    auto it = env.find(var);
    if (it == env.end()) continue;
    if (auto msg = ApplyEnv(entry.key->field, it->second, config)) return Error::Invalid("env " + var + ": " + *msg);
    from_env.insert(entry.path);
  }

  for (const KeyEntry& entry : AllConfigKeys()) {
    if (!entry.key->required || reader.WasSet(entry.path) || from_env.count(entry.path)) continue;
    return Error::Invalid(reader.Location(entry.section->name) + entry.path + " is required");
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
  if (!config.notifications.email.smtp_url.empty() && config.notifications.email.from.empty()) {
    return Error::Invalid(reader.Location("notifications") +
                          "notifications.email.from is required when notifications.email.smtp_url is set");
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

}  // namespace gc
