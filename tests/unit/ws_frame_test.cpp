// The WebSocket frame parser against hostile input: wrapped and top-bit
// lengths, oversized and fragmented messages, bad opcodes, bad UTF-8, and
// every frame split at every byte.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "node/stream/ws_frame.h"

namespace gc {
namespace {

using Ev = WsFrameParser::Event;

// A client frame: FIN bit, opcode, masked payload; `len_override` writes a
// 64-bit length field that need not match the payload.
std::string Frame(int opcode, const std::string& payload, bool fin = true, bool mask = true,
                  std::optional<uint64_t> len64 = std::nullopt) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const char m = mask ? static_cast<char>(0x80) : 0;
  if (len64) {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((*len64 >> (8 * i)) & 0xff));
  } else if (payload.size() < 126) {
    f.push_back(static_cast<char>(m | payload.size()));
  } else if (payload.size() < 65536) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    return Frame(opcode, payload, fin, mask, payload.size());
  }
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ (mask ? key[i % 4] : 0)));
  return f;
}

// Feeds all of `bytes` and returns the events until NeedMore (or an error).
std::vector<Ev> Feed(WsFrameParser& p, std::string& buf) {
  std::vector<Ev> out;
  for (int guard = 0; guard < 100000; ++guard) {
    size_t used = 0;
    Ev e = p.Next(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), &used);
    buf.erase(0, used);
    if (e.kind == Ev::kNeedMore) break;
    out.push_back(std::move(e));
    if (out.back().kind == Ev::kError || out.back().kind == Ev::kClose) break;
  }
  return out;
}

std::vector<Ev> FeedAll(WsFrameParser& p, std::string bytes) { return Feed(p, bytes); }

TEST(WsFrameParser, ReassemblesAFragmentedTextMessage) {
  WsFrameParser p(1024);
  auto evs = FeedAll(p, Frame(1, "hel", false) + Frame(9, "hb") + Frame(0, "lo", false) + Frame(0, " you"));
  ASSERT_EQ(evs.size(), 4u);
  EXPECT_EQ(evs[0].kind, Ev::kFragment);
  EXPECT_EQ(evs[1].kind, Ev::kPing);
  EXPECT_EQ(evs[1].payload, "hb");
  EXPECT_EQ(evs[2].kind, Ev::kFragment);
  EXPECT_EQ(evs[3].kind, Ev::kMessage);
  EXPECT_EQ(evs[3].payload, "hello you");
  EXPECT_FALSE(evs[3].binary);
}

TEST(WsFrameParser, RefusesAContinuationWhoseLengthWouldWrapTheSizeCheck) {
  // The frame that killed the node: a fragment, then a continuation whose
  // length is close to 2^64 (top bit clear, so only the limit can refuse it).
  WsFrameParser p(16384);
  std::string bytes = Frame(1, "abc", false) + Frame(0, "", true, true, (uint64_t{1} << 63) - 2);
  auto evs = FeedAll(p, bytes);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[1].kind, Ev::kError);
  EXPECT_EQ(evs[1].code, 1009);
  EXPECT_EQ(p.wanted(), 0u);
}

TEST(WsFrameParser, RefusesA64BitLengthWithTheTopBitSet) {
  for (uint64_t len : {~uint64_t{0}, uint64_t{1} << 63, ~uint64_t{0} - 2}) {
    WsFrameParser p(16384);
    auto evs = FeedAll(p, Frame(1, "", true, true, len));
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].kind, Ev::kError);
    EXPECT_EQ(evs[0].code, 1002);
  }
}

TEST(WsFrameParser, RefusesAMessageOverTheLimitBeforeBufferingIt) {
  WsFrameParser p(100);
  std::string head = Frame(1, std::string(101, 'x')).substr(0, 8);  // header and mask only
  auto evs = FeedAll(p, head);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].code, 1009);
  // Exactly at the limit is fine, in one frame or in fragments.
  WsFrameParser q(100);
  EXPECT_EQ(FeedAll(q, Frame(1, std::string(100, 'x')))[0].kind, Ev::kMessage);
  auto evs2 = FeedAll(q, Frame(1, std::string(60, 'x'), false) + Frame(0, std::string(41, 'x')));
  ASSERT_EQ(evs2.size(), 2u);
  EXPECT_EQ(evs2[1].code, 1009);
}

