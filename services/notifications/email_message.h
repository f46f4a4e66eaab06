// One missed-mentions mail: its text (RFC 5322 + MIME) and its delivery over
// SMTP (libcurl).
//
// Header injection is impossible by construction, not by hoping inputs are
// clean: every header value that carries text from users (display names,
// group titles) passes through HeaderText, which turns control characters
// (CR and LF included) into spaces and encodes anything but printable ASCII
// as RFC 2047 encoded-words; the recipient is a validated ASCII addr-spec
// (ValidateEmail); From comes from the config, where line breaks are
// refused. The body, which carries message text with its own line breaks,
// is base64 (Content-Transfer-Encoding), so no line of it can end the
// headers, start an SMTP command or a lone ".".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gc {

// One notification in a mail.
struct MailItem {
  std::string kind;  // mention | reply
  std::string group_id;
  std::string group_title;
  std::string sender;
  std::string sender_display_name;
  std::string body_preview;
  std::string link;  // opens the message in the web client
};

struct Mail {
  std::string from;  // the From header as configured ("GroupChat <chat@acme.test>")
  std::string to;    // a validated addr-spec
  std::string node_name;
  std::vector<MailItem> items;  // oldest first, at least one
  std::string unsubscribe_url;
  std::string message_id;  // without <>; the same for a retry of the same mail
  int64_t date_ms = 0;
};

// `s` made safe for an unstructured header value: control characters become
// spaces, at most `max_chars` code points are kept, and a value with
// anything but printable ASCII becomes RFC 2047 encoded-words (UTF-8, B),
// folded so no line exceeds 78 characters.
std::string HeaderText(std::string_view s, size_t max_chars);

// The whole message, CRLF line endings.
std::string ComposeMail(const Mail& mail);

// The addr-spec of a From value: between < and > if present, else the whole
// (trimmed) value.
std::string EnvelopeAddress(const std::string& from);

struct SmtpOutcome {
  bool ok = false;
  bool permanent = false;  // the server refused for good (5xx): do not retry
  int code = 0;            // the last SMTP reply code, 0 if none
  std::string error;
};

// Sends `message` to `to` through `smtp_url` (smtp:// or smtps://;
// credentials in the URL's user info). STARTTLS is used when the server
// offers it on smtp://. Bounded: 10 s to connect, `timeout_s` for the whole
// exchange. Blocking; call from a worker thread.
SmtpOutcome SendSmtp(const std::string& smtp_url, const std::string& envelope_from, const std::string& to,
                     const std::string& message, int timeout_s);

}  // namespace gc
