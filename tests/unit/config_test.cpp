// Unit tests for the config loader (node/config/config.cpp) and the table of
// keys that drives it (node/config/config_schema.h, sections/*.cpp).
#include "node/config/config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>

#include "node/config/config_schema.h"

namespace gc {
namespace {

using Env = std::map<std::string, std::string>;

const char* const kMinimal =
    "node:\n"
    "  name: acme.test\n"
    "  data_dir: ./var/acme\n";

Result<Config> Parse(const std::string& yaml, const Env& env = {}) {
  return ParseConfig(yaml, "node.yaml", env);
}

// The error message of a parse that must fail.
std::string ErrorOf(const std::string& yaml, const Env& env = {}) {
  auto r = Parse(yaml, env);
  if (r.ok()) return "<parsed without error>";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
  return r.error().message;
}

// kMinimal plus `extra` (which starts at line 4).
std::string ErrorWith(const std::string& extra, const Env& env = {}) {
  return ErrorOf(std::string(kMinimal) + extra, env);
}

// ---------------------------------------------------------------------------
// Valid files

TEST(ConfigTest, FullConfigParsesEveryValue) {
  const char* yaml = R"(node:
  name: beta.test:8448
  data_dir: /srv/groupchat
http:
  listen: "[::1]:9000"
  threads: 4
  workers: 16
  max_connections: 500
  header_timeout_ms: 2500
  idle_timeout_s: 30
  max_body_bytes: 2048
  trusted_proxies: [10.0.0.1, "::1"]
federation:
  listen: tcp://0.0.0.0:7100
  policy: allowlist
  allow:
    - acme.test
    - gamma.test:8448
  deny: [evil.test]
  resolve:
    acme.test: http://127.0.0.1:8080
    gamma.test:8448: https://gamma.example/base
database:
  url: postgresql://gc@localhost/gc
  pool_size: 3
  connect_timeout_s: 5
  pg_bin_dir: /usr/lib/postgresql/15/bin
registration:
  mode: invite
limits:
  max_message_bytes: 1000
  max_upload_bytes: 4294967296
stream:
  max_connections: 64
  send_queue_bytes: 65536
  max_frame_bytes: 4096
  idle_timeout_s: 30
  typing_ttl_s: 3
rate_limits:
  enabled: no
  per_ip: {rate: 1.5, burst: 2}
  per_user:
    rate: 3
    burst: 4
  login_per_ip:
    rate: 5
    burst: 6
  login_per_username:
    rate: 0.5
    burst: 1
  register_per_ip:
    rate: 1e-3
    burst: 9
log:
  level: debug
  access: false
)";
  auto r = Parse(yaml);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  EXPECT_EQ(c.source_path, "node.yaml");
  EXPECT_EQ(c.node.name, "beta.test:8448");
  EXPECT_EQ(c.node.data_dir, "/srv/groupchat");
  EXPECT_EQ(c.http.listen, "[::1]:9000");
  EXPECT_EQ(c.http.threads, 4);
  EXPECT_EQ(c.http.workers, 16);
  EXPECT_EQ(c.http.max_connections, 500);
  EXPECT_EQ(c.http.header_timeout_ms, 2500);
  EXPECT_EQ(c.http.idle_timeout_s, 30);
  EXPECT_EQ(c.http.max_body_bytes, 2048);
  EXPECT_EQ(c.http.trusted_proxies, (std::vector<std::string>{"10.0.0.1", "::1"}));
  EXPECT_EQ(c.federation.listen, "tcp://0.0.0.0:7100");
  EXPECT_EQ(c.federation.policy, "allowlist");
  EXPECT_EQ(c.federation.allow, (std::vector<std::string>{"acme.test", "gamma.test:8448"}));
  EXPECT_EQ(c.federation.deny, (std::vector<std::string>{"evil.test"}));
  EXPECT_EQ(c.federation.resolve, (std::map<std::string, std::string>{
                                      {"acme.test", "http://127.0.0.1:8080"},
                                      {"gamma.test:8448", "https://gamma.example/base"}}));
  EXPECT_EQ(c.database.url, "postgresql://gc@localhost/gc");
  EXPECT_EQ(c.database.pool_size, 3);
  EXPECT_EQ(c.database.connect_timeout_s, 5);
  EXPECT_EQ(c.database.pg_bin_dir, "/usr/lib/postgresql/15/bin");
  EXPECT_EQ(c.registration.mode, "invite");
  EXPECT_EQ(c.limits.max_message_bytes, 1000);
  EXPECT_EQ(c.limits.max_upload_bytes, 4294967296LL);
  EXPECT_EQ(c.stream.max_connections, 64);
  EXPECT_EQ(c.stream.send_queue_bytes, 65536);
  EXPECT_EQ(c.stream.max_frame_bytes, 4096);
  EXPECT_EQ(c.stream.idle_timeout_s, 30);
  EXPECT_EQ(c.stream.typing_ttl_s, 3);
  EXPECT_FALSE(c.rate_limits.enabled);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_ip.rate, 1.5);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_ip.burst, 2);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_user.rate, 3);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_user.burst, 4);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_ip.rate, 5);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_ip.burst, 6);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_username.rate, 0.5);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_username.burst, 1);
  EXPECT_DOUBLE_EQ(c.rate_limits.register_per_ip.rate, 0.001);
  EXPECT_DOUBLE_EQ(c.rate_limits.register_per_ip.burst, 9);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_FALSE(c.log.access);
}

