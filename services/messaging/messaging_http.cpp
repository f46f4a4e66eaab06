#include "services/messaging/messaging_http.h"

#include <cerrno>
#include <cstdlib>

#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/groups/group_service.h"
#include "services/messaging/messaging_service.h"

namespace gc {

using nlohmann::json;

namespace {

json PageJson(const HistoryPage& page) {
  json events = json::array();
  for (const auto& e : page.events) {
    json j = EventJson(e);
    auto rx = page.reactions.find(e.event_id);
    if (rx != page.reactions.end()) j["reactions"] = rx->second;
    events.push_back(std::move(j));
  }
  json out = {{"events", events}, {"has_more", page.has_more}};
  out["first_seq"] = page.events.empty() ? json(nullptr) : json(page.events.front().seq);
  out["last_seq"] = page.events.empty() ? json(nullptr) : json(page.events.back().seq);
  return out;
}

}  // namespace

void AddMessagingRoutes(Router& router, GroupService& groups, MessagingService& messaging) {
  // Resolves {group_id} for a member, or answers the refusal.
  auto member_row = [&groups](RequestContext& ctx, HttpResponse* err) -> std::optional<int64_t> {
    auto row = groups.Resolve(ctx.user(), ctx.param("group_id"), true);
    if (!row.ok()) {
      *err = ToHttp(row.error());
      return std::nullopt;
    }
    return *row;
  };

  // POST /api/v1/groups/{group_id}/messages
  // Asynchronous: in a remote group the answer waits for the home node.
  // Fast: with the caller's token cached it runs on the I/O thread, which
  // only checks the request against cached state and queues it for the
  // group log's writer; the answer comes from the log's completer thread
  // after the commit (no worker thread is held while the batch commits).
  RouteOptions fast;
  fast.fast = true;
  router.AddAsync("POST", "/api/v1/groups/{group_id}/messages", fast, [&, member_row](RequestContext& ctx,
                                                                                      Respond respond) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return respond(ToHttp(body.error()));
    auto text = RequiredString(*body, "body");
    if (!text.ok()) return respond(ToHttp(text.error()));
    SendRequest req;
    req.body = *text;
    for (auto [field, target] : {std::pair{"client_txn_id", &req.client_txn_id}, std::pair{"reply_to", &req.reply_to},
                                 std::pair{"media_id", &req.media_id}}) {
      auto v = OptionalString(*body, field);
      if (!v.ok()) return respond(ToHttp(v.error()));
      *target = *v;
    }
    HttpResponse err;
    auto row = member_row(ctx, &err);
    if (!row) return respond(std::move(err));
    messaging.SendAsync(ctx.user(), *row, req, [respond](Result<GroupEvent> r) {
      if (!r.ok()) return respond(ToHttp(r.error()));
      // The bytes the stream frame carries (serialized once by the writer).
      if (r->seq != 0 && r->client_json) return respond(HttpResponse::Json(201, *r->client_json));
      json out = EventJson(*r);
      if (r->seq == 0) {
        // A remote group whose home node has not answered yet: the message is
        // queued on this node and arrives on the stream once sequenced.
        out["pending"] = true;
        return respond(JsonResponse(202, out));
      }
      respond(JsonResponse(201, out));
    });
  });

  // GET /api/v1/groups/{group_id}/messages?before=&after=&limit=
  router.Add("GET", "/api/v1/groups/{group_id}/messages", {}, [&, member_row](RequestContext& ctx) {
    auto before = QueryInt(ctx.req, "before", 1, INT64_MAX);
    if (!before.ok()) return ToHttp(before.error());
    auto after = QueryInt(ctx.req, "after", 0, INT64_MAX);
    if (!after.ok()) return ToHttp(after.error());
    auto limit = QueryInt(ctx.req, "limit", 1, 100);
    if (!limit.ok()) return ToHttp(limit.error());
    HttpResponse err;
    auto row = member_row(ctx, &err);
    if (!row) return err;
    auto page = messaging.History(ctx.user(), *row, *before, *after, static_cast<int>(limit->value_or(50)));
    if (!page.ok()) return ToHttp(page.error());
    return JsonResponse(200, PageJson(*page));
  });

  // Edits, deletes and reactions are asynchronous: in a remote group the
  // answer waits for the home node. What they answer: the event, if any.
  auto change = [](Respond respond) {
    return [respond](Result<std::optional<GroupEvent>> r) {
      if (!r.ok()) return respond(ToHttp(r.error()));
      respond(JsonResponse(200, *r ? EventJson(**r) : json::object()));
    };
  };

  // PATCH /api/v1/groups/{group_id}/messages/{event_id} {body}
  router.AddAsync("PATCH", "/api/v1/groups/{group_id}/messages/{event_id}", {},
                  [&, member_row](RequestContext& ctx, Respond respond) {
                    auto body = ParseJsonObject(ctx.req.body);
                    if (!body.ok()) return respond(ToHttp(body.error()));
                    auto text = RequiredString(*body, "body");
                    if (!text.ok()) return respond(ToHttp(text.error()));
                    HttpResponse err;
                    auto row = member_row(ctx, &err);
                    if (!row) return respond(std::move(err));
                    messaging.EditAsync(ctx.user(), *row, ctx.param("event_id"), *text,
                                        [respond](Result<GroupEvent> r) {
                                          if (!r.ok()) return respond(ToHttp(r.error()));
                                          respond(JsonResponse(200, EventJson(*r)));
                                        });
                  });

