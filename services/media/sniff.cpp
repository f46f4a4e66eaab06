#include "services/media/sniff.h"

#include <algorithm>
#include <cctype>

#include "node/common/text.h"

namespace gc {

namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(0, p.size()) == p; }

// Markup a browser might render or run, looked for case-insensitively after
// leading whitespace and a UTF-8 byte order mark.
bool LooksLikeMarkup(std::string_view head) {
  if (StartsWith(head, "\xEF\xBB\xBF")) head.remove_prefix(3);
  while (!head.empty() && std::isspace(static_cast<unsigned char>(head.front()))) head.remove_prefix(1);
  std::string lower(head.substr(0, 512));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!lower.empty() && lower.front() == '<') return true;  // <!doctype, <html, <svg, <?xml, <script ...
  for (const char* tag : {"<html", "<script", "<svg", "<body", "<iframe", "<head", "<?xml", "<!doctype"}) {
    if (lower.find(tag) != std::string::npos) return true;
  }
  return false;
}

// Valid UTF-8 (a cut multi-byte sequence at the very end is fine: `head`
// may end mid-character) without NUL or other control bytes.
bool LooksLikeText(std::string_view head) {
  if (head.empty()) return false;
  size_t i = 0;
  while (i < head.size()) {
    unsigned char c = static_cast<unsigned char>(head[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    int n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0 || c == 0xC0 || c == 0xC1 || c > 0xF4) return false;
    for (int k = 1; k <= n; ++k) {
      if (i + k >= head.size()) return head.size() >= 4096;  // cut by the sniff window
      if ((static_cast<unsigned char>(head[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace

SniffedType SniffContentType(std::string_view h) {
  if (h.size() > 4096) h = h.substr(0, 4096);
  if (StartsWith(h, "\xFF\xD8\xFF")) return {"image/jpeg", true};
  if (StartsWith(h, "\x89PNG\r\n\x1A\n")) return {"image/png", true};
  if (StartsWith(h, "GIF87a") || StartsWith(h, "GIF89a")) return {"image/gif", true};
  if (h.size() >= 12 && StartsWith(h, "RIFF") && h.substr(8, 4) == "WEBP") return {"image/webp", true};
  if (h.size() >= 12 && StartsWith(h, "RIFF") && h.substr(8, 4) == "WAVE") return {"audio/wav", false};
  if (StartsWith(h, "%PDF-")) return {"application/pdf", false};
  if (h.size() >= 12 && h.substr(4, 4) == "ftyp") {
    std::string_view brand = h.substr(8, 4);
    if (brand == "qt  ") return {"video/quicktime", false};
    if (brand == "M4A " || brand == "M4B ") return {"audio/mp4", false};
    return {"video/mp4", false};
  }
  if (StartsWith(h, "\x1A\x45\xDF\xA3")) return {"video/webm", false};
  if (StartsWith(h, "OggS")) return {"audio/ogg", false};
  if (StartsWith(h, "ID3") || (h.size() >= 2 && static_cast<unsigned char>(h[0]) == 0xFF &&
                               (static_cast<unsigned char>(h[1]) & 0xE0) == 0xE0)) {
    return {"audio/mpeg", false};
  }
  if (StartsWith(h, "PK\x03\x04")) return {"application/zip", false};
  if (LooksLikeMarkup(h)) return {"application/octet-stream", false};
  if (LooksLikeText(h)) return {"text/plain; charset=utf-8", false};
  return {"application/octet-stream", false};
}

bool IsInlineImageType(std::string_view t) {
  return t == "image/jpeg" || t == "image/png" || t == "image/webp" || t == "image/gif";
}

}  // namespace gc
