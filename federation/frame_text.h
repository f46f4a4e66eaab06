// The text of frames that carry entries: pushes, snapshots and history
// answers (spec/federation.md 6.2, 8.1, 8.6b), and the quoting every frame
// the federation service writes uses. Entries travel already serialized
// (WireEntry): a push of 500 entries is assembled by appending
// their text, never by building and dumping a JSON tree. Shared by the parts
// of the federation service (federation.cpp, home_push.cpp, requests.cpp);
// not a public interface.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "services/groups/log_entry_store.h"  // StoredEntry

namespace gc {

// An entry in its wire form (spec/federation.md 6.2), serialized.
struct WireEntry {
  int64_t seq;
  std::string text;
};

}  // namespace gc

namespace gc::wire {

// At most this many entries in one push, snapshot or history answer (spec 8.1).
inline constexpr int kPushBatch = 500;

// Appends `s` as a JSON string. The text comes from PostgreSQL or this node,
// valid UTF-8; should it ever not be, the entry carries "" there and the
// peer refuses it (its hashes no longer match) rather than a broken frame.
void AppendQuoted(std::string& out, std::string_view s);

// The wire form of a stored entry of group `group_id` (spec 6.2): its JSON
// columns are copied as PostgreSQL printed them, nothing is parsed.
std::string EntryText(const StoredEntry& e, const std::string& group_id);

// Drops entries from `list` until it fits a frame (768 KiB of entries, at
// least one entry kept): from the end, or with `keep_latest` from the start.
void TrimToFrame(std::vector<WireEntry>& list, bool keep_latest);

// {"group_id": ..., ["state": ...,] "entries": [...]}: `state_text` is a
// serialized object, or "" for none.
std::string EntriesBody(const std::string& group_id, const std::vector<WireEntry>& entries,
                        const std::string& state_text = "");

}  // namespace gc::wire
