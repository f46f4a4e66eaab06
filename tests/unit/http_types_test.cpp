#include <gtest/gtest.h>

#include "node/http/http_types.h"
#include "node/http/metrics.h"
#include "node/http/router.h"

namespace gc {
namespace {

TEST(PercentDecode, DecodesAndRejectsBadEscapes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("%40alice%3Aacme.test", &out, false));
  EXPECT_EQ(out, "@alice:acme.test");
  EXPECT_TRUE(PercentDecode("a+b", &out, true));
  EXPECT_EQ(out, "a b");
  EXPECT_TRUE(PercentDecode("a+b", &out, false));
  EXPECT_EQ(out, "a+b");
  EXPECT_FALSE(PercentDecode("%4", &out, false));
  EXPECT_FALSE(PercentDecode("%zz", &out, false));
  EXPECT_FALSE(PercentDecode("abc%", &out, false));
}

TEST(HttpRequest, QueryParams) {
  HttpRequest r;
  r.query = "q=hello+world&limit=10&empty=&flag&x=%E2%82%AC";
  EXPECT_EQ(r.query_param("q").value(), "hello world");
  EXPECT_EQ(r.query_param("limit").value(), "10");
  EXPECT_EQ(r.query_param("empty").value(), "");
  EXPECT_EQ(r.query_param("flag").value(), "");
  EXPECT_EQ(r.query_param("x").value(), "\xe2\x82\xac");
  EXPECT_FALSE(r.query_param("missing"));
}

TEST(Router, MatchesPatternsAndDecodesCaptures) {
  Router router;
  router.Add("GET", "/api/v1/users/{user_id}", {}, [](RequestContext&) { return HttpResponse{}; });
  router.Add("POST", "/api/v1/groups", {}, [](RequestContext&) { return HttpResponse{}; });
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  EXPECT_EQ(router.Match("GET", "/api/v1/users/%40bob%3Abeta.test", &route, &params), Router::MatchResult::kFound);
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].second, "@bob:beta.test");
  EXPECT_EQ(router.Match("GET", "/api/v1/groups", &route, &params), Router::MatchResult::kMethodNotAllowed);
  EXPECT_EQ(router.Match("GET", "/api/v1/nothing", &route, &params), Router::MatchResult::kNotFound);
  EXPECT_EQ(router.Match("GET", "/api/v1/users/%zz", &route, &params), Router::MatchResult::kBadPath);
  EXPECT_EQ(router.Match("GET", "*", &route, &params), Router::MatchResult::kBadPath);
}

// Match checks routes in order, segment by segment: a capture that does not
// decode is a bad path once the route's segments before it matched, and a
// route whose literal segment differs first is skipped; only the route found
// has its captures decoded.
TEST(Router, DecodesOnlyTheRouteFoundAndKeepsTheBadPathOrder) {
  Router router;
  router.Add("POST", "/api/v1/groups/{group_id}/read", {}, [](RequestContext&) { return HttpResponse{}; });
  router.Add("POST", "/api/v1/groups/{group_id}/messages/{event_id}/reactions", {},
             [](RequestContext&) { return HttpResponse{}; });
  router.Add("POST", "/api/v1/groups/{group_id}/messages", {}, [](RequestContext&) { return HttpResponse{}; });
  router.Add("GET", "/api/v1/users/x/{user_id}", {}, [](RequestContext&) { return HttpResponse{}; });
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  ASSERT_EQ(router.Match("POST", "/api/v1/groups/%23eng%3Aacme.test/messages", &route, &params),
            Router::MatchResult::kFound);
  EXPECT_EQ(route->pattern, "/api/v1/groups/{group_id}/messages");
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0], std::make_pair(std::string("group_id"), std::string("#eng:acme.test")));
  ASSERT_EQ(router.Match("POST", "//api/v1/groups/g%41/messages/%24e1/reactions", &route, &params),
            Router::MatchResult::kFound);
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].second, "gA");
  EXPECT_EQ(params[1], std::make_pair(std::string("event_id"), std::string("$e1")));
  // The capture comes before the segment that differs: a bad path.
  EXPECT_EQ(router.Match("POST", "/api/v1/groups/%zz/messages", &route, &params), Router::MatchResult::kBadPath);
  // A literal segment differs before the capture: not this route, so not found.
  EXPECT_EQ(router.Match("GET", "/api/v1/users/y/%zz", &route, &params), Router::MatchResult::kNotFound);
  EXPECT_EQ(router.Match("GET", "/api/v1/users/x/%4", &route, &params), Router::MatchResult::kBadPath);
  EXPECT_EQ(router.Match("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", &route, &params),
            Router::MatchResult::kNotFound);
}

TEST(ErrorBody, IsTheContractShapeAndEscapes) {
  EXPECT_EQ(ErrorBody("not_found", "no \"such\" thing"),
            R"({"error":{"code":"not_found","message":"no \"such\" thing"}})");
  EXPECT_EQ(ErrorBody("conflict", "taken", "username_taken"),
            R"({"error":{"code":"conflict","message":"taken","reason":"username_taken"}})");
}

TEST(Metrics, RendersCountersAndCumulativeHistogram) {
  Metrics m;
  int r = m.AddRoute("GET /api/v1/me");
  m.RecordRequest(r, 200, 0.0004);
  m.RecordRequest(r, 200, 0.003);
  m.RecordRequest(r, 401, 2.0);
  m.AddGauge("groupchat_test_gauge", "A test gauge.", [] { return 7.0; });
  std::string text = m.Render();
  EXPECT_NE(text.find("groupchat_http_requests_total{route=\"GET /api/v1/me\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("groupchat_http_requests_total{route=\"GET /api/v1/me\",status=\"401\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("le=\"0.0005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("le=\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("groupchat_test_gauge 7\n"), std::string::npos);
}

}  // namespace
}  // namespace gc

namespace gc {
namespace {
TEST(ErrorBody, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(ErrorBody("invalid_request", "bad \xff\xfe byte, ok \xc3\xa9"),
            "{\"error\":{\"code\":\"invalid_request\",\"message\":\"bad \\ufffd\\ufffd byte, ok \xc3\xa9\"}}");
}
}  // namespace
}  // namespace gc
