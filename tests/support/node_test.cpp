#include "tests/support/node_test.h"

namespace gc::test {

void NodeTest::StartNode(const std::string& extra_yaml) {
  NodeOptions o;
  o.extra_yaml = extra_yaml;
  StartNode(std::move(o));
}

void NodeTest::StartNode(NodeOptions options) {
  ASSERT_EQ(node_, nullptr) << "the previous suite's node was not stopped";
  node_ = new NodeProcess(std::move(options));
  node_->Start();
}

void NodeTest::TearDownTestSuite() {
  if (!node_) return;
  EXPECT_EQ(node_->Stop(), 0) << node_->LogText();
  delete node_;
  node_ = nullptr;
}

void NodeTest::TearDown() {
  // Whatever a test sent, the node is still serving.
  ASSERT_TRUE(node_->Running()) << node_->LogText();
  EXPECT_EQ(node_->Client().Get("/healthz").status, 200);
}

}  // namespace gc::test
