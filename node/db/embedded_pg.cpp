#include "node/db/embedded_pg.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "node/common/log.h"

namespace gc {
namespace fs = std::filesystem;

namespace {

constexpr int kPgPort = 5432;  // only names the socket file; there is no TCP listener

std::string FindBinDir() {
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(entry.path() / "bin" / "postgres")) candidates.push_back(entry.path() / "bin");
  }
  if (candidates.empty()) return {};
  std::sort(candidates.begin(), candidates.end(), [](const fs::path& a, const fs::path& b) {
    return std::atoi(a.parent_path().filename().c_str()) < std::atoi(b.parent_path().filename().c_str());
  });
  return candidates.back().string();
}

struct RunAs {
  bool drop = false;  // true when root: run as postgres
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<RunAs> ResolveRunAs() {
  RunAs r;
  if (geteuid() != 0) return r;
  struct passwd* pw = getpwnam("postgres");
  if (!pw) {
    return Error::Unavailable(
        "running as root, but there is no 'postgres' user to own the embedded database "
        "(install the postgresql package: make deps)");
  }
  r.drop = true;
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  return r;
}

// In a freshly forked child: become the postgres user if needed, and die with
// the parent.
void PrepareChild(const RunAs& as, pid_t parent, int log_fd) {
  if (as.drop) {
    if (setgroups(0, nullptr) != 0 || setgid(as.gid) != 0 || setuid(as.uid) != 0) _exit(126);
  }
  // Set after setuid: a credential change clears the parent-death signal.
  prctl(PR_SET_PDEATHSIG, SIGQUIT);
  if (getppid() != parent) _exit(125);
  // The node blocks SIGINT/SIGTERM in all threads (it waits for them with
  // sigwait); the child must not inherit that mask or it could not be stopped.
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (log_fd >= 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
  }
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  // Leave the caller's process group so a terminal's Ctrl-C reaches only the
  // node, which then shuts PostgreSQL down in order.
  setpgid(0, 0);
}

pid_t Spawn(const RunAs& as, const std::vector<std::string>& argv, const std::string& log_path) {
  int log_fd = log_path.empty() ? -1 : open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd >= 0 && as.drop) (void)fchown(log_fd, as.uid, as.gid);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    PrepareChild(as, parent, log_fd);
    execv(args[0], args.data());
    _exit(127);
  }
  if (log_fd >= 0) close(log_fd);
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Tail(const std::string& path, size_t max_bytes = 2000) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  if (s.size() > max_bytes) s = s.substr(s.size() - max_bytes);
  return s;
}

// True if user `as` can enter `dir` (and so every parent).
bool CanTraverse(const RunAs& as, const std::string& dir) {
  if (!as.drop) return true;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(as.gid) != 0 || setuid(as.uid) != 0) _exit(2);
    (void)parent;
    _exit(access(dir.c_str(), X_OK | W_OK) == 0 ? 0 : 1);
  }
  return WaitExit(pid) == 0;
}

Status EnsureDir(const std::string& dir, const RunAs& as, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::Unavailable("cannot create " + dir + ": " + ec.message());
  chmod(dir.c_str(), mode);
  if (as.drop && chown(dir.c_str(), as.uid, as.gid) != 0) {
    return Error::Unavailable("cannot give " + dir + " to the postgres user: " + strerror(errno));
  }
  return OkStatus();
}

// Picks where the cluster really lives; see the header comment.
Result<std::string> ResolveClusterDir(const std::string& requested, const RunAs& as) {
  fs::path req = fs::absolute(requested).lexically_normal();
  std::error_code ec;
  if (fs::is_symlink(req, ec)) {
    fs::path target = fs::read_symlink(req, ec);
    if (!ec) return target.string();
  }
  fs::create_directories(req.parent_path(), ec);
  if (ec) return Error::Unavailable("cannot create " + req.parent_path().string() + ": " + ec.message());
  if (!as.drop) return req.string();
  GC_TRY(EnsureDir(req.string(), as, 0700));
  if (CanTraverse(as, req.string())) return req.string();
  // The postgres user cannot reach it (e.g. under /root, mode 0700): keep the
  // cluster in a folder that user owns and leave a symlink behind.
  unsigned char hash[16];
  std::string key = req.string();
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr, 0);
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  std::string alt = std::string("/var/lib/groupchat/clusters/") + hex;
  GC_TRY(EnsureDir("/var/lib/groupchat/clusters", RunAs{}, 0755));
  GC_TRY(EnsureDir(alt, as, 0700));
  fs::remove(req, ec);  // the empty directory made above
  fs::create_directory_symlink(alt, req, ec);
  if (ec) return Error::Unavailable("cannot link " + req.string() + " to " + alt + ": " + ec.message());
  LogInfo("embedded PostgreSQL lives outside the data dir: the postgres user cannot enter it",
          {{"requested", req.string()}, {"cluster", alt}});
  return alt;
}

// Runs argv as `as` and waits for it; `what` names it in the error.
Status Run(const RunAs& as, const std::vector<std::string>& argv, const std::string& what, const std::string& log) {
  pid_t pid = Spawn(as, argv, log);
  if (pid < 0) return Error::Unavailable(std::string("fork failed: ") + strerror(errno));
  int rc = WaitExit(pid);
  if (rc != 0) {
    return Error::Unavailable(what + " failed (exit " + std::to_string(rc) + "); see " + log + ":\n" + Tail(log));
  }
  return OkStatus();
}

Status Initdb(const RunAs& as, const std::string& bin, const std::string& data, const std::string& log) {
  return Run(as,
             {bin + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
              "--no-instructions"},
             "initdb", log);
}

