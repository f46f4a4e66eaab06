// HTTP routes of the media service (spec/openapi.yaml, Media):
//   POST /api/v1/media?filename=                 upload (raw body, streamed to disk)
//   GET  /api/v1/media/{server}/{opaque}         download (also as one %2F-encoded segment); another
//                                                node's media is fetched from its origin first (async)
//   GET  /api/v1/media/{server}/{opaque}/thumbnail?size=
//   GET  /api/v1/media/{server}/{opaque}/info    metadata (name, type, size) for file cards
//   POST /api/v1/media/{server}/{opaque}/url     a signed link for <video>/<audio> (media_url.h)
//   GET  /api/v1/media/{server}/{opaque}/signed?u=&exp=&sig=   the bytes through such a link (no token)
//   GET  /api/v1/admin/media, /api/v1/admin/media/uploaders
//   POST, DELETE /api/v1/admin/media/{server}/{opaque}/quarantine
//   POST /api/v1/admin/media/sweep               run the retention sweep now
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "services/media/media_url.h"

namespace gc {

class Router;
class MediaService;

// Records an admin action in the audit log (admin/audit_log.h, wired by the
// node: the media service sits below admin/ and does not include it).
using MediaAudit = std::function<void(const std::string& actor, const std::string& action, const std::string& target,
                                      const std::string& ip, const std::string& request_id,
                                      const nlohmann::json& detail)>;

void AddMediaRoutes(Router& router, MediaService& media, MediaAudit audit, int64_t max_upload_bytes,
                    MediaUrlSigner signer);

}  // namespace gc