TEST(WsFrameParser, AsksForNoMoreThanTheLimitWhileAFrameIsIncomplete) {
  WsFrameParser p(1000);
  std::string f = Frame(2, std::string(900, 'b'));
  std::string part = f.substr(0, 20);
  EXPECT_TRUE(FeedAll(p, part).empty());
  EXPECT_EQ(p.wanted(), f.size());
  EXPECT_LE(p.wanted(), 1000u + 14);
}

TEST(WsFrameParser, RefusesProtocolViolations) {
  struct Case {
    std::string bytes;
    uint16_t code;
  } cases[] = {
      {Frame(1, "x", true, false), 1002},                        // unmasked
      {std::string("\xC1\x80\0\0\0\0", 6), 1002},                // RSV1 without an extension
      {Frame(3, "x"), 1002},                                     // reserved data opcode
      {Frame(11, "x"), 1002},                                    // reserved control opcode
      {Frame(9, "x", false), 1002},                              // fragmented ping
      {Frame(9, std::string(126, 'p')), 1002},                   // ping over 125 bytes
      {Frame(0, "x"), 1002},                                     // continuation without a message
      {Frame(1, "a", false) + Frame(1, "b"), 1002},              // new message inside a message
      {Frame(1, "\xff\xfe"), 1007},                              // text that is not UTF-8
      {Frame(1, "\xed\xa0\x80"), 1007},                          // a UTF-16 surrogate
      {Frame(8, "\x03"), 1002},                                  // close with one byte
      {Frame(8, std::string("\x03\xed", 2)), 1002},              // close code 1005 (reserved)
      {Frame(8, std::string("\x03\xe8\xff", 3)), 1007},          // close reason not UTF-8
  };
  for (const auto& c : cases) {
    WsFrameParser p(1024);
    auto evs = FeedAll(p, c.bytes);
    ASSERT_FALSE(evs.empty());
    EXPECT_EQ(evs.back().kind, Ev::kError);
    EXPECT_EQ(evs.back().code, c.code) << evs.back().why;
  }
}

TEST(WsFrameParser, ReadsCloseCodes) {
  WsFrameParser p(1024);
  auto evs = FeedAll(p, Frame(8, std::string("\x0f\xa1", 2) + "bye"));
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].kind, Ev::kClose);
  EXPECT_EQ(evs[0].code, 4001);
  WsFrameParser q(1024);
  EXPECT_EQ(FeedAll(q, Frame(8, ""))[0].code, 1000);
}

TEST(WsFrameParser, EndsAFloodOfEmptyFragments) {
  WsFrameParser p(1024);
  std::string bytes = Frame(1, "", false);
  for (int i = 0; i < WsFrameParser::kMaxFragments + 1; ++i) bytes += Frame(0, "", false);
  auto evs = FeedAll(p, bytes);
  EXPECT_EQ(evs.back().kind, Ev::kError);
  EXPECT_EQ(evs.back().code, 1009);
  EXPECT_EQ(static_cast<int>(evs.size()), WsFrameParser::kMaxFragments + 2);
}

TEST(WsFrameParser, GivesTheSameEventsWhateverTheReadBoundaries) {
  std::string stream = Frame(1, "h\xc3\xa9", false) + Frame(10, "") + Frame(0, std::string(300, 'z')) +
                       Frame(2, std::string(70000, '\x01')) + Frame(9, "ping");
  WsFrameParser whole(100000);
  auto expected = FeedAll(whole, stream);
  ASSERT_EQ(expected.size(), 5u);
  for (size_t step : {1u, 2u, 3u, 7u, 13u, 4096u}) {
    WsFrameParser p(100000);
    std::string buf;
    std::vector<Ev> got;
    for (size_t i = 0; i < stream.size(); i += step) {
      buf += stream.substr(i, step);
      for (auto& e : Feed(p, buf)) got.push_back(std::move(e));
    }
    ASSERT_EQ(got.size(), expected.size()) << "step " << step;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].kind, expected[i].kind);
      EXPECT_EQ(got[i].payload, expected[i].payload);
    }
  }
}

}  // namespace
}  // namespace gc
