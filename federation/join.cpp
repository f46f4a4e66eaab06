// Joining a group homed elsewhere, and getting a replica whole again after a
// crash (spec/federation.md 8.2, 8.4, 9.1).
//
// A local user's join of a group this node holds no replica of is recorded
// durably (fed_pending_joins) before the `join` goes to the home: the home's
// snapshot that follows is accepted because of that record, for as long as
// it takes, across restarts, and for any number of concurrent joiners (the
// first snapshot creates the replica; the other joins arrive as entries).
// The request is answered when the replica shows the user joined, with no
// thread waiting meanwhile: the home's refusal, the snapshot or push being
// applied, or the deadline completes it.
//
// A participant commits some pushed entries without waiting for the disk
// (group_log.cpp): after a crash it may hold less than the home believes. At
// start, and whenever a home is reachable again, it asks each home for what
// follows its last entry (`catchup`), and for the snapshot of any group a
// local user asked to join that still has no replica.
#include "federation/federation.h"
#include "federation/wire.h"
#include "node/common/address.h"
#include "node/common/completion.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "services/groups/projections.h"

namespace gc {

using nlohmann::json;
using namespace wire;

namespace {

// The home's answer to a join (spec 10), then the snapshot (8.4).
constexpr std::chrono::milliseconds kJoinAnswerWait{10000}, kJoinWait{20000};

}  // namespace

struct Federation::PendingJoin {
  Once once;
  std::string group_id, user;
  JoinDone done;
};

void Federation::JoinRemote(const UserProfile& me, const std::string& group_id, JoinDone done) {
  auto addr = ParseGroupId(group_id);
  if (!addr) return done(Error::NotFound("no such group"));
  Draft d = EventDraft(me.user_id, "member", {{"user_id", me.user_id}, {"membership", "join"}, {"role", "member"}});
  std::string event_id;
  auto body = SignOrigin(group_id, d, &event_id);
  if (!body.ok()) return done(body.error());
  (*body)["have_replica"] = false;
  // Recorded before the home hears of it: its snapshot is expected from now
  // on, even after a crash of this node.
  auto recorded = store_.RecordPendingJoin(group_id, me.user_id, NowMs());
  if (!recorded.ok()) return done(recorded.error());
  auto join = std::make_shared<PendingJoin>();
  join->group_id = group_id;
  join->user = me.user_id;
  join->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    join_waits_.emplace(group_id, join);
  }
  timers_->After(kJoinWait, [this, join] {
    workers_->Post([this, join] {
      FinishJoin(join, Error::Unavailable("joined, but the group's state has not arrived yet; try again in a moment"));
    });
  });
  CallAsync(addr->server, "join", std::move(*body), kJoinAnswerWait, [this, join](Result<json> answer) {
    if (!answer.ok()) {
      // A refusal is final; without an answer the join may still have been
      // sequenced, so its snapshot stays welcome.
      ErrorCode code = answer.error().code;
      if (code != ErrorCode::kUnavailable && code != ErrorCode::kInternal) {
        (void)store_.ForgetPendingJoin(join->group_id, join->user);
      }
      return FinishJoin(join, answer.error());
    }
    SettleJoins(join->group_id);  // the snapshot may have come before the answer
  });
}

void Federation::SettleJoins(const std::string& group_id) {
  std::vector<std::shared_ptr<PendingJoin>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [from, to] = join_waits_.equal_range(group_id);
    for (auto it = from; it != to; ++it) waiting.push_back(it->second);
  }
  if (waiting.empty()) return;
  auto row = log_.FindByAddress(group_id);
  if (!row.ok()) return;
  std::vector<std::shared_ptr<PendingJoin>> joined;
  (void)log_.Read(*row, [&](const GroupState& s) {
    for (const auto& j : waiting) {
      if (s.IsJoined(j->user)) joined.push_back(j);
    }
    return true;
  });
  for (const auto& j : joined) {
    // The replica holds the join durably now (group_log.cpp flushes events
    // about local users): the record has done its work.
    (void)store_.ForgetPendingJoin(group_id, j->user);
    FinishJoin(j, OkStatus());
  }
}

void Federation::FinishJoin(const std::shared_ptr<PendingJoin>& join, Status status) {
  if (!join->once.Claim()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [from, to] = join_waits_.equal_range(join->group_id);
    for (auto it = from; it != to; ++it) {
      if (it->second == join) {
        join_waits_.erase(it);
        break;
      }
    }
  }
  join->done(std::move(status));
}

Result<std::set<std::string>> Federation::PendingJoiners(const std::string& group_id) {
  return store_.PendingJoiners(group_id);
}

void Federation::RepairReplicas(const std::string& home) {
  auto ask = [this](const std::string& server, const std::string& group_id, int64_t from_seq) {
    Request(server, "catchup", {{"group_id", group_id}, {"from_seq", from_seq}},
            [server, group_id](bool ok, const json& answer) {
              if (!ok) {
                LogWarn("catch-up refused by the home",
                        {{"peer", server}, {"group", group_id}, {"answer", answer.dump()}});
              }
            });
  };
  auto replicas = entries_.LocalReplicas(self_);
  if (replicas.ok()) {
    for (const ReplicaHead& r : *replicas) {
      if (home.empty() || r.home == home) ask(r.home, r.group_id, r.last_seq + 1);
    }
  }
  auto pending = store_.PendingJoinGroups();
  if (pending.ok()) {
    for (const std::string& group_id : *pending) {
      auto held = log_.FindByAddress(group_id);
      if (held.ok() || held.error().code != ErrorCode::kNotFound) continue;  // a replica, or no answer
      std::string server = ServerOf(group_id);
      if (home.empty() || server == home) ask(server, group_id, 0);  // 0: a snapshot
    }
  }
}

}  // namespace gc
