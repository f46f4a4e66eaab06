// WsFrameParser: the client-to-server half of RFC 6455 framing, as a pure
// function of the bytes received, with no I/O and no allocation beyond the
// message being reassembled.
//
// Why it is separate: the stream session used to parse frames inline, and a
// client-chosen 64-bit length wrapped a size check there and killed the node
// (a std::length_error out of an Asio handler). Parsing untrusted lengths is
// the one place where arithmetic must be done with care, so it lives here,
// where the unit tests and the libFuzzer target (fuzz/ws_frame_fuzz.cpp)
// drive it with every kind of hostile input.
//
// Rules enforced (each failure is an Event of kind kError with the close code
// RFC 6455 section 7.4.1 asks for):
//   - the 64-bit length has its top bit clear (5.2); a non-minimal length
//     encoding is accepted (the RFC asks senders for it, not receivers);
//   - client frames are masked (5.1), reserved bits are clear (no extension
//     is negotiated);
//   - opcodes are 0, 1, 2 (data) or 8, 9, 10 (control); control frames are
//     final and carry at most 125 bytes (5.5);
//   - a message (all fragments together) is at most max_message_bytes, checked
//     before any byte of an over-long frame is buffered, without overflow;
//   - at most kMaxFragments continuation frames make one message;
//   - continuation frames only inside a fragmented message, and no new data
//     frame before the previous message ended (5.4);
//   - a close frame's code is valid (7.4) and its reason UTF-8; text messages
//     are valid UTF-8 (8.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gc {

class WsFrameParser {
 public:
  struct Event {
    enum Kind {
      kNeedMore,  // the next frame is not complete yet: read more, then call again
      kFragment,  // a non-final fragment was taken in: call again
      kMessage,   // a whole data message (payload, binary)
      kPing,      // payload: the ping's application data (<= 125 bytes)
      kPong,      // an unsolicited or answering pong: ignore
      kClose,     // the peer closes with `code` (1000 when it gave none)
      kError,     // protocol error: fail the connection with `code`, reason `why`
    };
    Kind kind = kNeedMore;
    std::string payload;
    bool binary = false;
    uint16_t code = 0;
    const char* why = "";
  };

  static constexpr int kMaxFragments = 1024;

  explicit WsFrameParser(size_t max_message_bytes) : max_message_(max_message_bytes) {}

  // Parses at most one frame from data[0, size). Sets *consumed to the bytes
  // used (0 with kNeedMore; the caller keeps them and appends more). After a
  // kError or kClose, the parser must not be called again.
  Event Next(const unsigned char* data, size_t size, size_t* consumed);

  // Bytes the frame in progress needs in total (header + payload), once its
  // header has been read and accepted; 0 otherwise. Never more than the
  // message limit plus a header, so a caller may reserve it.
  size_t wanted() const { return wanted_; }

 private:
  size_t max_message_;
  std::string message_;  // fragments of a message being reassembled
  bool in_message_ = false;
  bool message_binary_ = false;
  int fragments_ = 0;
  size_t wanted_ = 0;
};

}  // namespace gc
