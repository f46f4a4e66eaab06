// verify-group: re-checks a stored group log (spec/federation.md section 6)
// from the first entry held: seq continuity, each event's id (hash of its
// origin event), content against content_hash (or its erased form), each
// entry's hash and its link to the previous one, the home node's signature
// and, for events of another origin, the origin's signature; finally the
// group's recorded chain head. Stops at the first broken link.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "node/common/result.h"

namespace gc {

class LogEntryStore;
class PeerStore;

struct VerifyReport {
  std::string group_id;
  int64_t first_seq = 0, last_seq = 0, checked = 0;
  std::string head;
  bool ok = true;
  int64_t broken_seq = 0;
  std::string broken_event_id, reason;
};

// `self`: this node's name, `self_keys`: its identity keys, current and
// retired (key id -> 32-byte public key). Keys of other nodes, current and
// retired, come from `peers`; the stored log from `store`.
Result<VerifyReport> VerifyGroup(LogEntryStore& store, PeerStore& peers, const std::string& group_id,
                                 const std::string& self, const std::map<std::string, std::string>& self_keys);

}  // namespace gc
