// The WebSocket frame parser (node/stream/ws_frame.h) as the stream session
// drives it: bytes arrive in chunks, are appended to a receive buffer, and
// Next() is called until it needs more, fails or sees a close; consumed bytes
// are dropped from the front. Input: byte 0 picks the message limit (the
// range stream.max_frame_bytes allows, 256..1 MiB), byte 1 the chunk size,
// the rest is what the client sends.
//
// Invariants: consumed <= bytes offered, and 0 unless a frame was taken;
// wanted() <= limit + 14 (the largest header), so the session may reserve it;
// messages fit the limit, control payloads 125 bytes; nothing is returned
// after an error or a close.
#include <algorithm>
#include <string>

#include "fuzz/fuzz_targets.h"
#include "node/common/text.h"
#include "node/stream/ws_frame.h"

namespace gc::fuzz {

int WsFrameTarget(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr size_t kLimits[] = {256, 257, 1000, 16384, 65535, 65536, 65537, 1 << 20};
  const size_t limit = kLimits[data[0] % std::size(kLimits)];
  const size_t chunk = 1 + data[1] % 200;
  const unsigned char* in = data + 2;
  const size_t n = size - 2;

  using Ev = WsFrameParser::Event;
  WsFrameParser parser(limit);
  std::string rx;
  size_t fed = 0;
  while (fed < n) {
    const size_t add = std::min(chunk, n - fed);
    rx.append(reinterpret_cast<const char*>(in + fed), add);
    fed += add;
    for (;;) {
      size_t used = 12345;
      Ev e = parser.Next(reinterpret_cast<const unsigned char*>(rx.data()), rx.size(), &used);
      FUZZ_CHECK(used <= rx.size());
      FUZZ_CHECK(parser.wanted() <= limit + 14);
      if (e.kind == Ev::kNeedMore) {
        FUZZ_CHECK(used == 0);
        FUZZ_CHECK(parser.wanted() == 0 || parser.wanted() > rx.size());
        break;
      }
      FUZZ_CHECK(used >= 6 || e.kind == Ev::kError);  // 2 header bytes + mask key, at least
      rx.erase(0, used);
      switch (e.kind) {
        case Ev::kMessage:
          FUZZ_CHECK(e.payload.size() <= limit);
          FUZZ_CHECK(e.binary || Utf8Length(e.payload));
          break;
        case Ev::kPing:
        case Ev::kPong:
          FUZZ_CHECK(e.payload.size() <= 125);
          break;
        case Ev::kFragment:
          FUZZ_CHECK(e.payload.empty());
          break;
        case Ev::kError:
          FUZZ_CHECK(e.code == 1002 || e.code == 1007 || e.code == 1009);
          return 0;
        case Ev::kClose:
          FUZZ_CHECK(e.code >= 1000 && e.code <= 4999);
          return 0;
        case Ev::kNeedMore:
          break;
      }
    }
  }
  return 0;
}

}  // namespace gc::fuzz
