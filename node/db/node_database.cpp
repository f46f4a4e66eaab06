#include "node/db/node_database.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "node/common/log.h"
#include "node/config/config.h"
#include "node/db/embedded_pg.h"
#include "node/db/pg.h"

namespace gc {
namespace fs = std::filesystem;

constexpr const char* kDatabaseName = "groupchat";

Result<std::unique_ptr<NodeDatabase>> NodeDatabase::Open(const Config& config, Mode mode) {
  std::unique_ptr<NodeDatabase> db(new NodeDatabase());
  std::error_code ec;
  fs::create_directories(config.node.data_dir, ec);
  if (ec) return Error::Unavailable("cannot create data_dir " + config.node.data_dir + ": " + ec.message());
  std::string data_dir = fs::absolute(config.node.data_dir).lexically_normal().string();

  std::string lock_path = data_dir + "/node.lock";
  db->lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (db->lock_fd_ < 0) return Error::Unavailable("cannot open " + lock_path + ": " + strerror(errno));
  bool locked = flock(db->lock_fd_, LOCK_EX | LOCK_NB) == 0;
  if (!locked && mode == Mode::kServe) {
    return Error::Conflict("another groupchat node is already running on data_dir " + data_dir +
                           " (lock " + lock_path + ")");
  }
  if (locked && mode == Mode::kServe) {
    std::string pid = std::to_string(getpid()) + "\n";
    (void)ftruncate(db->lock_fd_, 0);
    (void)pwrite(db->lock_fd_, pid.data(), pid.size(), 0);
  }

  std::string conninfo = config.database.url;
  int pool_size = mode == Mode::kServe ? config.database.pool_size : 2;
  if (conninfo.empty()) {
    db->socket_file_ = data_dir + "/pg.socket";
    if (locked) {
      EmbeddedPostgres::Options o;
      o.dir = data_dir + "/pg";
      o.bin_dir = config.database.pg_bin_dir;
      auto pg = EmbeddedPostgres::Start(o);
      if (!pg.ok()) return pg.error();
      db->embedded_ = std::move(*pg);
      GC_TRY(db->embedded_->EnsureDatabase(kDatabaseName));
      conninfo = db->embedded_->conninfo(kDatabaseName);
      std::ofstream(db->socket_file_) << db->embedded_->socket_dir() << "\n";
    } else {
      // A node is running: use its cluster.
      std::ifstream in(db->socket_file_);
      std::string sock;
      std::getline(in, sock);
      if (sock.empty()) return Error::Unavailable("a node holds " + lock_path + " but did not record its database socket");
      conninfo = "host=" + sock + " port=5432 user=postgres dbname=" + kDatabaseName;
    }
  }
  auto pool = PgPool::Create(conninfo, pool_size, config.database.connect_timeout_s);
  if (!pool.ok()) return pool.error();
  db->pool_ = std::move(*pool);
  return db;
}

NodeDatabase::~NodeDatabase() {
  pool_.reset();
  if (embedded_) {
    embedded_->Stop();
    std::error_code ec;
    fs::remove(socket_file_, ec);
  }
  if (lock_fd_ >= 0) close(lock_fd_);
}

}  // namespace gc
