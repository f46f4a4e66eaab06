// The missed-mention mail's text: header values can never break a line,
// non-ASCII becomes RFC 2047 encoded-words, the body is base64 (so message
// text cannot end the headers or an SMTP DATA block), and the profile's
// email check admits only plain addresses.
#include <gtest/gtest.h>

#include "services/notifications/email_message.h"
#include "services/users/user_service.h"

namespace gc {
namespace {

TEST(EmailMessage, HeaderTextTurnsLineBreaksAndControlsIntoSpaces) {
  EXPECT_EQ(HeaderText("Room\r\nBcc: x@y.test\x01\x7f", 100), "Room  Bcc: x@y.test  ");
  EXPECT_EQ(HeaderText("abcdef", 3), "abc");
}

TEST(EmailMessage, HeaderTextEncodesNonAsciiAsFoldedEncodedWords) {
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "é\n";
  std::string h = HeaderText(long_text, 1000);
  EXPECT_EQ(h.rfind("=?UTF-8?B?", 0), 0u) << h;
  // Lines are folded (CRLF + space) and each is short; no bare line break.
  size_t start = 0;
  while (true) {
    size_t crlf = h.find("\r\n", start);
    std::string line = h.substr(start, crlf == std::string::npos ? std::string::npos : crlf - start);
    EXPECT_LE(line.size(), 78u) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
    if (crlf == std::string::npos) break;
    EXPECT_EQ(h[crlf + 2], ' ');
    start = crlf + 2;
  }
}

TEST(EmailMessage, ComposedMailKeepsUserTextOutOfTheHeaders) {
  Mail m;
  m.from = "GroupChat <chat@acme.test>";
  m.to = "bob@example.test";
  m.node_name = "acme.test";
  m.unsubscribe_url = "https://chat.acme.test/api/v1/email/unsubscribe?token=abc";
  m.message_id = "gc-missed.1.1@acme.test";
  m.date_ms = 1700000000000;
  m.items.push_back({"mention", "#eng:acme.test", "Eng\r\nBcc: v@x.test", "@eve:acme.test",
                     "Eve\r\nX-Evil: 1", "hi\r\n.\r\nQUIT\r\n\r\nBcc: v@x.test", "https://chat.acme.test/?x"});
  std::string text = ComposeMail(m);
  size_t end = text.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  std::string headers = text.substr(0, end + 2);
  EXPECT_EQ(headers.find("\r\nBcc:"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("\r\nX-Evil:"), std::string::npos) << headers;
  EXPECT_NE(headers.find("Subject: Eve  X-Evil: 1 mentioned you in Eng  Bcc: v@x.test\r\n"), std::string::npos)
      << headers;
  EXPECT_NE(headers.find("Content-Transfer-Encoding: base64\r\n"), std::string::npos);
  // The body is base64 lines only: no ".", no blank line, no header.
  std::string body = text.substr(end + 4);
  for (char c : body) {
    EXPECT_TRUE(c == '\r' || c == '\n' || isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')
        << int(c);
  }
}

TEST(EmailMessage, EnvelopeAddressIsTheAngleAddrOrTheWholeValue) {
  EXPECT_EQ(EnvelopeAddress("GroupChat <chat@acme.test>"), "chat@acme.test");
  EXPECT_EQ(EnvelopeAddress("  chat@acme.test "), "chat@acme.test");
}

TEST(EmailMessage, ProfileEmailMustBeAPlainAddress) {
  for (const char* ok : {"bob@example.test", "a.b+tag@mail.example.org", "x_y-z@a-b.c"}) {
    EXPECT_TRUE(ValidateEmail(ok).ok()) << ok;
  }
  for (const char* bad : {"", "bob", "bob@", "@x.test", "a@b", "a@@b.test", "a b@c.test", "a@b.test\r\nBcc: c@d.test",
                          "a@b.test,c@d.test", "<a@b.test>", ".a@b.test", "a..b@c.test", "a@-b.test", "a@b..test",
                          "é@b.test"}) {
    EXPECT_FALSE(ValidateEmail(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace gc