// Options::initdb_template: made by initdb in a directory of its own and
// renamed into place, so that processes starting at once never copy a half
// made template; a process that loses the race drops its own.
Status EnsureTemplate(const RunAs& as, const std::string& bin, const std::string& tmpl, const std::string& log) {
  if (fs::exists(tmpl + "/PG_VERSION")) return OkStatus();
  std::string own = tmpl + ".making-" + std::to_string(getpid());
  GC_TRY(EnsureDir(own, as, 0700));
  GC_TRY(Initdb(as, bin, own, log));
  std::error_code ec;
  fs::rename(own, tmpl, ec);
  if (ec) fs::remove_all(own, ec);  // another process was first
  if (!fs::exists(tmpl + "/PG_VERSION")) return Error::Unavailable("cannot make the cluster template " + tmpl);
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::Start(const Options& options) {
  std::string bin = options.bin_dir.empty() ? FindBinDir() : options.bin_dir;
  if (bin.empty() || !fs::exists(fs::path(bin) / "postgres")) {
    return Error::Unavailable("PostgreSQL server binaries not found (looked in " +
                              (bin.empty() ? std::string("/usr/lib/postgresql/*/bin") : bin) +
                              "); run `make deps` or set database.pg_bin_dir");
  }
  auto as = ResolveRunAs();
  if (!as.ok()) return as.error();
  auto dir = ResolveClusterDir(options.dir, *as);
  if (!dir.ok()) return dir.error();

  std::unique_ptr<EmbeddedPostgres> pg(new EmbeddedPostgres());
  pg->real_dir_ = *dir;
  std::string data = pg->real_dir_ + "/data";
  std::string log = pg->real_dir_ + "/server.log";
  // Unix socket paths are limited to 107 bytes.
  pg->socket_dir_ = pg->real_dir_;
  if (pg->socket_dir_.size() + 20 > 100) {
    char tmpl[] = "/tmp/gc-pgsock-XXXXXX";
    if (!mkdtemp(tmpl)) return Error::Unavailable("cannot create a socket directory in /tmp");
    pg->socket_dir_ = tmpl;
    GC_TRY(EnsureDir(pg->socket_dir_, *as, 0700));
  }

  if (!fs::exists(data + "/PG_VERSION")) {
    GC_TRY(EnsureDir(data, *as, 0700));
    LogInfo("creating embedded PostgreSQL cluster", {{"dir", data}});
    if (options.initdb_template.empty()) {
      GC_TRY(Initdb(*as, bin, data, log));
    } else {
      GC_TRY(EnsureTemplate(*as, bin, options.initdb_template, log));
      GC_TRY(Run(*as, {"/bin/cp", "-a", options.initdb_template + "/.", data}, "copying the cluster template", log));
    }
  }

  // A postmaster left behind (should not happen thanks to PDEATHSIG, but a
  // hard crash of the machine can leave a stale pid file): postgres itself
  // detects a stale file; a live one means another owner, and we refuse.
  std::vector<std::string> argv = {bin + "/postgres", "-D", data, "-k", pg->socket_dir_, "-p", std::to_string(kPgPort),
                                   "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
                                   "-c", "max_connections=200", "-c", "shared_buffers=128MB",
                                   // New WAL segments need not be zero-filled first (a stall
                                   // of its own under load); the file system gives zeros.
                                   "-c", "wal_init_zero=off",
                                   "-c", "logging_collector=off"};
  for (const auto& s : options.settings) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  pg->pid_ = Spawn(*as, argv, log);
  if (pg->pid_ < 0) return Error::Unavailable(std::string("fork failed: ") + strerror(errno));

  std::string ci = pg->conninfo("postgres");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.start_timeout_s);
  while (true) {
    int status = 0;
    pid_t r = waitpid(pg->pid_, &status, WNOHANG);
    if (r == pg->pid_) {
      pg->pid_ = -1;
      return Error::Unavailable("PostgreSQL exited during start; see " + log + ":\n" + Tail(log));
    }
    if (PQping(ci.c_str()) == PQPING_OK) break;
    if (std::chrono::steady_clock::now() > deadline) {
      pg->Stop();
      return Error::Unavailable("PostgreSQL did not become ready in time; see " + log + ":\n" + Tail(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  LogInfo("embedded PostgreSQL ready", {{"dir", data}, {"socket_dir", pg->socket_dir_}});
  return pg;
}

EmbeddedPostgres::~EmbeddedPostgres() { Stop(); }

std::string EmbeddedPostgres::conninfo(const std::string& dbname) const {
  return "host=" + socket_dir_ + " port=" + std::to_string(kPgPort) + " user=postgres dbname=" + dbname;
}

void EmbeddedPostgres::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown: abort sessions, checkpoint, exit
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGQUIT);
      WaitExit(pid_);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

Status EmbeddedPostgres::EnsureDatabase(const std::string& name) {
  PGconn* c = PQconnectdb(conninfo("postgres").c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    return Error::Unavailable("cannot connect to embedded PostgreSQL: " + m);
  }
  const char* params[1] = {name.c_str()};
  PGresult* r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, nullptr, params, nullptr, nullptr, 0);
  bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
  PQclear(r);
  Status st = OkStatus();
  if (!exists) {
    // CREATE DATABASE takes no parameters; quote the identifier properly.
    char* ident = PQescapeIdentifier(c, name.c_str(), name.size());
    std::string sql = std::string("CREATE DATABASE ") + ident + " ENCODING 'UTF8' TEMPLATE template0";
    PQfreemem(ident);
    r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) st = Error::Unavailable(std::string("CREATE DATABASE failed: ") + PQerrorMessage(c));
    PQclear(r);
  }
  PQfinish(c);
  return st;
}

}  // namespace gc
