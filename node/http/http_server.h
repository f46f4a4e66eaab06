// HttpServer: the node's one listening port (Boost.Beast on Asio).
//
// Serves HTTP/1.1 with keep-alive and pipelining (requests on a connection are
// read and answered strictly one after another, so responses keep their
// order), an idle timeout between requests, a header timeout once a request
// has started, a connection limit, and body limits checked from
// Content-Length before any body byte is read. After a 413 (or any framing
// error) the connection is closed: the rest of an over-limit body is drained
// and discarded, never parsed as further requests.
//
// Routes marked body_to_file (media uploads) have their body written to a
// temporary file in upload_dir as it arrives, hashed on the way (SHA-256),
// so a 25 MiB upload costs a 64 KiB buffer, not 25 MiB. Responses that carry
// a ResponseFile are streamed from it the same way (downloads, Range).
//
// The connection itself is an HttpSession (http_session.h). Beast is included
// only by node/http/http_server*.{h,cpp}, http_session* and file_bodies.h (it
// is costly to compile), never by this header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/common/result.h"

namespace gc {

class Gateway;
class UpgradeHandler;

struct HttpServerOptions {
  std::string listen;                // host:port (port 0: any free port)
  int threads = 2;                   // I/O threads
  int max_connections = 10000;
  // Connections from one address (HTTP and streams upgraded from them);
  // trusted proxies are not limited (their clients are, by the other limits).
  int max_connections_per_ip = 4096;
  int header_timeout_ms = 10000;
  int idle_timeout_s = 60;
  size_t max_header_bytes = 16384;
  size_t max_any_body = 64 << 20;    // upper bound of every route's body limit
  std::vector<std::string> trusted_proxies;
  UpgradeHandler* stream = nullptr;  // takes WebSocket upgrades of /api/v1/stream (the stream endpoint)
  // Where bodies of body_to_file routes are written (the node creates it).
  // Empty: such bodies are refused with 503.
  std::string upload_dir;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Gateway& gateway);
  ~HttpServer();

  // Binds and listens. Fails with a clear message if the address is taken.
  Status Listen();
  // "127.0.0.1:PORT" actually bound.
  std::string local_endpoint() const;
  // Starts the I/O threads and returns.
  void Start();
  // Graceful stop: no new connections; idle keep-alive connections close;
  // requests in flight are answered (with Connection: close), then the
  // threads stop. Waits up to `grace_ms`.
  void Stop(int grace_ms = 10000);

  int connections() const;

  struct Impl;  // http_server_impl.h (sessions need it)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gc
