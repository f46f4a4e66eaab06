#include "node/stream/ws_frame.h"

#include "node/common/text.h"

namespace gc {

namespace {

WsFrameParser::Event Violation(uint16_t code, const char* why) {
  WsFrameParser::Event e;
  e.kind = WsFrameParser::Event::kError;
  e.code = code;
  e.why = why;
  return e;
}

bool ValidCloseCode(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;  // registered and private use
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

}  // namespace

WsFrameParser::Event WsFrameParser::Next(const unsigned char* p, size_t avail, size_t* consumed) {
  *consumed = 0;
  wanted_ = 0;
  if (avail < 2) return {};
  const bool fin = p[0] & 0x80;
  const int rsv = p[0] & 0x70;
  const int op = p[0] & 0x0f;
  const bool masked = p[1] & 0x80;
  uint64_t len = p[1] & 0x7f;
  size_t hdr = 2;
  if (len == 126) {
    if (avail < 4) return {};
    len = (uint64_t{p[2]} << 8) | p[3];
    hdr = 4;
  } else if (len == 127) {
    if (avail < 10) return {};
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    hdr = 10;
    if (len >> 63) return Violation(1002, "64-bit frame length with the top bit set");
  }
  if (rsv) return Violation(1002, "reserved bits set");
  if (!masked) return Violation(1002, "client frames must be masked");
  const bool control = op & 0x8;
  if (control) {
    if (op != 8 && op != 9 && op != 10) return Violation(1002, "unknown opcode");
    if (!fin || len > 125) return Violation(1002, "bad control frame");
  } else {
    if (op != 0 && op != 1 && op != 2) return Violation(1002, "unknown opcode");
    if (op == 0 && !in_message_) return Violation(1002, "continuation without a message");
    if (op != 0 && in_message_) return Violation(1002, "expected a continuation frame");
    // message_.size() <= max_message_ always holds, so this cannot wrap.
    if (len > max_message_ - message_.size()) return Violation(1009, "message too large");
    // Many empty fragments cost no memory but keep a message open for ever.
    if (op == 0 && ++fragments_ > kMaxFragments) return Violation(1009, "too many fragments in one message");
  }
  // From here len <= max(125, max_message_): hdr + 4 + len cannot overflow.
  hdr += 4;
  const size_t total = hdr + static_cast<size_t>(len);
  if (avail < total) {
    wanted_ = total;
    return {};
  }
  const unsigned char* key = p + hdr - 4;
  const unsigned char* body = p + hdr;
  *consumed = total;

  if (control) {
    Event e;
    e.payload.resize(static_cast<size_t>(len));
    for (size_t i = 0; i < len; ++i) e.payload[i] = static_cast<char>(body[i] ^ key[i % 4]);
    if (op == 9) {
      e.kind = Event::kPing;
    } else if (op == 10) {
      e.kind = Event::kPong;
    } else {
      e.kind = Event::kClose;
      e.code = 1000;
      if (len == 1) return Violation(1002, "close frame with a one-byte payload");
      if (len >= 2) {
        e.code = static_cast<uint16_t>((static_cast<unsigned char>(e.payload[0]) << 8) |
                                       static_cast<unsigned char>(e.payload[1]));
        if (!ValidCloseCode(e.code)) return Violation(1002, "invalid close code");
        if (!Utf8Length(std::string_view(e.payload).substr(2))) return Violation(1007, "close reason must be UTF-8");
      }
      e.payload.clear();
    }
    return e;
  }

  if (op != 0) {
    in_message_ = true;
    fragments_ = 0;
    message_binary_ = op == 2;
  }
  const size_t base = message_.size();
  message_.resize(base + static_cast<size_t>(len));
  for (size_t i = 0; i < len; ++i) message_[base + i] = static_cast<char>(body[i] ^ key[i % 4]);
  Event e;
  if (!fin) {
    e.kind = Event::kFragment;
    return e;
  }
  in_message_ = false;
  e.kind = Event::kMessage;
  e.binary = message_binary_;
  e.payload = std::move(message_);
  message_.clear();
  if (!e.binary && !Utf8Length(e.payload)) return Violation(1007, "text messages must be UTF-8");
  return e;
}

}  // namespace gc
