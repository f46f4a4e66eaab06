// The group log's group commit, driven directly against a real PostgreSQL:
// what shares one batch must behave as if each request ran alone. A test
// holds the writer inside an operation, queues the requests it wants in one
// batch, then lets go: the writer takes everything queued as its next batch.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/db/pg.h"
#include "services/groups/group_log.h"
#include "services/groups/projections.h"
#include "tests/harness/test_postgres.h"
#include "tests/support/group_log_fixture.h"
#include "tests/support/node_test.h"

namespace gc {
namespace {

GC_SQL(kTestGroupSeqs, "SELECT seq, content->>'body', txn_id FROM events WHERE group_id = $1 ORDER BY seq");

constexpr const char* kAlice = "@alice:acme.test";

// An answer that arrives on another thread.
struct Pending {
  std::promise<Result<std::vector<GroupEvent>>> p;
  std::future<Result<std::vector<GroupEvent>>> f = p.get_future();
  SubmitDone done() {
    return [this](Result<std::vector<GroupEvent>> r) { p.set_value(std::move(r)); };
  }
};

Operation Message(const std::string& body, std::optional<std::string> txn = std::nullopt) {
  return [body, txn](OpContext& ctx) -> Result<std::vector<Draft>> {
    if (!ctx.group.IsJoined(kAlice)) return Error::Forbidden("not a member");
    Draft d = EventDraft(kAlice, "message", {{"body", body}});
    d.txn_id = txn;
    return std::vector<Draft>{d};
  };
}

class GroupLogBatchTest : public test::GroupLogTest {
 protected:
  void SetUp() override {
    test::GroupLogTest::SetUp();
    if (HasFatalFailure()) return;
    GroupState init;
    init.address = "#batch:acme.test";
    init.server = "acme.test";
    init.visibility = "public";
    init.join_rule = "open";
    init.created_by = kAlice;
    auto created = log_->Create(init, [](OpContext&) -> Result<std::vector<Draft>> {
      return std::vector<Draft>{
          EventDraft(kAlice, "member", {{"user_id", kAlice}, {"membership", "join"}, {"role", "owner"}})};
    });
    ASSERT_TRUE(created.ok()) << created.error().message;
    row_ = created->front().group_row;
  }

  // Holds the writer inside an operation until Release(); returns once it is
  // held, so that whatever is queued next goes into one batch.
  void HoldWriter() {
    std::promise<void> entered;
    auto in = entered.get_future();
    gate_ = std::make_shared<std::promise<void>>();
    auto gate = gate_->get_future().share();
    log_->SubmitAsync(row_, [&entered, gate](OpContext&) -> Result<std::vector<Draft>> {
      entered.set_value();
      gate.wait();
      return std::vector<Draft>{};
    }, [](Result<std::vector<GroupEvent>>) {});
    in.wait();
  }
  void Release() { gate_->set_value(); }

  std::vector<std::tuple<int64_t, std::string, std::string>> Stored() {
    PgConn c(conninfo_);
    auto r = c.Exec(kTestGroupSeqs, {row_});
    EXPECT_TRUE(r.ok());
    std::vector<std::tuple<int64_t, std::string, std::string>> out;
    for (int i = 0; r.ok() && i < r->rows(); ++i) {
      out.emplace_back(r->int64(i, 0), r->is_null(i, 1) ? "" : r->text(i, 1), r->is_null(i, 2) ? "" : r->text(i, 2));
    }
    return out;
  }

