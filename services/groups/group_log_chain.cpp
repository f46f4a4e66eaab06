// Sequencing: how an event gets its place in a group's hash chain.
//
// On the group's home node the log gives each event its `seq`, its content
// hash and event id (the origin's, when a remote origin's signed event is
// pinned: it must match what this node builds for the action), links it to
// the previous entry (`prev`) and hashes the entry; the writer then signs
// the batch's entries with the node's identity key, several at once
// (entry_signer.h). On a replica the log takes all of that from the home's
// entries, which must continue the chain it holds: verified signatures are
// the federation service's job before they get here; order and continuity
// are checked here. The formats are in signed_log/ (spec/federation.md 4-6).
#include "services/groups/group_log.h"

#include <algorithm>

#include "node/common/encoding.h"
#include "services/groups/signed_log/chain.h"

namespace gc {

Status GroupLog::FollowHomeChain(const GroupState& state, std::vector<Draft>& drafts, const Request& req) {
  // Skip what is held, then the rest must continue the chain.
  auto fresh = std::find_if(drafts.begin(), drafts.end(), [&](const Draft& d) {
    return !d.fixed || !d.fixed->seq || d.fixed->seq > state.last_seq;
  });
  drafts.erase(drafts.begin(), fresh);
  int64_t want = state.last_seq + 1;
  std::string prev = state.head_hash;
  Status chain_ok = OkStatus();
  for (const Draft& d : drafts) {
    if (!d.fixed || d.fixed->seq != want || d.fixed->prev != prev) {
      chain_ok = Error::Conflict("entry " + std::to_string(d.fixed ? d.fixed->seq : 0) +
                                 " does not follow the chain head at seq " + std::to_string(want - 1), "gap");
      break;
    }
    ++want;
    prev = d.fixed->entry_hash;
  }
  if (!req.replica_apply) chain_ok = Error::Invalid("events of a remote group are sequenced by its home node");
  return chain_ok;
}

Status GroupLog::Chain(GroupState& state, const Draft& d, const Request& req, int64_t now, GroupEvent& ev,
                       std::string& entry_bytes) {
  entry_bytes.clear();
  if (state.server != server_name_) {
    // A replica entry, verified by the federation service before it came here.
    const FixedEvent& f = *d.fixed;
    ev.seq = f.seq;
    ev.event_id = f.event_id;
    ev.origin = f.origin;
    ev.origin_ts = f.origin_ts;
    ev.nonce = f.nonce;
    ev.content_hash = f.content_hash;
    ev.home_ts = f.home_ts;
    ev.prev_hash = f.prev;
    ev.entry_hash = f.entry_hash;
    ev.signatures = f.signatures;
    ev.origin_signatures = f.origin_signatures;
    state.last_seq = f.seq;
    state.head_hash = f.entry_hash;
    return OkStatus();
  }
  auto chash = ContentHash(ev.content);
  if (!chash.ok()) return chash.error();
  ChainEvent ce{state.address, ev.type, ev.sender, server_name_, now, NewNonce(), *chash, ev.relates_to};
  if (req.pin) {
    const FixedEvent& pin = *req.pin;
    if (pin.content_hash != *chash) {
      return Error::Invalid("the event's content is not what this node builds for that action (content_hash differs)");
    }
    ce.origin = pin.origin;
    ce.origin_ts = pin.origin_ts;
    ce.nonce = pin.nonce;
    ev.origin_signatures = pin.origin_signatures;
  }
  auto id = EventIdOf(ce);
  if (!id.ok()) return id.error();
  if (req.pin && *id != req.pin->event_id) return Error::Invalid("the event does not match its event_id");
  ev.event_id = *id;
  ev.origin = ce.origin;
  ev.origin_ts = ce.origin_ts;
  ev.nonce = ce.nonce;
  ev.content_hash = *chash;
  ev.seq = state.last_seq + 1;
  ev.home_ts = now;
  ev.prev_hash = state.head_hash;
  auto bytes = CanonicalEntry(state.address, ev.seq, ev.prev_hash, ev.event_id, ev.home_ts);
  if (!bytes.ok()) return bytes.error();
  ev.entry_hash = Base64Url(Sha256(*bytes));
  // Signed with the rest of the batch (entry_signer.h), off the serial path.
  if (!secret_key_.empty()) entry_bytes = std::move(*bytes);
  state.last_seq = ev.seq;
  state.head_hash = ev.entry_hash;
  return OkStatus();
}

}  // namespace gc

