#include "services/notifications/email_message.h"

#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <ctime>
#include <memory>

namespace gc {

namespace {

std::string Base64(std::string_view raw) {
  std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// Length of the UTF-8 sequence starting with `c` (1 for stray bytes).
size_t SeqLen(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}

std::string RfcDate(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string Who(const MailItem& i) {
  return i.sender_display_name.empty() ? i.sender : i.sender_display_name + " (" + i.sender + ")";
}

std::string GroupName(const MailItem& i) { return i.group_title.empty() ? i.group_id : i.group_title; }

std::string Subject(const Mail& m) {
  if (m.items.size() == 1) {
    const MailItem& i = m.items.front();
    std::string who = i.sender_display_name.empty() ? i.sender : i.sender_display_name;
    return who + (i.kind == "reply" ? " replied to you in " : " mentioned you in ") + GroupName(i);
  }
  return std::to_string(m.items.size()) + " unread mentions and replies on " + m.node_name;
}

std::string BodyText(const Mail& m) {
  std::string t = "You have " + std::to_string(m.items.size()) + " unread " +
                  (m.items.size() == 1 ? "mention or reply" : "mentions and replies") + " on " + m.node_name + ".\n";
  for (const auto& i : m.items) {
    t += "\n" + Who(i) + (i.kind == "reply" ? " replied to you in " : " mentioned you in ") + GroupName(i) + " (" +
         i.group_id + "):\n";
    // Quoted line by line: the text may hold line breaks of its own.
    std::string_view rest = i.body_preview;
    while (true) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      t += "> ";
      t += line;
      t += "\n";
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
    t += "Open: " + i.link + "\n";
  }
  t += "\n-- \nYou get this mail because you were mentioned or answered while away.\n"
       "Stop these mails: " + m.unsubscribe_url + "\n";
  return t;
}

}  // namespace

std::string HeaderText(std::string_view s, size_t max_chars) {
  std::string clean;
  size_t chars = 0;
  bool ascii = true;
  for (size_t i = 0; i < s.size() && chars < max_chars;) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = std::min(SeqLen(c), s.size() - i);
    if (c < 0x20 || c == 0x7F) {
      clean += ' ';
    } else {
      if (c >= 0x80) ascii = false;
      clean.append(s.substr(i, n));
    }
    i += n;
    ++chars;
  }
  if (ascii) return clean;
  // Encoded-words of at most 45 bytes of text each (60 in base64, 72 with
  // the frame), split between characters, on folded lines.
  std::string out;
  for (size_t i = 0; i < clean.size();) {
    size_t end = i;
    while (end < clean.size()) {
      size_t n = SeqLen(static_cast<unsigned char>(clean[end]));
      if (end + n - i > 45) break;
      end += n;
    }
    if (end == i) end = std::min(clean.size(), i + 1);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(std::string_view(clean).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string EnvelopeAddress(const std::string& from) {
  size_t lt = from.rfind('<'), gt = from.rfind('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) return from.substr(lt + 1, gt - lt - 1);
  size_t a = from.find_first_not_of(" \t"), b = from.find_last_not_of(" \t");
  return a == std::string::npos ? "" : from.substr(a, b - a + 1);
}

std::string ComposeMail(const Mail& m) {
  std::string h;
  auto header = [&](const char* name, const std::string& value) { h += std::string(name) + ": " + value + "\r\n"; };
  header("From", HeaderText(m.from, 256));
  header("To", m.to);
  header("Subject", HeaderText(Subject(m), 200));
  header("Date", RfcDate(m.date_ms));
  header("Message-ID", "<" + HeaderText(m.message_id, 200) + ">");
  header("MIME-Version", "1.0");
  header("Content-Type", "text/plain; charset=UTF-8");
  header("Content-Transfer-Encoding", "base64");
  header("Auto-Submitted", "auto-generated");
  // RFC 2369 and RFC 8058: mail clients offer a one-click unsubscribe that
  // POSTs to the same URL.
  header("List-Unsubscribe", "<" + HeaderText(m.unsubscribe_url, 900) + ">");
  header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  std::string b64 = Base64(BodyText(m));
  std::string body;
  for (size_t i = 0; i < b64.size(); i += 76) body += b64.substr(i, 76) + "\r\n";
  return h + "\r\n" + body;
}

namespace {

struct Upload {
  const std::string* text;
  size_t pos = 0;
};

size_t ReadMessage(char* buf, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t len = std::min(size * n, u->text->size() - u->pos);
  std::copy_n(u->text->data() + u->pos, len, buf);
  u->pos += len;
  return len;
}

}  // namespace

SmtpOutcome SendSmtp(const std::string& smtp_url, const std::string& envelope_from, const std::string& to,
                     const std::string& message, int timeout_s) {
  SmtpOutcome out;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    out.error = "curl_easy_init failed";
    return out;
  }
  CURL* c = curl.get();
  Upload up{&message};
  std::string from = "<" + envelope_from + ">";
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + to + ">").c_str());
  curl_easy_setopt(c, CURLOPT_URL, smtp_url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadMessage);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_s) * 1000L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(rcpt);
  out.code = static_cast<int>(code);
  if (rc == CURLE_OK) {
    out.ok = true;
    return out;
  }
  // A 5xx refuses this mail for good (a bad recipient); login failures are
  // the node's configuration, worth retrying once it is fixed.
  out.permanent = code >= 500 && code <= 599 && code != 530 && code != 534 && code != 535 && code != 538;
  out.error = std::string(curl_easy_strerror(rc)) + (code ? " (SMTP " + std::to_string(code) + ")" : "");
  return out;
}

}  // namespace gc