  std::shared_ptr<std::promise<void>> gate_;
  int64_t row_ = 0;
};

TEST_F(GroupLogBatchTest, SameClientTxnIdTwiceInOneBatchAppendsOneEventAndAnswersBothWithIt) {
  HoldWriter();
  Pending first, second, other;
  log_->SubmitAsync(row_, Message("once", "txn-1"), first.done(), TxnKey{kAlice, "txn-1"});
  log_->SubmitAsync(row_, Message("once", "txn-1"), second.done(), TxnKey{kAlice, "txn-1"});
  log_->SubmitAsync(row_, Message("another", "txn-2"), other.done(), TxnKey{kAlice, "txn-2"});
  Release();
  auto a = first.f.get(), b = second.f.get(), c = other.f.get();
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(a->size(), 1u);
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ(a->front().event_id, b->front().event_id);
  EXPECT_EQ(a->front().seq, b->front().seq);
  EXPECT_EQ(a->front().stream_pos, b->front().stream_pos);
  EXPECT_EQ(c->front().seq, a->front().seq + 1);
  auto rows = Stored();
  int once = 0;
  for (auto& [seq, body, txn] : rows) once += body == "once";
  EXPECT_EQ(once, 1);
  // A later retry (a batch of its own, from the database) answers the same.
  Pending retry;
  log_->SubmitAsync(row_, Message("once", "txn-1"), retry.done(), TxnKey{kAlice, "txn-1"});
  auto r = retry.f.get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->front().event_id, a->front().event_id);
  EXPECT_EQ(r->front().seq, a->front().seq);
  EXPECT_EQ(Stored().size(), rows.size());
}

TEST_F(GroupLogBatchTest, AFailingRowFailsOnlyItsOwnRequestAndSeqStaysContiguous) {
  int64_t before = Stored().size();
  HoldWriter();
  Pending good1, refused, broken, good2;
  log_->SubmitAsync(row_, Message("one"), good1.done());
  // Refused by its operation: an answer of its own, nothing appended.
  log_->SubmitAsync(row_, [](OpContext&) -> Result<std::vector<Draft>> {
    return Error::Forbidden("not allowed");
  }, refused.done());
  // Fails inside the batch's transaction (its projection breaks the
  // statement): the batch is rolled back and retried one request at a time.
  log_->SubmitAsync(row_, [](OpContext&) -> Result<std::vector<Draft>> {
    Draft d = EventDraft(kAlice, "message", {{"body", "broken"}});
    d.project = [](PgConn& c, const GroupEvent&) -> Status {
      auto r = c.Exec(kTestGroupSeqs, {std::string("not a number")});
      if (!r.ok()) return r.error();
      return OkStatus();
    };
    return std::vector<Draft>{d};
  }, broken.done());
  log_->SubmitAsync(row_, Message("two"), good2.done());
  Release();
  auto g1 = good1.f.get(), rf = refused.f.get(), br = broken.f.get(), g2 = good2.f.get();
  ASSERT_TRUE(g1.ok()) << g1.error().message;
  ASSERT_TRUE(g2.ok()) << g2.error().message;
  ASSERT_FALSE(rf.ok());
  EXPECT_EQ(rf.error().code, ErrorCode::kForbidden);
  ASSERT_FALSE(br.ok());
  EXPECT_EQ(g2->front().seq, g1->front().seq + 1);
  auto rows = Stored();
  ASSERT_EQ(static_cast<int64_t>(rows.size()), before + 2);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(std::get<0>(rows[i]), static_cast<int64_t>(i + 1));
  EXPECT_EQ(std::get<1>(rows[rows.size() - 2]), "one");
  EXPECT_EQ(std::get<1>(rows.back()), "two");
  // The log goes on: the next send follows on.
  Pending next;
  log_->SubmitAsync(row_, Message("three"), next.done());
  auto n = next.f.get();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->front().seq, g2->front().seq + 1);
}

// The real node: many sends at once share batches, some with one
// client_txn_id sent twice at the same moment; SIGKILL right after the last
// answer. After a restart every acknowledged message is there once, at the
// seq it was answered with, and the group's seq has no gap.
TEST(GroupCommitCrashTest, ConcurrentAcknowledgedSendsSurviveSigkillOnceEachWithoutGaps) {
  using nlohmann::json;
  auto node = test::StartNodeWith(test::kNoRateLimits);
  test::HttpClient c(node->http_port());
  test::TestUser a = test::RegisterUser(c, "gc");
  std::string g = test::CreateGroup(c, a.token);
  std::string path = "/api/v1/groups/" + test::PathSegment(g) + "/messages";
  constexpr int kSenders = 8, kEach = 15;
  std::vector<std::map<std::string, int64_t>> acked(kSenders);  // event_id -> seq
  std::vector<std::thread> ts;
  for (int s = 0; s < kSenders; ++s) {
    ts.emplace_back([&, s] {
      test::HttpClient hc(node->http_port());
      for (int i = 0; i < kEach; ++i) {
        // Senders s and s^1 use the same txn ids: pairs race on one key.
        json body = {{"body", "m" + std::to_string(s) + "-" + std::to_string(i)},
                     {"client_txn_id", "t" + std::to_string(s / 2) + "-" + std::to_string(i)}};
        auto r = hc.Post(path, body, a.token);
        EXPECT_EQ(r.status, 201) << r.body;
        if (r.status == 201) acked[s][r.json()["event_id"]] = r.json()["seq"];
      }
    });
  }
  for (auto& t : ts) t.join();
  node->Kill();
  node->Start();
  test::HttpClient c2(node->http_port());
  std::map<std::string, int64_t> stored;
  std::vector<int64_t> seqs;
  std::string q = "?limit=100";
  for (int page = 0; page < 10; ++page) {
    auto r = c2.Get(path + q, a.token);
    ASSERT_EQ(r.status, 200) << r.body;
    json j = r.json();
    for (auto& e : j["events"]) {
      seqs.push_back(e["seq"]);
      if (e["type"] == "message") stored[e["event_id"]] = e["seq"];
    }
    if (!j["has_more"]) break;
    q = "?limit=100&before=" + std::to_string(j["first_seq"].get<int64_t>());
  }
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
  // Each txn id pair was answered with one event; each answer is stored.
  EXPECT_EQ(stored.size(), static_cast<size_t>(kSenders / 2 * kEach));
  for (int s = 0; s < kSenders; ++s) {
    for (auto& [id, seq] : acked[s]) {
      ASSERT_TRUE(stored.count(id)) << "acknowledged " << id << " is lost";
      EXPECT_EQ(stored[id], seq);
    }
    if (s % 2 == 1) {
      EXPECT_EQ(acked[s], acked[s - 1]);
    }
  }
  EXPECT_EQ(node->Stop(), 0);
}