void ExpectDefaults(const Config& c) {
  EXPECT_EQ(c.http.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.http.threads, 2);
  EXPECT_EQ(c.http.workers, 8);
  EXPECT_EQ(c.http.max_connections, 10000);
  EXPECT_EQ(c.http.header_timeout_ms, 10000);
  EXPECT_EQ(c.http.idle_timeout_s, 60);
  EXPECT_EQ(c.http.max_body_bytes, 1048576);
  EXPECT_TRUE(c.http.trusted_proxies.empty());
  EXPECT_EQ(c.federation.listen, "tcp://127.0.0.1:7000");
  EXPECT_EQ(c.federation.policy, "open");
  EXPECT_TRUE(c.federation.allow.empty());
  EXPECT_TRUE(c.federation.deny.empty());
  EXPECT_TRUE(c.federation.resolve.empty());
  EXPECT_EQ(c.database.url, "");
  EXPECT_EQ(c.database.pool_size, 8);
  EXPECT_EQ(c.database.connect_timeout_s, 10);
  EXPECT_EQ(c.database.pg_bin_dir, "");
  EXPECT_EQ(c.registration.mode, "open");
  EXPECT_EQ(c.limits.max_message_bytes, 16384);
  EXPECT_EQ(c.limits.max_upload_bytes, 26214400);
  EXPECT_EQ(c.stream.max_connections, 10000);
  EXPECT_EQ(c.stream.typing_ttl_s, 5);
  EXPECT_TRUE(c.rate_limits.enabled);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_ip.rate, 50);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_ip.burst, 200);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_user.rate, 20);
  EXPECT_DOUBLE_EQ(c.rate_limits.per_user.burst, 100);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_ip.rate, 1);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_ip.burst, 10);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_username.rate, 0.2);
  EXPECT_DOUBLE_EQ(c.rate_limits.login_per_username.burst, 5);
  EXPECT_DOUBLE_EQ(c.rate_limits.register_per_ip.rate, 0.1);
  EXPECT_DOUBLE_EQ(c.rate_limits.register_per_ip.burst, 5);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_TRUE(c.log.access);
  // And nothing else differs from a default Config (DescribeConfig lists every key).
  Config d;
  d.source_path = c.source_path;
  d.node = c.node;
  EXPECT_EQ(DescribeConfig(c), DescribeConfig(d));
}

TEST(ConfigTest, DefaultsWhenSectionsAbsent) {
  auto r = Parse(kMinimal);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->node.name, "acme.test");
  EXPECT_EQ(r->node.data_dir, "./var/acme");  // relative: kept as written
  ExpectDefaults(*r);
}

TEST(ConfigTest, EmptySectionsAndEmptyValuesMeanDefaults) {
  auto r = Parse(std::string(kMinimal) +
                 "http:\n"
                 "federation:\n"
                 "  policy:\n"
                 "  allow: ~\n"
                 "rate_limits:\n"
                 "  per_ip:\n"
                 "log: {}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ExpectDefaults(*r);
}

TEST(ConfigTest, AcceptedSpellings) {
  auto r = Parse(std::string(kMinimal) +
                 "http:\n  listen: localhost:0\n  threads: +64\n"
                 "federation:\n  listen: tcp://*:7000\n"
                 "rate_limits:\n  enabled: YES\n  per_ip: {rate: .25, burst: 1}\n"
                 "log:\n  access: 0\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->http.listen, "localhost:0");
  EXPECT_EQ(r->http.threads, 64);
  EXPECT_EQ(r->federation.listen, "tcp://*:7000");
  EXPECT_TRUE(r->rate_limits.enabled);
  EXPECT_DOUBLE_EQ(r->rate_limits.per_ip.rate, 0.25);
  EXPECT_DOUBLE_EQ(r->rate_limits.per_ip.burst, 1);
  EXPECT_FALSE(r->log.access);
}

TEST(ConfigTest, ValidServerNames) {
  for (const char* name : {"localhost", "acme.test", "a-b.c0.test", "acme.test:1", "acme.test:65535",
                           "127.0.0.1:8448", "xn--bcher-kva.example"}) {
    auto r = Parse(std::string("node:\n  name: \"") + name + "\"\n  data_dir: d\n");
    EXPECT_TRUE(r.ok()) << name << ": " << r.error().message;
  }
}

// ---------------------------------------------------------------------------
// Errors, each with its exact position

TEST(ConfigTest, SyntaxError) {
  EXPECT_EQ(ErrorWith("http:\n  trusted_proxies: [10.0.0.1,\n"),
            "node.yaml:6:1: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(ErrorOf("node:\n  name: acme.test\n   data_dir: x\n"),
            "node.yaml:3:12: invalid YAML: illegal map value");
}

TEST(ConfigTest, WrongType) {
  EXPECT_EQ(ErrorWith("http:\n  threads: lots\n"),
            "node.yaml:5:12: http.threads: expected an integer from 1 to 64, got \"lots\"");
  EXPECT_EQ(ErrorWith("http:\n  threads: 2.5\n"),
            "node.yaml:5:12: http.threads: expected an integer from 1 to 64, got \"2.5\"");
  EXPECT_EQ(ErrorWith("http:\n  threads: \"4\"\n"),
            "node.yaml:5:12: http.threads: expected an integer from 1 to 64, got the quoted string \"4\" "
            "(remove the quotes)");
  EXPECT_EQ(ErrorWith("http:\n  threads: [1]\n"),
            "node.yaml:5:12: http.threads: expected an integer from 1 to 64, got a list");
  EXPECT_EQ(ErrorWith("log:\n  access: maybe\n"),
            "node.yaml:5:11: log.access: expected true or false, got \"maybe\"");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_user:\n    rate: fast\n"),
            "node.yaml:6:11: rate_limits.per_user.rate: expected a number > 0, got \"fast\"");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_user:\n    rate: .inf\n"),
            "node.yaml:6:11: rate_limits.per_user.rate: expected a number > 0, got \".inf\"");
  EXPECT_EQ(ErrorWith("http:\n  trusted_proxies: 10.0.0.1\n"),
            "node.yaml:5:20: http.trusted_proxies: expected a list of strings, got \"10.0.0.1\"");
  EXPECT_EQ(ErrorWith("federation:\n  deny: [[a.test]]\n"),
            "node.yaml:5:10: federation.deny: expected a server name (lowercase DNS name, optionally :port), "
            "got a list");
  EXPECT_EQ(ErrorWith("federation:\n  resolve: [a.test]\n"),
            "node.yaml:5:12: federation.resolve: expected a mapping of a server name (lowercase DNS name, "
            "optionally :port) to an http:// or https:// URL, got a list");
  EXPECT_EQ(ErrorWith("database:\n  pg_bin_dir: {a: b}\n"),
            "node.yaml:5:15: database.pg_bin_dir: expected a string, got a mapping");
  EXPECT_EQ(ErrorWith("http: 8080\n"),
            "node.yaml:4:7: http: expected a section (a mapping of keys), got \"8080\"");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_ip: 5\n"),
            "node.yaml:5:11: rate_limits.per_ip: expected a section (a mapping of keys), got \"5\"");
  EXPECT_EQ(ErrorOf("- node\n"), "node.yaml:1:1: expected a mapping of sections (node, http, ...), got a list");
}

