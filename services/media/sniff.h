// Content sniffing: what an upload is, from its first bytes only. The
// client's Content-Type and file name are never believed.
//
// The answer is the type the node will serve the file as. It is one of the
// four image types the node re-encodes, a short list of passive types
// (PDF, MP4, WebM, Ogg, MP3, WAV, ZIP, plain UTF-8 text), or
// application/octet-stream for everything else, including every active
// type a browser would run: HTML, SVG, XML, JavaScript come out as
// application/octet-stream, never as text/html or image/svg+xml.
#pragma once

#include <string>
#include <string_view>

namespace gc {

struct SniffedType {
  std::string content_type;
  bool image = false;  // one of image/jpeg, image/png, image/webp, image/gif
};

// `head`: the first bytes of the file (up to 4096 are looked at).
SniffedType SniffContentType(std::string_view head);

// Whether downloads of this type may be shown inline (the re-encoded image
// types); everything else is Content-Disposition: attachment.
bool IsInlineImageType(std::string_view content_type);

}  // namespace gc
