// The search indexer's rounds (services/messaging/pg_search_index_store.h)
// driven directly against a real PostgreSQL, with the ranges chosen by the
// test: new messages go in with a plain INSERT, so a round must still get
// right a range that holds an edit of an older message, the delete of
// another and new messages edited or deleted in the same range; and a round
// over a range another process already indexed must change nothing. The
// rows have no foreign key to events: deleting a group's history must still
// take them along.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "node/db/pg.h"
#include "services/groups/group_log.h"
#include "services/groups/pg_group_store.h"
#include "services/groups/projections.h"
#include "services/messaging/pg_search_index_store.h"
#include "tests/harness/test_postgres.h"
#include "tests/support/group_log_fixture.h"

namespace gc {
namespace {

GC_SQL(kTestSearchWords,
       "SELECT coalesce(e.edit_content ->> 'body', e.content ->> 'body') FROM event_search s "
       "JOIN events e ON e.stream_pos = s.stream_pos WHERE s.search @@ plainto_tsquery('simple', $1) "
       "ORDER BY s.stream_pos");
GC_SQL(kTestSearchRows, "SELECT count(*) FROM event_search");

constexpr const char* kAlice = "@alice:acme.test";

// A public, open group of this node's that Alice creates.
GroupState AlicesGroup(const std::string& address) {
  GroupState init;
  init.address = address;
  init.server = "acme.test";
  init.visibility = "public";
  init.join_rule = "open";
  init.created_by = kAlice;
  return init;
}

class SearchIndexTest : public test::GroupLogTest {
 protected:
  void SetUp() override {
    test::GroupLogTest::SetUp();
    if (HasFatalFailure()) return;
    auto created = log_->Create(AlicesGroup("#search:acme.test"), [](OpContext&) -> Result<std::vector<Draft>> {
      return std::vector<Draft>{
          EventDraft(kAlice, "member", {{"user_id", kAlice}, {"membership", "join"}, {"role", "owner"}})};
    });
    ASSERT_TRUE(created.ok()) << created.error().message;
    row_ = created->front().group_row;
  }

  // Appends one event of `type` and returns it.
  GroupEvent Append(const std::string& type, nlohmann::json content, std::optional<std::string> relates_to = {}) {
    auto r = log_->Submit(row_, [&](OpContext&) -> Result<std::vector<Draft>> {
      return std::vector<Draft>{EventDraft(kAlice, type, content, relates_to)};
    });
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->front() : GroupEvent{};
  }
  GroupEvent Message(const std::string& body) { return Append("message", {{"body", body}}); }
  void Edit(const GroupEvent& m, const std::string& body) {
    Append("message.edit", {{"event_id", m.event_id}, {"body", body}}, m.event_id);
  }
  void Delete(const GroupEvent& m) { Append("message.delete", {{"event_id", m.event_id}}, m.event_id); }

  // The current text of every indexed message matching `words`, in stream order.
  std::vector<std::string> Found(const std::string& words) {
    PgConn c(conninfo_);
    auto r = c.Exec(kTestSearchWords, {words});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    std::vector<std::string> out;
    for (int i = 0; r.ok() && i < r->rows(); ++i) out.push_back(r->text(i, 0));
    return out;
  }
  int64_t Rows() {
    PgConn c(conninfo_);
    auto r = c.Exec(kTestSearchRows);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->int64(0, 0) : -1;
  }

  int64_t row_ = 0;
};

using Texts = std::vector<std::string>;

TEST_F(SearchIndexTest, OneRangeWithAnEditADeleteAndNewMessages) {
  PgSearchIndexStore store(*pool_);
  auto cursor = store.Cursor();
  ASSERT_TRUE(cursor.ok());
  GroupEvent a = Message("alpha wombat"), b = Message("beta wombat");
  auto first = store.IndexRound(*cursor + 1, b.stream_pos);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, b.stream_pos);
  EXPECT_EQ(Found("wombat"), (Texts{"alpha wombat", "beta wombat"}));