// The writer answers a batch's senders before it publishes the events to
// the stream (and the other sinks), and the answer carries the bytes the
// stream frame carries. A 201 still only comes after the commit: killing the
// node the moment the first answers arrive, while more sends are in flight,
// loses none of the acknowledged messages.
TEST(GroupCommitCrashTest, SendsKilledRightAfterTheirAnswersAreStoredAndTheAnswerIsTheFramesEvent) {
  using nlohmann::json;
  auto node = test::StartNodeWith(test::kNoRateLimits);
  test::HttpClient c(node->http_port());
  test::TestUser a = test::RegisterUser(c, "gk");
  ASSERT_FALSE(a.token.empty());
  std::string g = test::CreateGroup(c, a.token);
  std::string path = "/api/v1/groups/" + test::PathSegment(g) + "/messages";
  {
    // The answer's body is the frame's event, byte for byte.
    auto ws = test::OpenStream(node->http_port(), a.token);
    ASSERT_EQ(ws->status(), 101);
    test::UntilReady(*ws);
    auto r = c.Post(path, json{{"body", "caf\u00e9 \"quoted\" \\ <b>"}, {"client_txn_id", "one"}}, a.token);
    ASSERT_EQ(r.status, 201) << r.body;
    std::string frame;
    for (int i = 0; i < 20 && frame.empty(); ++i) {  // bounded: skips presence and the like
      auto m = ws->Receive(10000);
      ASSERT_EQ(m.kind, test::WsMessage::kText) << "no event frame came";
      if (json::parse(m.data).value("type", "") == "event") frame = m.data;
    }
    EXPECT_EQ(frame, "{\"event\":" + r.body + ",\"type\":\"event\"}");
  }
  constexpr int kSenders = 6, kEach = 40;
  std::vector<std::map<std::string, int64_t>> acked(kSenders);  // event_id -> seq
  std::mutex mu;
  std::condition_variable answered_cv;
  int answered = 0;  // GUARDED_BY(mu)
  std::vector<std::thread> ts;
  for (int s = 0; s < kSenders; ++s) {
    ts.emplace_back([&, s] {
      try {
        test::HttpClient hc(node->http_port());
        hc.set_timeout(std::chrono::milliseconds(5000));
        for (int i = 0; i < kEach; ++i) {
          auto r = hc.Post(path, json{{"body", "k" + std::to_string(s) + "-" + std::to_string(i)}}, a.token);
          if (r.status != 201) return;  // the node is gone
          acked[s][r.json()["event_id"]] = r.json()["seq"];
          std::lock_guard<std::mutex> lock(mu);
          ++answered;
          answered_cv.notify_all();
        }
      } catch (const std::exception&) {
        // The node was killed under this sender (connection refused).
      }
    });
  }
  // Kill as soon as a few sends were answered: the rest are in flight.
  bool enough;
  {
    std::unique_lock<std::mutex> lock(mu);
    enough = answered_cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered >= kSenders; });
  }
  node->Kill();
  for (auto& t : ts) t.join();
  ASSERT_TRUE(enough) << "the sends were not answered in time";
  node->Start();
  test::HttpClient c2(node->http_port());
  std::map<std::string, int64_t> stored;
  std::string q = "?limit=100";
  for (int page = 0; page < 10; ++page) {
    auto r = c2.Get(path + q, a.token);
    ASSERT_EQ(r.status, 200) << r.body;
    json j = r.json();
    for (auto& e : j["events"]) stored[e["event_id"]] = e["seq"];
    if (!j["has_more"]) break;
    q = "?limit=100&before=" + std::to_string(j["first_seq"].get<int64_t>());
  }
  for (int s = 0; s < kSenders; ++s) {
    for (auto& [id, seq] : acked[s]) {
      ASSERT_TRUE(stored.count(id)) << "acknowledged " << id << " is lost";
      EXPECT_EQ(stored[id], seq);
    }
  }
  EXPECT_EQ(node->Stop(), 0);
}

}  // namespace
}  // namespace gc
