// Signed media URLs: short-lived links that let a browser's <video> and
// <audio> elements stream a media item with Range requests, which they
// cannot do with a Bearer header (spec/media.md 5).
//
// A reader who may read an item asks for a link (POST .../url, checked by
// the same rule as a download); the link names the media_id, the reader's
// user id and an expiry, and carries an HMAC-SHA256 of the three under a
// key only this node has (derived from its identity key, so every process
// of a node agrees). A request through the link is checked in this order:
// the signature over exactly these (media_id, user, expiry), the expiry not
// passed and not further ahead than a link's lifetime, then the reader's
// access again (so a quarantine or a lost membership ends a link at once).
// A link is a bearer credential for one item and one reader for a few
// minutes; it grants nothing else and cannot be turned into another.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gc {

class MediaUrlSigner {
 public:
  // How long a link lives. A playback that outlives it asks for a new one
  // (the web client does on the element's error).
  static constexpr int64_t kLifetimeS = 600;

  // `key`: 32 secret bytes.
  explicit MediaUrlSigner(std::string key);
  // The node's signer: its key derived from the node's identity secret key
  // (keyed BLAKE2b of a fixed label), the same in every process of a node.
  static MediaUrlSigner FromNodeKey(const std::string& identity_secret);

  // The signature (base64url) of `media_id` for `user` until `expires_s`
  // (Unix seconds).
  std::string Sign(const std::string& media_id, const std::string& user, int64_t expires_s) const;
  // Whether `sig` is Sign(media_id, user, expires_s) and `now_s` <= expires_s
  // <= now_s + kLifetimeS. Constant time in the signature.
  bool Verify(const std::string& media_id, const std::string& user, int64_t expires_s, std::string_view sig,
              int64_t now_s) const;
  // The path and query of a link: /api/v1/media/{media_id}/signed?u=&exp=&sig=
  std::string Path(const std::string& media_id, const std::string& user, int64_t expires_s) const;

 private:
  std::string key_;
};

}  // namespace gc