  // One range: an older message edited, another deleted, a new one, a new
  // one edited and a new one deleted.
  Edit(a, "alpha quokka");
  Delete(b);
  GroupEvent c = Message("gamma wombat"), d = Message("delta wombat");
  Edit(d, "delta koala");
  GroupEvent e = Message("epsilon wombat");
  Delete(e);
  GroupEvent last = Message("zeta numbat");
  auto second = store.IndexRound(b.stream_pos + 1, last.stream_pos);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, last.stream_pos);
  EXPECT_EQ(Found("wombat"), (Texts{"gamma wombat"}));
  EXPECT_EQ(Found("quokka"), (Texts{"alpha quokka"}));
  EXPECT_EQ(Found("koala"), (Texts{"delta koala"}));
  EXPECT_EQ(Found("epsilon"), Texts{});
  EXPECT_EQ(Found("numbat"), (Texts{"zeta numbat"}));
  EXPECT_EQ(Rows(), 4);  // alpha, gamma, delta, zeta
  auto now = store.Cursor();
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*now, last.stream_pos);
}

// Two processes sharing one database run an indexer each: a round whose
// range the other already indexed moves nothing, fails nothing, and answers
// the cursor to follow.
TEST_F(SearchIndexTest, ARangeAlreadyIndexedElsewhereIsSkipped) {
  PgSearchIndexStore mine(*pool_), theirs(*pool_);
  auto cursor = mine.Cursor();
  ASSERT_TRUE(cursor.ok());
  GroupEvent a = Message("one wombat");
  GroupEvent b = Message("two wombat");
  auto done = theirs.IndexRound(*cursor + 1, b.stream_pos);
  ASSERT_TRUE(done.ok()) << done.error().message;
  auto again = mine.IndexRound(*cursor + 1, a.stream_pos);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, b.stream_pos);
  EXPECT_EQ(Found("wombat"), (Texts{"one wombat", "two wombat"}));
  GroupEvent c = Message("three wombat");
  auto next = mine.IndexRound(*again + 1, c.stream_pos);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(*next, c.stream_pos);
  EXPECT_EQ(Found("wombat"), (Texts{"one wombat", "two wombat", "three wombat"}));
}

// Backfilled history (negative positions, below the cursor) may be stored
// and indexed again: that path keeps upserting.
TEST_F(SearchIndexTest, IndexingARangeAgainInsideATransactionIsHarmless) {
  GroupEvent a = Message("again wombat");
  for (int i = 0; i < 2; ++i) {
    auto st = pool_->Transaction([&](PgConn& c) { return IndexSearchRange(c, a.stream_pos, a.stream_pos); });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  EXPECT_EQ(Found("wombat"), (Texts{"again wombat"}));
}

// An admin deleting a group with its history (PgGroupStore::PurgeHistory)
// takes the group's index rows along (migration messaging/0002's trigger),
// and only the group's.
TEST_F(SearchIndexTest, PurgingAGroupsHistoryTakesItsIndexRows) {
  PgSearchIndexStore store(*pool_);
  auto cursor = store.Cursor();
  ASSERT_TRUE(cursor.ok());
  Message("purged wombat");
  GroupEvent last = Message("purged numbat");
  auto kept = log_->Create(AlicesGroup("#kept:acme.test"), [](OpContext&) -> Result<std::vector<Draft>> {
    return std::vector<Draft>{EventDraft(kAlice, "member", {{"user_id", kAlice}, {"membership", "join"}}),
                              EventDraft(kAlice, "message", {{"body", "kept wombat"}})};
  });
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  auto done = store.IndexRound(*cursor + 1, kept->back().stream_pos);
  ASSERT_TRUE(done.ok()) << done.error().message;
  ASSERT_EQ(Found("wombat"), (Texts{"purged wombat", "kept wombat"}));
  ASSERT_GT(last.stream_pos, 0);
  PgGroupStore groups(*pool_);
  auto purged = groups.PurgeHistory(row_);
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_GE(*purged, 3);
  EXPECT_EQ(Found("wombat"), (Texts{"kept wombat"}));
  EXPECT_EQ(Rows(), 1);
}

}  // namespace
}  // namespace gc