TEST(ConfigTest, OutOfRange) {
  EXPECT_EQ(ErrorWith("http:\n  threads: 65\n"),
            "node.yaml:5:12: http.threads: expected an integer from 1 to 64, got \"65\"");
  EXPECT_EQ(ErrorWith("http:\n  threads: 0\n"),
            "node.yaml:5:12: http.threads: expected an integer from 1 to 64, got \"0\"");
  EXPECT_EQ(ErrorWith("http:\n  max_body_bytes: 99999999999999999999\n"),
            "node.yaml:5:19: http.max_body_bytes: expected an integer from 1024 to 1073741824, got "
            "\"99999999999999999999\"");
  EXPECT_EQ(ErrorWith("limits:\n  max_upload_bytes: 4294967297\n"),
            "node.yaml:5:21: limits.max_upload_bytes: expected an integer from 1 to 4294967296, got "
            "\"4294967297\"");
  EXPECT_EQ(ErrorWith("database:\n  connect_timeout_s: -1\n"),
            "node.yaml:5:22: database.connect_timeout_s: expected an integer from 1 to 600, got \"-1\"");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_ip:\n    rate: 0\n"),
            "node.yaml:6:11: rate_limits.per_ip.rate: expected a number > 0, got \"0\"");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_ip:\n    burst: 0.5\n"),
            "node.yaml:6:12: rate_limits.per_ip.burst: expected a number >= 1, got \"0.5\"");
}

TEST(ConfigTest, BadEnum) {
  EXPECT_EQ(ErrorWith("federation:\n  policy: closed\n"),
            "node.yaml:5:11: federation.policy: expected open or allowlist, got \"closed\"");
  EXPECT_EQ(ErrorWith("registration:\n  mode: Open\n"),
            "node.yaml:5:9: registration.mode: expected open, invite or closed, got \"Open\"");
  EXPECT_EQ(ErrorWith("log:\n  level: verbose\n"),
            "node.yaml:5:10: log.level: expected debug, info, warn or error, got \"verbose\"");
}

TEST(ConfigTest, UnknownKeys) {
  EXPECT_EQ(ErrorWith("htp:\n  listen: 1.2.3.4:80\n"), "node.yaml:4:1: unknown key \"htp\" at top level");
  EXPECT_EQ(ErrorWith("http:\n  listen: 127.0.0.1:80\n  listn: 1\n"),
            "node.yaml:6:3: unknown key \"listn\" in section http");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_ip:\n    rate: 1\n    brust: 2\n"),
            "node.yaml:7:5: unknown key \"brust\" in section rate_limits.per_ip");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_ipp: {rate: 1}\n"),
            "node.yaml:5:3: unknown key \"per_ipp\" in section rate_limits");
  // A known key at the wrong level is unknown there.
  EXPECT_EQ(ErrorWith("threads: 4\n"), "node.yaml:4:1: unknown key \"threads\" at top level");
  EXPECT_EQ(ErrorWith("rate_limits:\n  rate: 4\n"),
            "node.yaml:5:3: unknown key \"rate\" in section rate_limits");
}

