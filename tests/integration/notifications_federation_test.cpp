// Notifications across nodes: a remote member is notified by their own node,
// from its replica of the group, under their own settings; the group's home
// node makes nothing for users it does not host.
#include "tests/integration/federation_fixture.h"

namespace gc::test {
namespace {

// The entry of `user`'s inbox (on their node) for `event_id`, or null.
json EntryFor(const User& user, const std::string& event_id) {
  HttpClient c(user.port);
  return NotificationFor(c, user.token, event_id);
}

TEST_F(FederationTest, ARemoteMemberIsNotifiedByTheirOwnNodeUnderTheirOwnSettings) {
  StartNodes({"acme.test", "beta.test"});
  User alice = Register(0), bob = Register(1);
  std::string g = CreateGroup(alice);
  ASSERT_EQ(Post(bob, "/api/v1/groups/" + G(g) + "/join").status, 200);
  // Bob's level for the group, set on his own node: mentions only.
  auto level = HttpClient(bob.port).Put("/api/v1/groups/" + G(g) + "/notification-level", {{"level", "mentions"}},
                                        bob.token);
  ASSERT_EQ(level.status, 200) << level.body;

  auto plain = Send(alice, g, "just chatting");
  ASSERT_EQ(plain.status, 201) << plain.body;
  auto mention = Send(alice, g, "over to you " + bob.id);
  ASSERT_EQ(mention.status, 201) << mention.body;
  std::string mention_id = mention.json()["event_id"];

  // beta.test makes bob's entry when the event lands in its replica.
  json n;
  ASSERT_TRUE(Eventually([&] { return !(n = EntryFor(bob, mention_id)).is_null(); }));
  EXPECT_EQ(n["kind"], "mention");
  EXPECT_EQ(n["sender"], alice.id);
  EXPECT_EQ(n["group_id"], g);
  // Processed in order, so the plain message before it was judged already:
  // nothing at level mentions.
  EXPECT_TRUE(EntryFor(bob, plain.json()["event_id"]).is_null());

  // Bob replies from beta: alice is notified by acme, her own node.
  auto reply = Send(bob, g, "on it", {{"reply_to", plain.json()["event_id"]}});
  ASSERT_EQ(reply.status, 201) << reply.body;
  std::string reply_id = reply.json()["event_id"];
  json r;
  ASSERT_TRUE(Eventually([&] { return !(r = EntryFor(alice, reply_id)).is_null(); }));
  EXPECT_EQ(r["kind"], "reply");
  EXPECT_EQ(r["sender"], bob.id);
}

}  // namespace
}  // namespace gc::test
