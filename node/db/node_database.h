// Opens the node's database: the configured server (database.url) or the
// embedded cluster under data_dir/pg, plus the data-dir lock.
//
// `serve` holds an exclusive lock on data_dir/node.lock for its lifetime, so
// a second node on the same data dir is refused. Other commands (migrate,
// admin ...) take the lock when they can and start the embedded cluster
// themselves; when a node is running they use its cluster through the socket
// directory it records in data_dir/pg.socket.
#pragma once

#include <memory>
#include <string>

#include "node/common/result.h"

namespace gc {

struct Config;
class EmbeddedPostgres;
class PgPool;

class NodeDatabase {
 public:
  enum class Mode { kServe, kTool };
  static Result<std::unique_ptr<NodeDatabase>> Open(const Config& config, Mode mode);
  ~NodeDatabase();

  PgPool& pool() { return *pool_; }
  bool embedded() const { return embedded_ != nullptr; }

 private:
  NodeDatabase() = default;
  int lock_fd_ = -1;
  std::string socket_file_;
  std::unique_ptr<EmbeddedPostgres> embedded_;
  std::unique_ptr<PgPool> pool_;
};

}  // namespace gc
