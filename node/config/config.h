// The node's configuration: one typed struct, loaded from one YAML file.
//
// Every key is in the table of keys (config_schema.h, one file per section
// under sections/), documented in config/node.yaml and listed with its type,
// default and bounds in docs/config.md (`groupchat config-doc`). The member
// initializers below are the defaults. LoadConfig validates types, ranges
// and unknown keys, and reports problems as `FILE:LINE:COL: message`.
// Environment variables GROUPCHAT_<SECTION>_<KEY> (e.g. GROUPCHAT_HTTP_LISTEN,
// GROUPCHAT_RATE_LIMITS_PER_IP_RATE) override file values after loading.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "node/common/result.h"

namespace gc {

struct TokenBucketConfig {
  double rate = 0;   // tokens added per second, > 0
  double burst = 0;  // bucket size, >= 1
};

struct Config {
  std::string source_path;  // the file it was loaded from

  struct Node {
    std::string name;       // server name, e.g. acme.test (required)
    std::string data_dir;   // keys, media, embedded database (required)
  } node;

  struct Http {
    std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
    int threads = 2;                        // I/O threads, 1..64
    int workers = 8;                        // threads for blocking work (db), 1..256
    int max_connections = 10000;            // 1..1000000
    int max_connections_per_ip = 4096;      // from one client address (streams included), 1..1000000
    int header_timeout_ms = 10000;          // whole request head must arrive within, 100..600000
    int idle_timeout_s = 60;                // keep-alive idle limit, 1..86400
    int max_body_bytes = 1048576;           // JSON request bodies, 1024..1073741824
    std::vector<std::string> trusted_proxies;  // IPs whose X-Forwarded-For is believed
    std::string web_dir = "web";               // the web client served at /; relative to the working directory
    std::string admin_dir = "admin/web";       // the admin console served at /admin/
  } http;

  struct Federation {
    std::string listen = "tcp://127.0.0.1:7000";
    std::string policy = "open";  // open | allowlist
    std::vector<std::string> allow;
    std::vector<std::string> deny;
    std::map<std::string, std::string> resolve;  // server name -> base URL
    std::string endpoint;         // published in the node document; empty: the bound listen address
    double rate_per_peer = 200;   // frames per second from one peer (token bucket)
    double burst_per_peer = 1000;
  } federation;

  struct Database {
    std::string url;            // empty: embedded cluster under data_dir/pg
    int pool_size = 8;          // 1..256
    int connect_timeout_s = 10; // 1..600
    std::string pg_bin_dir;     // empty: auto-detect /usr/lib/postgresql/<ver>/bin
  } database;

  struct Registration {
    std::string mode = "open";  // open | invite | closed
  } registration;

  struct Limits {
    int64_t max_message_bytes = 16384;       // 1..1048576
    int64_t max_upload_bytes = 26214400;     // 1..4294967296
  } limits;

  struct Media {
    std::string store = "filesystem";          // filesystem | s3
    struct S3 {
      std::string endpoint;                    // http(s)://host[:port] of the S3 service
      std::string bucket;
      std::string region = "us-east-1";
      std::string access_key_id;
      std::string secret_access_key;           // redacted by DescribeConfig
      bool path_style = true;                  // endpoint/bucket/key; false: bucket.endpoint/key
      int timeout_s = 30;                      // whole request, 1..3600
    } s3;
    int64_t max_image_pixels = 40000000;       // width x height x frames, 1..1000000000
    int64_t quota_bytes_per_user = 1073741824; // 0: no quota
    int64_t remote_cache_bytes = 1073741824;   // other nodes' media kept here (federated media)
    int retention_days = 0;                    // 0: keep media forever
    int unreferenced_after_s = 86400;          // uploads no message carries are removed after, 1..31536000
    int sweep_interval_s = 3600;               // how often the sweep runs, 10..86400
    int image_workers = 2;                     // threads decoding images, 1..64
    int image_queue = 16;                      // images waiting; past it uploads get 503, 0..10000
  } media;

