// The stream endpoint: creates a WsSession (ws_session.h) for each upgrade.
#include "node/stream/stream_endpoint.h"

#include <memory>

#include "node/stream/stream_hub.h"
#include "node/stream/ws_session.h"

namespace gc {

StreamEndpoint::StreamEndpoint(StreamOptions o, Authenticator& a, StreamSource& s, StreamHub& h, Post p)
    : options(o), auth(a), source(s), hub(h), post_blocking(std::move(p)) {}

void StreamEndpoint::Accept(boost::beast::tcp_stream stream,
                            boost::beast::http::request<boost::beast::http::string_body> req, std::string remote_ip,
                            std::string request_id, std::shared_ptr<void> hold) {
  auto s = std::make_shared<stream_session::WsSession>(*this, std::move(stream), std::move(remote_ip),
                                                       std::move(request_id), std::move(hold));
  s->Start(std::move(req));
}

void StreamEndpoint::CloseAll() { hub.CloseAll(); }

}  // namespace gc
