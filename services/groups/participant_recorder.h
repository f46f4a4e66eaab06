// ParticipantRecorder: which other servers take part in a group homed here.
//
// A remote user's membership makes their server a participant of the group
// (it needs the group's log, from a snapshot on); losing its last member
// stops it at that event's seq. The group log decides this as it sequences
// a membership event and records it through this interface in that event's
// transaction, so that the record and the log never disagree after a crash.
// Federation implements it over its own table (federation/
// pg_federation_store.cpp), which its pushes to participants read: the group
// log names no table of federation's.
#pragma once

#include <cstdint>
#include <string>

#include "node/common/result.h"

namespace gc {

class PgConn;

class ParticipantRecorder {
 public:
  virtual ~ParticipantRecorder() = default;
  // `server` has a member of group `group_row` (again): it takes part until
  // further notice.
  virtual Status ServerJoined(PgConn& c, int64_t group_row, const std::string& server) = 0;
  // `server`'s last member left at `seq`: it takes part up to that event.
  virtual Status ServerLeft(PgConn& c, int64_t group_row, const std::string& server, int64_t seq) = 0;
};

}  // namespace gc
