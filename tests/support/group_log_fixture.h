// GroupLogTest: a GroupLog of its own, with its pool, on a fresh migrated
// database of the test process's cluster, for tests that drive the group
// log directly instead of through a node (group_log_batch_test,
// search_index_test). Derived fixtures call GroupLogTest::SetUp() first.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "node/db/pg.h"
#include "services/groups/group_log.h"
#include "tests/harness/test_postgres.h"

namespace gc::test {

class GroupLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conninfo_ = TestPostgres::Shared().CreateMigratedDatabase();
    auto pool = PgPool::Create(conninfo_, 2, 5);
    ASSERT_TRUE(pool.ok()) << pool.error().message;
    pool_ = std::move(*pool);
    log_ = std::make_unique<GroupLog>(*pool_, "acme.test");
    ASSERT_TRUE(log_->Start(conninfo_).ok());
  }
  void TearDown() override {
    if (log_) log_->Stop();
  }

  std::string conninfo_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<GroupLog> log_;
};

}  // namespace gc::test
