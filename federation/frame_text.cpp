// The text of frames that carry entries: pushes, snapshots and history
// answers (spec/federation.md 6.2, 8.1, 8.6b). See frame_text.h.
#include "federation/frame_text.h"

#include "services/groups/signed_log/canonical_json.h"

namespace gc::wire {

namespace {

constexpr size_t kMaxPushBytes = 768 * 1024;

}  // namespace

void AppendQuoted(std::string& out, std::string_view s) {
  if (!AppendCanonicalString(out, s).ok()) out += "\"\"";
}

std::string EntryText(const StoredEntry& e, const std::string& group_id) {
  std::string out;
  out.reserve(768 + e.content.size());
  out += "{\"seq\":";
  out += std::to_string(e.seq);
  out += ",\"event_id\":";
  AppendQuoted(out, e.event_id);
  out += ",\"event\":{\"group_id\":";
  AppendQuoted(out, group_id);
  out += ",\"type\":";
  AppendQuoted(out, e.type);
  out += ",\"sender\":";
  AppendQuoted(out, e.sender);
  out += ",\"origin\":";
  AppendQuoted(out, e.origin);
  out += ",\"origin_ts\":";
  out += std::to_string(e.origin_ts);
  out += ",\"nonce\":";
  AppendQuoted(out, e.nonce.value_or(""));
  out += ",\"content_hash\":";
  AppendQuoted(out, e.content_hash.value_or(""));
  if (e.relates_to) {
    out += ",\"relates_to\":";
    AppendQuoted(out, *e.relates_to);
  }
  if (e.origin_signatures) {
    out += ",\"signatures\":";
    out += *e.origin_signatures;
  }
  out += "},\"content\":";
  out += e.content;
  out += ",\"home_ts\":";
  out += std::to_string(e.home_ts.value_or(0));
  out += ",\"prev\":";
  AppendQuoted(out, e.prev_hash.value_or(""));
  out += ",\"signatures\":";
  out += e.signatures ? std::string_view(*e.signatures) : std::string_view("{}");
  out += '}';
  return out;
}

void TrimToFrame(std::vector<WireEntry>& list, bool keep_latest) {
  size_t bytes = 0, keep = 0;
  for (; keep < list.size(); ++keep) {
    bytes += list[keep_latest ? list.size() - 1 - keep : keep].text.size() + 1;
    if (bytes > kMaxPushBytes && keep > 0) break;
  }
  if (keep == list.size()) return;
  if (keep_latest) list.erase(list.begin(), list.begin() + static_cast<long>(list.size() - keep));
  else list.erase(list.begin() + static_cast<long>(keep), list.end());
}

std::string EntriesBody(const std::string& group_id, const std::vector<WireEntry>& entries,
                        const std::string& state_text) {
  size_t n = 64 + state_text.size();
  for (const auto& e : entries) n += e.text.size() + 1;
  std::string out;
  out.reserve(n);
  out += "{\"group_id\":";
  AppendQuoted(out, group_id);
  if (!state_text.empty()) {
    out += ",\"state\":";
    out += state_text;
  }
  out += ",\"entries\":[";
  for (size_t k = 0; k < entries.size(); ++k) {
    if (k) out += ',';
    out += entries[k].text;
  }
  out += "]}";
  return out;
}

}  // namespace gc::wire