TEST(ConfigTest, DuplicateKeys) {
  EXPECT_EQ(ErrorWith("http:\n  threads: 2\n  workers: 3\n  threads: 4\n"),
            "node.yaml:7:3: duplicate key \"threads\" in section http");
  EXPECT_EQ(ErrorWith("log:\n  level: info\nlog:\n  level: debug\n"),
            "node.yaml:6:1: duplicate key \"log\" at top level");
  EXPECT_EQ(ErrorWith("rate_limits:\n  per_ip: {rate: 1, rate: 2}\n"),
            "node.yaml:5:21: duplicate key \"rate\" in section rate_limits.per_ip");
  EXPECT_EQ(ErrorWith("federation:\n  resolve:\n    b.test: http://x\n    b.test: http://y\n"),
            "node.yaml:7:5: duplicate key \"b.test\" in federation.resolve");
}

TEST(ConfigTest, MissingRequiredKeys) {
  EXPECT_EQ(ErrorOf(""), "node.yaml: node.name is required");
  EXPECT_EQ(ErrorOf("# only a comment\n"), "node.yaml: node.name is required");
  EXPECT_EQ(ErrorOf("http:\n  threads: 2\n"), "node.yaml: node.name is required");
  EXPECT_EQ(ErrorOf("http:\n  threads: 2\nnode:\n  data_dir: x\n"), "node.yaml:3:1: node.name is required");
  EXPECT_EQ(ErrorOf("node:\n  name: acme.test\n"), "node.yaml:1:1: node.data_dir is required");
  EXPECT_EQ(ErrorOf("node:\n  name:\n  data_dir: x\n"), "node.yaml:1:1: node.name is required");
  EXPECT_EQ(ErrorOf("node:\n  name: acme.test\n  data_dir: \"\"\n"),
            "node.yaml:3:13: node.data_dir: expected a non-empty directory path, got \"\"");
}

TEST(ConfigTest, BadServerName) {
  const std::string expect = "expected a server name (lowercase DNS name, optionally :port), got ";
  for (const char* name : {"Acme.test", "acme_test", "-acme.test", "acme-.test", "acme..test", ".acme",
                           "acme.test:0", "acme.test:65536", "acme.test:080", "acme.test:", "acme test",
                           "@alice:acme.test", "acme.test:80:80"}) {
    EXPECT_EQ(ErrorOf(std::string("node:\n  name: \"") + name + "\"\n  data_dir: d\n"),
              "node.yaml:2:9: node.name: " + expect + "\"" + name + "\"")
        << name;
  }
  EXPECT_EQ(ErrorOf(std::string("node:\n  name: ") + std::string(64, 'a') + ".test\n  data_dir: d\n"),
            "node.yaml:2:9: node.name: " + expect + "\"" + std::string(64, 'a') + ".test\"");
  EXPECT_EQ(ErrorWith("federation:\n  allow: [a.test, B.test]\n"),
            "node.yaml:5:19: federation.allow: " + expect + "\"B.test\"");
  EXPECT_EQ(ErrorWith("federation:\n  resolve:\n    Beta.test: http://x\n"),
            "node.yaml:6:5: federation.resolve: " + expect + "\"Beta.test\"");
}

TEST(ConfigTest, BadListen) {
  const std::string http = "expected host:port (IPv4, [IPv6] or hostname; port 0 to 65535), got ";
  for (const char* listen : {"8080", ":8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:http",
                             "::1:8080", "[::1]", "[::1]8080", "[nope]:80", "999.1.1.1:80", "host name:80",
                             "tcp://127.0.0.1:8080"}) {
    EXPECT_EQ(ErrorWith(std::string("http:\n  listen: \"") + listen + "\"\n"),
              "node.yaml:5:11: http.listen: " + http + "\"" + listen + "\"")
        << listen;
  }
  for (const char* listen : {"0.0.0.0:80", "[::]:8080", "[::1]:0", "my-host:65535"}) {
    auto r = Parse(std::string(kMinimal) + "http:\n  listen: \"" + listen + "\"\n");
    EXPECT_TRUE(r.ok()) << listen << ": " << r.error().message;
  }
  const std::string fed = "expected tcp://host:port (port 0 to 65535), got ";
  for (const char* listen : {"127.0.0.1:7000", "udp://127.0.0.1:7000", "tcp://127.0.0.1", "tcp://:7000"}) {
    EXPECT_EQ(ErrorWith(std::string("federation:\n  listen: ") + listen + "\n"),
              "node.yaml:5:11: federation.listen: " + fed + "\"" + listen + "\"")
        << listen;
  }
}

TEST(ConfigTest, BadListItemsAndUrls) {
  EXPECT_EQ(ErrorWith("http:\n  trusted_proxies:\n    - 10.0.0.1\n    - 10.0.0.0/8\n"),
            "node.yaml:7:7: http.trusted_proxies: expected an IP address, got \"10.0.0.0/8\"");
  EXPECT_EQ(ErrorWith("federation:\n  resolve:\n    beta.test: ftp://x\n"),
            "node.yaml:6:16: federation.resolve: expected an http:// or https:// URL, got \"ftp://x\"");
  EXPECT_EQ(ErrorWith("federation:\n  resolve:\n    beta.test: http://\n"),
            "node.yaml:6:16: federation.resolve: expected an http:// or https:// URL, got \"http://\"");
  EXPECT_EQ(ErrorWith("federation:\n  resolve:\n    beta.test:\n"),
            "node.yaml:6:5: federation.resolve: expected an http:// or https:// URL for \"beta.test\", got "
            "nothing");
  EXPECT_EQ(ErrorWith("database:\n  url: mysql\n"),
            "node.yaml:5:8: database.url: expected empty, a postgresql:// URL or a key=value connection "
            "string, got \"mysql\"");
}

