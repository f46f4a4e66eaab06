// Asynchronous routes of the gateway: answered once, from any thread,
// through the same Finish as every request (metrics), whatever the handler
// does: answers later, throws, drops its completion, or answers twice.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "node/config/config.h"
#include "node/http/gateway.h"
#include "node/http/json_body.h"
#include "node/http/metrics.h"
#include "node/http/router.h"

namespace gc {
namespace {

class NoAuth : public Authenticator {
 public:
  std::optional<Principal> CachedPrincipal(std::string_view) override { return std::nullopt; }
  Result<Principal> Authenticate(std::string_view) override { return Error::Unauthorized("no"); }
};

class GatewayAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override { config_.log.access = false; }
  // Registers `handler` at POST /x (no auth) and handles one request.
  std::future<HttpResponse> Handle(AsyncHandler handler) {
    router_.AddAsync("POST", "/x", RouteOptions{.auth = false}, std::move(handler));
    gateway_ = std::make_unique<Gateway>(config_, metrics_, router_, auth_, [](std::function<void()> f) { f(); });
    gateway_->Freeze();
    HttpRequest req;
    req.method = "POST";
    req.path = req.target = "/x";
    auto answered = std::make_shared<std::promise<HttpResponse>>();
    auto count = std::make_shared<std::atomic<int>>(0);
    counts_.push_back(count);
    gateway_->Handle(std::move(req), [answered, count](HttpResponse r) {
      if (++*count == 1) answered->set_value(std::move(r));
    });
    return answered->get_future();
  }
  Config config_;
  Metrics metrics_;
  Router router_;
  NoAuth auth_;
  std::unique_ptr<Gateway> gateway_;
  std::vector<std::shared_ptr<std::atomic<int>>> counts_;
};

TEST_F(GatewayAsyncTest, AnswersWhenTheCompletionComesFromAnotherThread) {
  Respond kept;
  auto f = Handle([&](RequestContext&, Respond respond) { kept = std::move(respond); });
  // The handler has returned; the request waits for its completion.
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  std::thread peer([respond = std::move(kept)] { respond(JsonResponse(201, {{"ok", true}})); });
  peer.join();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get().status, 201);
  EXPECT_NE(metrics_.Render().find("POST /x"), std::string::npos);
  EXPECT_EQ(counts_[0]->load(), 1);
}

TEST_F(GatewayAsyncTest, AHandlerThatThrowsIsAnswered500) {
  auto f = Handle([](RequestContext&, Respond) -> void { throw std::runtime_error("boom"); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get().status, 500);
}

TEST_F(GatewayAsyncTest, ACompletionDroppedUncalledIsAnswered500) {
  auto f = Handle([](RequestContext&, Respond respond) { Respond gone = std::move(respond); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get().status, 500);
}

TEST_F(GatewayAsyncTest, OnlyTheFirstAnswerCounts) {
  auto f = Handle([](RequestContext&, Respond respond) {
    respond(JsonResponse(200, {}));
    respond(JsonResponse(503, {}));
  });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get().status, 200);
  EXPECT_EQ(counts_[0]->load(), 1);
}

}  // namespace
}  // namespace gc