  struct Stream {
    int max_connections = 10000;       // open WebSocket streams, 1..1000000
    int send_queue_bytes = 1048576;    // per connection; past it the client is dropped (4001), 4096..268435456
    int max_frame_bytes = 16384;       // largest client frame, 256..1048576
    int idle_timeout_s = 60;           // no traffic (pings are answered automatically): close, 5..3600
    int typing_ttl_s = 5;              // typing notifications expire, 1..60
  } stream;

  struct Sessions {
    int64_t idle_timeout_s = 2592000;  // a session unused this long ends; 0: never, else 3600..315360000
    int password_hash_threads = 2;     // argon2id hashes at once (64 MiB each), 1..64
    int password_hash_queue = 64;      // logins/registrations waiting beyond this get 503, 0..100000
    int password_hash_nice = 10;       // hashing threads run this many nice steps lower, 0..19
    int password_hash_memory_mib = 64;  // argon2id memory per hash, 1..4096 (under 64: tests)
  } sessions;

  struct RateLimits {
    bool enabled = true;
    TokenBucketConfig per_ip{50, 200};              // every API request, by client IP
    TokenBucketConfig per_user{20, 100};            // every authenticated request, by user
    TokenBucketConfig login_per_ip{1, 10};          // login attempts by IP
    TokenBucketConfig login_per_username{0.2, 5};   // login attempts by username
    TokenBucketConfig register_per_ip{0.1, 5};      // registrations by IP
  } rate_limits;

  struct Log {
    std::string level = "info";  // debug | info | warn | error
    bool access = true;          // one JSON line per HTTP request
  } log;

  struct Notifications {
    // Webhook URLs may be http:// and private or loopback addresses (tests).
    bool allow_private_endpoints = false;
    int push_concurrency = 4;  // webhook POSTs in flight at once, 1..64
    // Mail for mentions and replies still unread after delay_s
    // (services/notifications/email_notifier.h); off while smtp_url is empty.
    struct Email {
      std::string smtp_url;    // smtp://host:port or smtps://..., optionally user:password@; redacted in DescribeConfig
      std::string from;        // From header, "GroupChat <chat@acme.test>" (required with smtp_url)
      int delay_s = 300;       // unread this long after it was made: mailed, 0..604800
      std::string public_url;  // base of the links in mails; empty: http://<http.listen>
    } email;
    std::string vapid_subject;  // Web Push VAPID sub: mailto: or https:// ("": https://NODE_NAME)
    int webpush_ttl_s = 86400;  // Web Push TTL header, 0..2419200 (28 days)
  } notifications;
};

// Loads and validates the YAML file at `path`, then applies environment
// overrides from `env` (name -> value; pass the process environment in
// production, a map in tests). On failure the error message is
// `FILE:LINE:COL: message` (or `FILE: message` when no position applies, and
// `env GROUPCHAT_X: message` for a bad override).
Result<Config> LoadConfig(const std::string& path,
                          const std::map<std::string, std::string>& env);

// Same as LoadConfig but from YAML text; `name` stands for the file name in
// error messages.
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& name,
                           const std::map<std::string, std::string>& env);

// The process environment as a map (only GROUPCHAT_* variables).
std::map<std::string, std::string> GroupchatEnvironment();

// The effective configuration as YAML-like text with secrets (database.url
// passwords) redacted, for logs and the admin console.
std::string DescribeConfig(const Config& config);

// scheme://user:PASSWORD@host... -> scheme://user:***@host... (other text as
// it is): smtp_url in the effective config and the admin console.
std::string RedactUrlPassword(const std::string& url);

// The reference of every key (Markdown: section, key, type, default, accepted
// values, one line on what it does), generated from the table of keys;
// `groupchat config-doc` prints it and docs/config.md is its output.
std::string ConfigReference();

}  // namespace gc