TEST(ConfigTest, OnlyOneDocument) {
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "---\nlog:\n  level: info\n"),
            "node.yaml:5:1: only one YAML document is allowed");
}

// yaml-cpp 0.7's LoadAll never returned on these (found by fuzz/config).
TEST(ConfigTest, StrayCommaAtTopLevelIsAnErrorNotAHang) {
  EXPECT_EQ(ErrorOf(","), "node.yaml:1:1: unexpected ',' outside a [...] or {...} collection");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "---\n,\n"), "node.yaml:5:1: only one YAML document is allowed");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + ",\n"), "node.yaml:4:1: invalid YAML: end of map not found");
}

TEST(ConfigTest, MessageQuotesOddValues) {
  EXPECT_EQ(ErrorWith("log:\n  level: \"a\\\"b\\tc\"\n"),
            "node.yaml:5:10: log.level: expected debug, info, warn or error, got \"a\\\"b\\x09c\"");
  EXPECT_EQ(ErrorWith("log:\n  level: " + std::string(100, 'x') + "\n"),
            "node.yaml:5:10: log.level: expected debug, info, warn or error, got \"" + std::string(80, 'x') +
                "...\"");
}

// ---------------------------------------------------------------------------
// Environment overrides

TEST(ConfigTest, EnvOverrides) {
  Env env = {
      {"GROUPCHAT_NODE_NAME", "gamma.test"},
      {"GROUPCHAT_HTTP_LISTEN", "0.0.0.0:9090"},
      {"GROUPCHAT_HTTP_THREADS", "8"},
      {"GROUPCHAT_HTTP_TRUSTED_PROXIES", "10.0.0.1, ::1"},
      {"GROUPCHAT_FEDERATION_ALLOW", "a.test,b.test:8448"},
      {"GROUPCHAT_FEDERATION_DENY", ""},
      {"GROUPCHAT_FEDERATION_RESOLVE", "a.test=http://127.0.0.1:8090, b.test:8448=https://b.example/x"},
      {"GROUPCHAT_DATABASE_URL", "postgresql://u:p@db/gc"},
      {"GROUPCHAT_LIMITS_MAX_UPLOAD_BYTES", "4294967296"},
      {"GROUPCHAT_RATE_LIMITS_ENABLED", "false"},
      {"GROUPCHAT_RATE_LIMITS_PER_IP_RATE", "1000"},
      {"GROUPCHAT_RATE_LIMITS_LOGIN_PER_USERNAME_BURST", "7.5"},
      {"GROUPCHAT_LOG_LEVEL", "warn"},
      {"GROUPCHAT_LOG_ACCESS", "no"},
      {"GROUPCHAT_UNKNOWN_THING", "whatever"},  // ignored
      {"GROUPCHAT_HTTP_LISTN", "whatever"},     // ignored too
  };
  auto r = Parse(std::string(kMinimal) + "federation:\n  deny: [evil.test]\nhttp:\n  threads: 3\n  workers: 5\n",
                 env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->node.name, "gamma.test");
  EXPECT_EQ(r->node.data_dir, "./var/acme");
  EXPECT_EQ(r->http.listen, "0.0.0.0:9090");
  EXPECT_EQ(r->http.threads, 8);
  EXPECT_EQ(r->http.workers, 5);  // from the file
  EXPECT_EQ(r->http.trusted_proxies, (std::vector<std::string>{"10.0.0.1", "::1"}));
  EXPECT_EQ(r->federation.allow, (std::vector<std::string>{"a.test", "b.test:8448"}));
  EXPECT_TRUE(r->federation.deny.empty());  // "" empties the file's list
  EXPECT_EQ(r->federation.resolve, (std::map<std::string, std::string>{
                                       {"a.test", "http://127.0.0.1:8090"},
                                       {"b.test:8448", "https://b.example/x"}}));
  EXPECT_EQ(r->database.url, "postgresql://u:p@db/gc");
  EXPECT_EQ(r->limits.max_upload_bytes, 4294967296LL);
  EXPECT_FALSE(r->rate_limits.enabled);
  EXPECT_DOUBLE_EQ(r->rate_limits.per_ip.rate, 1000);
  EXPECT_DOUBLE_EQ(r->rate_limits.per_ip.burst, 200);
  EXPECT_DOUBLE_EQ(r->rate_limits.login_per_username.burst, 7.5);
  EXPECT_EQ(r->log.level, "warn");
  EXPECT_FALSE(r->log.access);
}

TEST(ConfigTest, EnvBoolSpellings) {
  for (auto [text, want] : std::vector<std::pair<std::string, bool>>{
           {"true", true}, {"TRUE", true}, {"1", true}, {"yes", true}, {"false", false},
           {"False", false}, {"0", false}, {"no", false}}) {
    auto r = Parse(kMinimal, {{"GROUPCHAT_RATE_LIMITS_ENABLED", text}});
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
    EXPECT_EQ(r->rate_limits.enabled, want) << text;
  }
}

