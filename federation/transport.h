// Transport: ZeroMQ over TCP with CURVE (spec/federation.md section 7).
//
// One ROUTER socket bound on federation.listen (CURVE server) takes the
// requests of other nodes; one DEALER per peer (CURVE client, pinned to the
// peer's transport key) carries this node's requests to it. The ZAP handler
// admits a connection only if its CURVE key is the transport key of a
// resolved, pinned, admitted peer, and names it (ZAP user id); a DEALER sets
// its server name as routing id, and frames whose routing id is not the
// authenticated name are dropped. A node that has never been contacted
// introduces itself first over HTTP (POST /_federation/v1/hello), so that
// the server resolves and pins it. Answers to requests travel back on the
// same connection (ROUTER -> DEALER).
//
// All sockets live on one I/O thread; Send and Reply are thread-safe and only
// queue. Nothing here is reliable: a ROUTER drops at its high-water mark and
// a peer may be down, so callers resend until acknowledged.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "node/common/result.h"

namespace gc {

class FederationTransport {
 public:
  struct Handlers {
    // ZAP: the admitted peer whose transport key is `public_key` (32 raw
    // bytes), or "" to refuse. Called on the I/O thread: answer from memory.
    std::function<std::string(const std::string& public_key)> admit;
    // A request from `peer` (authenticated by ZAP) on the ROUTER.
    std::function<void(const std::string& peer, std::string frame)> on_request;
    // An answer from `peer` on our DEALER to it.
    std::function<void(const std::string& peer, std::string frame)> on_answer;
  };

  FederationTransport(std::string self_name, std::string public_key, std::string secret_key, size_t max_frame);
  ~FederationTransport();

  // Binds the ROUTER (tcp://host:port, port 0 picks one).
  Status Bind(const std::string& endpoint);
  // The bound endpoint, e.g. tcp://127.0.0.1:7001.
  const std::string& endpoint() const { return endpoint_; }
  void Start(Handlers handlers);
  void Stop();

  // Queues `frame` to `peer` on its DEALER (created on first use, connected to
  // `endpoint`, expecting the server key `server_key`).
  void Send(const std::string& peer, const std::string& endpoint, const std::string& server_key, std::string frame);
  // Queues an answer to `peer` on the ROUTER.
  void Reply(const std::string& peer, std::string frame);
  // Closes the DEALER to `peer` (blocked, or its key changed).
  void Drop(const std::string& peer);

  std::atomic<uint64_t> frames_in{0}, frames_out{0}, zap_denied{0}, oversized{0};

 private:
  struct Command {
    enum Kind { kSend, kReply, kDrop } kind;
    std::string peer, endpoint, server_key, frame;
  };
  void Post(Command c);
  void Loop();
  void HandleZap();
  void HandleRouter();
  void HandleDealer(const std::string& peer, void* socket);
  void RunCommands();
  void* DealerFor(const Command& c);

  std::string self_name_, public_key_, secret_key_;
  size_t max_frame_;
  void* ctx_ = nullptr;
  void* router_ = nullptr;
  void* zap_ = nullptr;
  std::string endpoint_;
  int wake_fd_ = -1;
  Handlers handlers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::deque<Command> commands_;  // GUARDED_BY(mu_)
  struct Dealer {
    void* socket = nullptr;
    std::string endpoint, server_key;
  };
  std::map<std::string, Dealer> dealers_;  // I/O thread only
};

// Z85 text of a 32-byte key (what ZeroMQ's CURVE options take).
std::string Z85Key(const std::string& raw32);

}  // namespace gc
