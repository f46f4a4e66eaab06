#include "node/commands.h"

#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "federation/pg_peer_store.h"
#include "federation/verify_group.h"
#include "node/common/log.h"
#include "node/config/config.h"
#include "node/db/migrations.h"
#include "node/db/node_database.h"
#include "node/db/pg.h"
#include "node/identity/node_keys.h"
#include "node/node.h"
#include "services/groups/pg_log_entry_store.h"
#include "services/users/pg_user_store.h"
#include "services/users/user_service.h"

namespace gc {
namespace {

constexpr const char* kUsage = R"(groupchat - a federated group chat node

Usage:
  groupchat serve    --config FILE     start the node (HTTP API, stream, web client, federation)
  groupchat migrate  --config FILE     apply pending database migrations and exit
  groupchat keygen   --config FILE [--rotate]
                                       create the node's keys under data_dir/keys (kept if present);
                                       --rotate replaces the identity key (peers follow it, spec 11)
  groupchat admin create-user   --config FILE --username NAME --password-file F [--admin]
                                [--display-name NAME]      (F may be - for standard input)
  groupchat admin create-invite --config FILE [--uses N] [--expires-in-hours H]
  groupchat admin set-registration --config FILE --mode open|invite|closed
  groupchat admin verify-group  --config FILE GROUP    re-check a group log's hash chain and signatures
                                (exit 1 and the first broken link if it does not hold)
  groupchat config-doc                 print every config key with its type, default and bounds
                                       (Markdown; docs/config.md is this output)
  groupchat --help | --version

Exit codes: 0 success, 1 runtime failure, 2 bad configuration, 64 bad usage.
Environment variables GROUPCHAT_<SECTION>_<KEY> override config keys (see config/node.yaml).
)";

struct Args {
  std::map<std::string, std::string> values;
  std::vector<std::string> flags;
  bool Has(const std::string& f) const {
    for (auto& x : flags) {
      if (x == f) return true;
    }
    return false;
  }
  std::optional<std::string> Get(const std::string& k) const {
    auto it = values.find(k);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

// Parses --key value pairs; names in `bool_flags` take no value.
bool ParseArgs(int argc, char** argv, int start, const std::vector<std::string>& known_values,
               const std::vector<std::string>& bool_flags, Args* out) {
  for (int i = start; i < argc; ++i) {
    std::string a = argv[i];
    bool is_flag = false;
    for (auto& f : bool_flags) is_flag |= (a == f);
    if (is_flag) {
      out->flags.push_back(a);
      continue;
    }
    bool known = false;
    for (auto& k : known_values) known |= (a == k);
    if (!known) {
      std::cerr << "groupchat: unknown option " << a << "\n";
      return false;
    }
    if (i + 1 >= argc) {
      std::cerr << "groupchat: " << a << " needs a value\n";
      return false;
    }
    out->values[a] = argv[++i];
  }
  return true;
}

int LoadConfigOrExit(const Args& args, Config* out) {
  auto path = args.Get("--config");
  if (!path) {
    std::cerr << "groupchat: --config FILE is required\n";
    return kExitUsage;
  }
  auto c = LoadConfig(*path, GroupchatEnvironment());
  if (!c.ok()) {
    std::cerr << c.error().message << "\n";
    return kExitConfig;
  }
  *out = std::move(*c);
  LogLevel level;
  if (ParseLogLevel(out->log.level, &level)) SetLogLevel(level);
  return kExitOk;
}

int Fail(const Error& e) {
  std::cerr << "groupchat: " << e.message << "\n";
  return kExitFailure;
}

int Serve(const Args& args) {
  Config config;
  if (int rc = LoadConfigOrExit(args, &config)) return rc;
  BlockShutdownSignals();
  auto node = Node::Create(std::move(config));
  if (!node.ok()) {
    LogError("cannot start", {{"error", node.error().message}});
    return kExitFailure;
  }
  auto st = (*node)->Serve();
  if (!st.ok()) {
    LogError("serve failed", {{"error", st.error().message}});
    return kExitFailure;
  }
  return kExitOk;
}

int Migrate(const Args& args) {
  Config config;
  if (int rc = LoadConfigOrExit(args, &config)) return rc;
  auto db = NodeDatabase::Open(config, NodeDatabase::Mode::kTool);
  if (!db.ok()) return Fail(db.error());
  auto n = ApplyMigrations((*db)->pool());
  if (!n.ok()) return Fail(n.error());
  std::cout << "applied " << *n << " migration(s); schema is up to date\n";
  return kExitOk;
}

int Keygen(const Args& args) {
  Config config;
  if (int rc = LoadConfigOrExit(args, &config)) return rc;
  bool created = false;
  auto keys = LoadOrCreateNodeKeys(config.node.data_dir, &created);
  if (!keys.ok()) return Fail(keys.error());
  if (args.Has("--rotate")) {
    std::string old_id = keys->key_id;
    keys = RotateIdentityKey(config.node.data_dir);
    if (!keys.ok()) return Fail(keys.error());
    std::cout << "rotated the identity key: " << old_id << " is retired (kept in " << config.node.data_dir
              << "/keys/old to hand over to the new key), the new one is used from the node's next start\n";
  }
  std::cout << (created ? "created" : "kept existing") << " node keys in " << config.node.data_dir << "/keys\n"
            << "identity key (ed25519): " << Base64Url(keys->identity_public) << "\n"
            << "key id: " << keys->key_id << "\n"
            << "transport key (x25519): " << Base64Url(keys->transport_public) << "\n";
  return kExitOk;
}

std::optional<std::string> ReadPasswordFile(const std::string& path) {
  std::string data;
  if (path == "-") {
    std::getline(std::cin, data);
  } else {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::getline(in, data);
  }
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  return data;
}

int Admin(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string sub = argv[2];
  Args args;
  if (sub == "create-user") {
    if (!ParseArgs(argc, argv, 3, {"--config", "--username", "--password-file", "--display-name"}, {"--admin"}, &args)) {
      return kExitUsage;
    }
    if (!args.Get("--username") || !args.Get("--password-file")) {
      std::cerr << "groupchat: create-user needs --username NAME and --password-file FILE\n";
      return kExitUsage;
    }
  } else if (sub == "create-invite") {
    if (!ParseArgs(argc, argv, 3, {"--config", "--uses", "--expires-in-hours"}, {}, &args)) return kExitUsage;
  } else if (sub == "set-registration") {
    if (!ParseArgs(argc, argv, 3, {"--config", "--mode"}, {}, &args)) return kExitUsage;
    if (!args.Get("--mode")) {
      std::cerr << "groupchat: set-registration needs --mode open|invite|closed\n";
      return kExitUsage;
    }
  } else if (sub == "verify-group") {
    // The group address is the one positional argument.
    std::vector<char*> rest;
    std::string group;
    for (int i = 3; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0 && (i == 3 || std::string(argv[i - 1]) != "--config")) group = a;
      else rest.push_back(argv[i]);
    }
    rest.insert(rest.begin(), argv, argv + 3);
    if (group.empty() || !ParseArgs(static_cast<int>(rest.size()), rest.data(), 3, {"--config"}, {}, &args)) {
      std::cerr << "groupchat: verify-group needs --config FILE and a group address like '#eng:acme.test'\n";
      return kExitUsage;
    }
    args.values["group"] = group;
  } else {
    std::cerr << "groupchat: unknown admin command " << sub << "\n" << kUsage;
    return kExitUsage;
  }
  Config config;
  if (int rc = LoadConfigOrExit(args, &config)) return rc;
  auto db = NodeDatabase::Open(config, NodeDatabase::Mode::kTool);
  if (!db.ok()) return Fail(db.error());
  auto applied = ApplyMigrations((*db)->pool());
  if (!applied.ok()) return Fail(applied.error());
  if (sub == "verify-group") {
    bool created = false;
    auto keys = LoadOrCreateNodeKeys(config.node.data_dir, &created);
    if (!keys.ok()) return Fail(keys.error());
    std::map<std::string, std::string> own = {{keys->key_id, keys->identity_public}};
    for (const auto& o : keys->old_keys) own[o.key_id] = o.public_key;
    PgLogEntryStore store((*db)->pool());
    PgPeerStore peers((*db)->pool());
    auto rep = VerifyGroup(store, peers, args.values["group"], config.node.name, own);
    if (!rep.ok()) return Fail(rep.error());
    if (!rep->ok) {
      std::cout << "BROKEN " << rep->group_id << " at seq " << rep->broken_seq
                << (rep->broken_event_id.empty() ? "" : " (" + rep->broken_event_id + ")") << ": " << rep->reason
                << "\n" << rep->checked << " entries before it verified\n";
      return kExitFailure;
    }
    std::cout << "ok " << rep->group_id << ": " << rep->checked << " entries verified (seq " << rep->first_seq
              << ".." << rep->last_seq << "), chain head " << rep->head << "\n";
    return kExitOk;
  }
  PgUserStore user_store((*db)->pool(), config.node.name);
  UserService users(user_store, config.node.name, config.registration.mode, 0,
                    PasswordHashing{.memory_mib = config.sessions.password_hash_memory_mib});

  if (sub == "create-user") {
    auto password = ReadPasswordFile(*args.Get("--password-file"));
    if (!password) {
      std::cerr << "groupchat: cannot read password file " << *args.Get("--password-file") << "\n";
      return kExitUsage;
    }
    auto u = users.CreateUser(*args.Get("--username"), *password, args.Has("--admin"), args.Get("--display-name"));
    sodium_memzero(password->data(), password->size());
    if (!u.ok()) return Fail(u.error());
    std::cout << "created " << ((*u)->is_admin ? "admin " : "user ") << (*u)->user_id << "\n";
    return kExitOk;
  }
  if (sub == "create-invite") {
    std::optional<int> uses;
    std::optional<int64_t> expires;
    if (auto u = args.Get("--uses")) {
      char* end = nullptr;
      long n = std::strtol(u->c_str(), &end, 10);
      if (*end || n < 1 || n > 1000000) {
        std::cerr << "groupchat: --uses must be a number from 1 to 1000000\n";
        return kExitUsage;
      }
      uses = static_cast<int>(n);
    }
    if (auto h = args.Get("--expires-in-hours")) {
      char* end = nullptr;
      long n = std::strtol(h->c_str(), &end, 10);
      if (*end || n < 1 || n > 24 * 3650) {
        std::cerr << "groupchat: --expires-in-hours must be a number from 1 to 87600\n";
        return kExitUsage;
      }
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      expires = now + static_cast<int64_t>(n) * 3600 * 1000;
    }
    auto inv = users.CreateInvite(uses, expires, std::nullopt);
    if (!inv.ok()) return Fail(inv.error());
    std::cout << inv->token << "\n";
    return kExitOk;
  }
  auto st = users.SetRegistrationMode(*args.Get("--mode"));
  if (!st.ok()) {
    std::cerr << "groupchat: " << st.error().message << "\n";
    return st.error().code == ErrorCode::kInvalid ? kExitUsage : kExitFailure;
  }
  std::cout << "registration mode: " << *args.Get("--mode") << "\n";
  return kExitOk;
}

}  // namespace

int RunCommand(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::cerr << "groupchat: libsodium failed to initialize\n";
    return kExitFailure;
  }
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (cmd == "--version") {
    std::cout << "groupchat " << GC_VERSION << "\n";
    return kExitOk;
  }
  if (cmd == "config-doc" && argc == 2) {
    std::cout << ConfigReference();
    return kExitOk;
  }
  if (cmd == "admin") return Admin(argc, argv);
  Args args;
  if (cmd == "serve" || cmd == "migrate" || cmd == "keygen") {
    if (!ParseArgs(argc, argv, 2, {"--config"}, cmd == "keygen" ? std::vector<std::string>{"--rotate"}
                                                                 : std::vector<std::string>{}, &args)) {
      return kExitUsage;
    }
    if (cmd == "serve") return Serve(args);
    if (cmd == "migrate") return Migrate(args);
    return Keygen(args);
  }
  std::cerr << "groupchat: unknown command " << cmd << "\n" << kUsage;
  return kExitUsage;
}

}  // namespace gc