  // DELETE /api/v1/groups/{group_id}/messages/{event_id}
  router.AddAsync("DELETE", "/api/v1/groups/{group_id}/messages/{event_id}", {},
                  [&, member_row, change](RequestContext& ctx, Respond respond) {
                    HttpResponse err;
                    auto row = member_row(ctx, &err);
                    if (!row) return respond(std::move(err));
                    messaging.DeleteAsync(ctx.user(), *row, ctx.param("event_id"), change(respond));
                  });

  // POST /api/v1/groups/{group_id}/messages/{event_id}/reactions {key}
  router.AddAsync("POST", "/api/v1/groups/{group_id}/messages/{event_id}/reactions", {},
                  [&, member_row, change](RequestContext& ctx, Respond respond) {
                    auto body = ParseJsonObject(ctx.req.body);
                    if (!body.ok()) return respond(ToHttp(body.error()));
                    auto key = RequiredString(*body, "key");
                    if (!key.ok()) return respond(ToHttp(key.error()));
                    HttpResponse err;
                    auto row = member_row(ctx, &err);
                    if (!row) return respond(std::move(err));
                    messaging.ReactAsync(ctx.user(), *row, ctx.param("event_id"), *key, true, change(respond));
                  });

  // DELETE /api/v1/groups/{group_id}/messages/{event_id}/reactions/{key}
  router.AddAsync("DELETE", "/api/v1/groups/{group_id}/messages/{event_id}/reactions/{key}", {},
                  [&, member_row, change](RequestContext& ctx, Respond respond) {
                    HttpResponse err;
                    auto row = member_row(ctx, &err);
                    if (!row) return respond(std::move(err));
                    messaging.ReactAsync(ctx.user(), *row, ctx.param("event_id"), ctx.param("key"), false,
                                         change(respond));
                  });

  // POST /api/v1/groups/{group_id}/read {seq}
  router.Add("POST", "/api/v1/groups/{group_id}/read", {}, [&, member_row](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto seq = OptionalInt(*body, "seq");
    if (!seq.ok()) return ToHttp(seq.error());
    if (!*seq) return ToHttp(Error::Invalid("missing field: seq"));
    HttpResponse err;
    auto row = member_row(ctx, &err);
    if (!row) return err;
    auto st = messaging.MarkRead(ctx.user(), *row, **seq);
    if (!st.ok()) return ToHttp(st.error());
    return JsonResponse(200, {{"seq", **seq}});
  });

  // POST /api/v1/groups/{group_id}/typing {typing}
  router.Add("POST", "/api/v1/groups/{group_id}/typing", {}, [&, member_row](RequestContext& ctx) {
    auto body = ctx.req.body.empty() ? Result<json>(json::object()) : ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto typing = OptionalBool(*body, "typing");
    if (!typing.ok()) return ToHttp(typing.error());
    HttpResponse err;
    auto row = member_row(ctx, &err);
    if (!row) return err;
    auto st = messaging.Typing(ctx.user(), *row, typing->value_or(true));
    if (!st.ok()) return ToHttp(st.error());
    return HttpResponse::NoContent();
  });

  // GET /api/v1/me/mentions?before=&limit=
  router.Add("GET", "/api/v1/me/mentions", {}, [&](RequestContext& ctx) {
    auto before = QueryInt(ctx.req, "before", 1, INT64_MAX);
    if (!before.ok()) return ToHttp(before.error());
    auto limit = QueryInt(ctx.req, "limit", 1, 100);
    if (!limit.ok()) return ToHttp(limit.error());
    auto r = messaging.Mentions(ctx.user(), *before, static_cast<int>(limit->value_or(50)));
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& e : *r) list.push_back(EventJson(e));
    return JsonResponse(200, {{"events", list}});
  });

  // GET /api/v1/search?q=&limit=&offset=
  router.Add("GET", "/api/v1/search", {}, [&](RequestContext& ctx) {
    auto limit = QueryInt(ctx.req, "limit", 1, 100);
    if (!limit.ok()) return ToHttp(limit.error());
    auto offset = QueryInt(ctx.req, "offset", 0, 10000);
    if (!offset.ok()) return ToHttp(offset.error());
    int lim = static_cast<int>(limit->value_or(20));
    auto r = messaging.Search(ctx.user(), ctx.req.query_param("q").value_or(""), lim + 1,
                              static_cast<int>(offset->value_or(0)));
    if (!r.ok()) return ToHttp(r.error());
    bool more = static_cast<int>(r->size()) > lim;
    if (more) r->pop_back();
    json list = json::array();
    for (const auto& h : *r) {
      json j = EventJson(h.event);
      j["rank"] = h.rank;
      list.push_back(std::move(j));
    }
    return JsonResponse(200, {{"results", list}, {"has_more", more}});
  });
}

}  // namespace gc