TEST(ConfigTest, EnvSuppliesRequiredKeys) {
  auto r = Parse("", {{"GROUPCHAT_NODE_NAME", "acme.test"}, {"GROUPCHAT_NODE_DATA_DIR", "/tmp/x"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->node.name, "acme.test");
  EXPECT_EQ(r->node.data_dir, "/tmp/x");
  EXPECT_EQ(ErrorOf("", {{"GROUPCHAT_NODE_NAME", "acme.test"}}), "node.yaml: node.data_dir is required");
}

TEST(ConfigTest, BadEnvValues) {
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_HTTP_THREADS", "x"}}),
            "env GROUPCHAT_HTTP_THREADS: expected an integer from 1 to 64, got \"x\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_HTTP_THREADS", "100"}}),
            "env GROUPCHAT_HTTP_THREADS: expected an integer from 1 to 64, got \"100\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_RATE_LIMITS_ENABLED", "on"}}),
            "env GROUPCHAT_RATE_LIMITS_ENABLED: expected true or false, got \"on\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_RATE_LIMITS_PER_USER_RATE", "0"}}),
            "env GROUPCHAT_RATE_LIMITS_PER_USER_RATE: expected a number > 0, got \"0\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_NODE_NAME", ""}}),
            "env GROUPCHAT_NODE_NAME: expected a server name (lowercase DNS name, optionally :port), got \"\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_FEDERATION_POLICY", "closed"}}),
            "env GROUPCHAT_FEDERATION_POLICY: expected open or allowlist, got \"closed\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_FEDERATION_ALLOW", "a.test,Bad"}}),
            "env GROUPCHAT_FEDERATION_ALLOW: expected a server name (lowercase DNS name, optionally :port), got "
            "\"Bad\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_FEDERATION_ALLOW", "a.test,,b.test"}}),
            "env GROUPCHAT_FEDERATION_ALLOW: empty item in comma-separated list \"a.test,,b.test\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_FEDERATION_RESOLVE", "a.test=http://x,b.test"}}),
            "env GROUPCHAT_FEDERATION_RESOLVE: expected name=url pairs separated by commas, got \"b.test\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_FEDERATION_RESOLVE", "a.test=ftp://x"}}),
            "env GROUPCHAT_FEDERATION_RESOLVE: expected an http:// or https:// URL, got \"ftp://x\"");
  EXPECT_EQ(ErrorOf(kMinimal, {{"GROUPCHAT_FEDERATION_RESOLVE", "a.test=http://x,a.test=http://y"}}),
            "env GROUPCHAT_FEDERATION_RESOLVE: duplicate name \"a.test\"");
  // File errors come first.
  EXPECT_EQ(ErrorWith("http:\n  threads: 0\n", {{"GROUPCHAT_HTTP_THREADS", "4"}}),
            "node.yaml:5:12: http.threads: expected an integer from 1 to 64, got \"0\"");
}

TEST(ConfigTest, GroupchatEnvironmentReadsOnlyGroupchatVariables) {
  ASSERT_EQ(setenv("GROUPCHAT_TEST_CONFIG_VAR", "a=b,c", 1), 0);
  ASSERT_EQ(setenv("NOT_GROUPCHAT_TEST_CONFIG_VAR", "x", 1), 0);
  auto env = GroupchatEnvironment();
  unsetenv("GROUPCHAT_TEST_CONFIG_VAR");
  unsetenv("NOT_GROUPCHAT_TEST_CONFIG_VAR");
  EXPECT_EQ(env["GROUPCHAT_TEST_CONFIG_VAR"], "a=b,c");
  EXPECT_EQ(env.count("NOT_GROUPCHAT_TEST_CONFIG_VAR"), 0u);
  EXPECT_EQ(env.count("PATH"), 0u);
}

// ---------------------------------------------------------------------------
// DescribeConfig

std::string DescribedUrl(const std::string& url) {
  Config c;
  c.node.name = "acme.test";
  c.node.data_dir = "d";
  c.database.url = url;
  YAML::Node n = YAML::Load(DescribeConfig(c));
  return n["database"]["url"].as<std::string>();
}

TEST(ConfigTest, DescribeRedactsDatabasePassword) {
  EXPECT_EQ(DescribedUrl("postgresql://user:s3cret@db.example:5432/gc"),
            "postgresql://user:***@db.example:5432/gc");
  EXPECT_EQ(DescribedUrl("postgres://user:p%40ss@db/gc?sslmode=require"), "postgres://user:***@db/gc?sslmode=require");
  EXPECT_EQ(DescribedUrl("postgresql://user@db/gc?sslmode=disable&password=hunter2&x=1"),
            "postgresql://user@db/gc?sslmode=disable&password=***&x=1");
  EXPECT_EQ(DescribedUrl("postgresql://db/gc"), "postgresql://db/gc");
  EXPECT_EQ(DescribedUrl("host=db user=gc password=hunter2 dbname=gc"), "host=db user=gc password=*** dbname=gc");
  EXPECT_EQ(DescribedUrl("host=db password = 'a b\\' c' dbname=gc"), "host=db password=*** dbname=gc");
  EXPECT_EQ(DescribedUrl("password=x"), "password=***");
  EXPECT_EQ(DescribedUrl("host=db sslpassword=x application_name='a b'"),
            "host=db sslpassword=*** application_name='a b'");
  EXPECT_EQ(DescribedUrl("host=db password"), "***");           // unparseable: hidden entirely
  EXPECT_EQ(DescribedUrl("host=db password='unterminated"), "***");
  EXPECT_EQ(DescribedUrl("postgresql://u:p:q@h/db?password=x#password=y"), "postgresql://u:***@h/db?password=***#password=y");
  EXPECT_EQ(DescribedUrl(""), "");

  Config c;
  c.database.url = "postgresql://user:s3cret@db/gc";
  EXPECT_EQ(DescribeConfig(c).find("s3cret"), std::string::npos);
}

