// UpgradeHandler: who takes over a connection that asks for a WebSocket
// upgrade on the stream path (/api/v1/stream).
//
// The stream endpoint (node/stream/) implements it and the composition root
// hands it to the HTTP server, so that the stream depends on the HTTP layer
// and not both ways (docs/architecture.md). Only code that speaks Beast
// includes this header.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <string>

namespace gc {

class UpgradeHandler {
 public:
  virtual ~UpgradeHandler() = default;
  // Takes over an upgrade request's connection. Runs on the connection's
  // strand. `hold` is kept as long as the connection lives (the HTTP server's
  // per-address connection count).
  virtual void Accept(boost::beast::tcp_stream stream,
                      boost::beast::http::request<boost::beast::http::string_body> req, std::string remote_ip,
                      std::string request_id, std::shared_ptr<void> hold) = 0;
};

}  // namespace gc