TEST(ConfigTest, DescribeListsEveryKeyAndReadsBack) {
  auto r = Parse(std::string(kMinimal) +
                 "http:\n  trusted_proxies: [\"::1\"]\n"
                 "federation:\n  allow: [b.test]\n  resolve: {b.test: \"http://127.0.0.1:8090\"}\n"
                 "database:\n  url: \"host=x\"\n"
                 "rate_limits:\n  per_ip: {rate: 0.3, burst: 1}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::string text = DescribeConfig(*r);
  EXPECT_EQ(text.substr(0, text.find('\n')), "# effective configuration, loaded from node.yaml");
  EXPECT_NE(text.find("\n  threads: 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n    rate: 0.3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  deny: []\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  pg_bin_dir: \"\"\n"), std::string::npos) << text;
  // The description is itself a valid config that gives the same values.
  auto again = Parse(text);
  ASSERT_TRUE(again.ok()) << again.error().message << "\n" << text;
  EXPECT_EQ(DescribeConfig(*again), text);
  EXPECT_EQ(again->federation.resolve, r->federation.resolve);
  EXPECT_EQ(again->http.trusted_proxies, r->http.trusted_proxies);
  EXPECT_DOUBLE_EQ(again->rate_limits.per_ip.rate, 0.3);
}

// ---------------------------------------------------------------------------
// Files

TEST(ConfigTest, MissingFile) {
  auto r = LoadConfig("/nonexistent/dir/node.yaml", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/nonexistent/dir/node.yaml: cannot read config file (No such file or directory)");
  auto d = LoadConfig("/", {});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message, "/: cannot read config file (Is a directory)");
}

TEST(ConfigTest, LoadsFileAndReportsItsName) {
  std::string path = testing::TempDir() + "config_test_node.yaml";
  {
    std::ofstream f(path);
    f << kMinimal << "http:\n  threads: many\n";
  }
  auto bad = LoadConfig(path, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, path + ":5:12: http.threads: expected an integer from 1 to 64, got \"many\"");
  {
    std::ofstream f(path);
    f << kMinimal;
  }
  auto good = LoadConfig(path, {{"GROUPCHAT_HTTP_THREADS", "3"}});
  std::remove(path.c_str());
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->source_path, path);
  EXPECT_EQ(good->http.threads, 3);
}

// Collects the leaf key paths of a YAML mapping (a key of the table whose
// value is a mapping, federation.resolve, counts as a leaf).
void Leaves(const YAML::Node& node, const std::string& prefix, std::vector<std::string>* out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string path = prefix.empty() ? it->first.as<std::string>() : prefix + "." + it->first.as<std::string>();
    if (it->second.IsMap() && !config::FindKey(path)) {
      Leaves(it->second, path, out);
    } else {
      out->push_back(path);
    }
  }
}

TEST(ConfigTest, ShippedNodeYamlLoadsAndListsEveryKey) {
  const std::string path = std::string(GC_SOURCE_DIR) + "/config/node.yaml";
  auto r = LoadConfig(path, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->node.name, "acme.test");
  EXPECT_EQ(r->node.data_dir, "./var/acme");
  EXPECT_EQ(r->http.listen, "127.0.0.1:8080");
  EXPECT_EQ(r->federation.listen, "tcp://127.0.0.1:7000");
  EXPECT_EQ(r->database.url, "");

  // Every key DescribeConfig knows (that is, every key of Config) is in the file.
  std::vector<std::string> all, shipped;
  Leaves(YAML::Load(DescribeConfig(*r)), "", &all);
  Leaves(YAML::LoadFile(path), "", &shipped);
  EXPECT_EQ(all.size(), config::AllConfigKeys().size());
  EXPECT_EQ(shipped, all);
}

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream f(std::string(GC_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << f.rdbuf();
  return text.str();
}

// ---------------------------------------------------------------------------
// The table of keys

TEST(ConfigTableTest, EveryKeyHasAUniquePathAndEnvironmentName) {
  std::set<std::string> paths, env_names;
  for (const auto& entry : config::AllConfigKeys()) {
    EXPECT_TRUE(paths.insert(entry.path).second) << "key given twice: " << entry.path;
    EXPECT_TRUE(env_names.insert(config::EnvName(entry.path)).second)
        << entry.path << ": its variable " << config::EnvName(entry.path) << " is another key's too";
    EXPECT_FALSE(config::IsSection(entry.path)) << entry.path << " is both a key and a section";
  }
  std::set<std::string> sections;
  for (const auto& section : config::AllConfigSections())
    EXPECT_TRUE(sections.insert(std::string(section.name)).second) << "section given twice: " << section.name;
}

TEST(ConfigTableTest, EveryKeyAndSectionHasOneLineOfDoc) {
  for (const auto& section : config::AllConfigSections()) {
    EXPECT_FALSE(section.doc.empty()) << section.name;
    EXPECT_EQ(section.doc.find('\n'), std::string_view::npos) << section.name;
  }
  for (const auto& entry : config::AllConfigKeys()) {
    std::string_view doc = entry.key->doc;
    ASSERT_FALSE(doc.empty()) << entry.path << " has no doc";
    EXPECT_EQ(doc.find('\n'), std::string_view::npos) << entry.path << ": the doc is one line";
    EXPECT_EQ(doc.find('|'), std::string_view::npos) << entry.path << ": '|' would break the reference table";
    EXPECT_EQ(doc.back(), '.') << entry.path << ": the doc is a sentence";
  }
}

// A default that its own check refused would make every config without the
// key invalid once written out (DescribeConfig) or overridden.
TEST(ConfigTableTest, EveryDefaultPassesItsOwnCheck) {
  const Config defaults;
  for (const auto& entry : config::AllConfigKeys()) {
    if (entry.key->required) continue;
    const config::Field& field = entry.key->field;
    Config scratch;
    if (auto* list = std::get_if<config::ListField>(&field)) {
      for (const auto& item : list->ref(scratch)) EXPECT_TRUE(list->check(item)) << entry.path << ": " << item;
    } else if (auto* map = std::get_if<config::MapField>(&field)) {
      for (const auto& [k, v] : map->ref(scratch)) {
        EXPECT_TRUE(map->key_check(k)) << entry.path << ": " << k;
        EXPECT_TRUE(map->value_check(v)) << entry.path << ": " << v;
      }
    } else {
      std::string text = config::ValueText(entry, defaults);
      if (std::holds_alternative<config::StringField>(field)) text = std::get<config::StringField>(field).ref(scratch);
      EXPECT_EQ(config::ApplyScalar(field, text, scratch), "") << entry.path << " default " << text;
    }
  }
}

TEST(ConfigTableTest, RequiredKeysAreReportedInTableOrder) {
  std::vector<std::string> required;
  for (const auto& entry : config::AllConfigKeys())
    if (entry.key->required) required.push_back(entry.path);
  EXPECT_EQ(required, (std::vector<std::string>{"node.name", "node.data_dir"}));
}

TEST(ConfigTableTest, ReferenceShowsEveryKeyWithTypeDefaultAndBounds) {
  std::string ref = ConfigReference();
  for (const auto& entry : config::AllConfigKeys())
    EXPECT_NE(ref.find("| `" + entry.path + "` |"), std::string::npos) << entry.path;
  EXPECT_NE(ref.find("| `http.threads` | integer | `2` | an integer from 1 to 64 | I/O threads. |"), std::string::npos)
      << ref;
  EXPECT_NE(ref.find("| `node.name` | string | required | a server name"), std::string::npos) << ref;
  EXPECT_NE(ref.find("| `http.web_dir` | string | `web` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("| `database.url` | string | `\"\"` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("| `federation.allow` | list of strings | `[]` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("| `rate_limits.login_per_username.rate` | number | `0.2` | a number > 0 |"), std::string::npos)
      << ref;
  EXPECT_NE(ref.find("| `log.access` | boolean | `true` | true or false |"), std::string::npos) << ref;
}

// docs/config.md is the generator's output: a key added to a table and not
// to the reference fails here.
TEST(ConfigTableTest, DocsConfigMdIsTheGeneratedReference) {
  EXPECT_EQ(ReadSourceFile("docs/config.md"), ConfigReference())
      << "docs/config.md is out of date: regenerate it with `build/groupchat config-doc > docs/config.md`";
}

// Every key line of config/node.yaml has its comment: the lines just above
// it, or, for the keys of a subsection (rate and burst under per_ip), the
// subsection's comment naming them.
TEST(ConfigTableTest, ShippedNodeYamlCommentsEveryKey) {
  std::istringstream in(ReadSourceFile("config/node.yaml"));
  std::string line, comment;  // comment: the comment lines just above
  int number = 0;
  std::map<size_t, std::string> comment_at;  // indentation -> the comment of the last key there
  size_t keys = 0;
  while (std::getline(in, line)) {
    ++number;
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) {
      comment.clear();  // a blank line ends a comment's reach
      continue;
    }
    if (line[indent] == '#') {
      comment += line.substr(indent) + "\n";
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(indent, colon - indent);
    comment_at.erase(comment_at.lower_bound(indent), comment_at.end());
    if (indent > 0) {  // a section needs no comment of its own
      ++keys;
      std::string parent = comment_at.empty() ? "" : comment_at.rbegin()->second;
      EXPECT_TRUE(!comment.empty() || parent.find(name) != std::string::npos)
          << "config/node.yaml:" << number << ": no comment for " << name;
    }
    comment_at[indent] = comment;
    comment.clear();
  }
  EXPECT_GE(keys, config::AllConfigKeys().size());
}

}  // namespace
}  // namespace gc
