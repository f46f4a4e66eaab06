// The parts of Web Push sending that need no network
// (services/notifications/webpush.h): the VAPID key file, the audience of a
// token, the RFC 8030 headers, and the checks on a browser's subscription.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "node/common/encoding.h"
#include "node/config/config.h"
#include "services/notifications/webpush.h"

namespace gc {
namespace {

struct ScratchDir {
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gc-webpush-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(WebPushSender, VapidKeyIsMadeOnceWithMode0600AndKept) {
  ScratchDir dir;
  bool created = false;
  auto first = LoadOrCreateVapidKey(dir.path, &created);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(created);
  std::string file = dir.path + "/keys/vapid.key";
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateVapidKey(dir.path, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(again->public_key, first->public_key);
  // Readable by others: refused, not silently used.
  chmod(file.c_str(), 0644);
  EXPECT_FALSE(LoadOrCreateVapidKey(dir.path, &created).ok());
  // Damaged: refused, not replaced (that would end every subscription).
  chmod(file.c_str(), 0600);
  std::ofstream(file, std::ios::trunc) << std::string(32, '\0');
  auto damaged = LoadOrCreateVapidKey(dir.path, &created);
  EXPECT_FALSE(damaged.ok());
  EXPECT_NE(damaged.error().message.find("damaged"), std::string::npos) << damaged.error().message;
}

TEST(WebPushSender, AudienceIsTheEndpointsOrigin) {
  auto origin = [](const std::string& url) {
    auto o = EndpointOrigin(url);
    return o.ok() ? *o : "error: " + o.error().message;
  };
  EXPECT_EQ(origin("https://fcm.googleapis.com/fcm/send/dPq:APA91b"), "https://fcm.googleapis.com");
  EXPECT_EQ(origin("https://updates.push.services.mozilla.com:443/wpush/v2/gAAA"),
            "https://updates.push.services.mozilla.com");
  EXPECT_EQ(origin("https://Web.Push.Apple.com/QGuQyavXutnMH"), "https://web.push.apple.com");
  EXPECT_EQ(origin("https://push.example.net:8443/p/x?y=1#z"), "https://push.example.net:8443");
  EXPECT_EQ(origin("http://127.0.0.1:34567/push/abc"), "http://127.0.0.1:34567");
  EXPECT_EQ(origin("https://[2001:db8::1]/p"), "https://[2001:db8::1]");
  EXPECT_FALSE(EndpointOrigin("not a url").ok());
}

TEST(WebPushSender, HeadersFollowRfc8030) {
  std::string t = WebPushTopic("#eng:acme.test");
  EXPECT_EQ(t.size(), 32u);
  EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  EXPECT_EQ(WebPushTopic("#eng:acme.test"), t);
  EXPECT_NE(WebPushTopic("#ops:acme.test"), t);
  EXPECT_STREQ(WebPushUrgency("message"), "normal");
  EXPECT_STREQ(WebPushUrgency("mention"), "high");
  EXPECT_STREQ(WebPushUrgency("reply"), "high");
  EXPECT_STREQ(WebPushUrgency("invite"), "high");
}

TEST(WebPushSender, SubscriptionsAreCheckedAndMadeCanonical) {
  auto key = webpush::GenerateKeyPair();
  ASSERT_TRUE(key.ok());
  std::string p256dh = Base64Url(key->public_key), auth = Base64Url(std::string(16, '\x07'));
  const std::string ep = "http://127.0.0.1:9/push/abc";  // literal address: no lookup
  auto ok = CheckSubscription(ep, p256dh + "=", auth + "==", /*allow_private=*/true);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->p256dh, p256dh);
  EXPECT_EQ(ok->auth, auth);
  EXPECT_FALSE(CheckSubscription(ep, p256dh, auth, /*allow_private=*/false).ok()) << "loopback and http://";
  EXPECT_FALSE(CheckSubscription("", p256dh, auth, true).ok());
  EXPECT_FALSE(CheckSubscription(ep, p256dh.substr(0, 80), auth, true).ok());
  EXPECT_FALSE(CheckSubscription(ep, Base64Url(std::string(65, '\x04')), auth, true).ok());
  EXPECT_FALSE(CheckSubscription(ep, p256dh, Base64Url(std::string(15, 'a')), true).ok());
  EXPECT_FALSE(CheckSubscription(ep, p256dh, "not base64!", true).ok());
  auto why = CheckSubscription(ep, p256dh, Base64Url(std::string(20, 'a')), true);
  ASSERT_FALSE(why.ok());
  EXPECT_EQ(why.error().message, "keys.auth must be 16 bytes, not 20");
}

TEST(WebPushSender, ConfigKeysTakeAContactAndABoundedTtl) {
  const std::string base = "node:\n  name: acme.test\n  data_dir: ./var/acme\nnotifications:\n";
  auto defaults = ParseConfig(base + "  push_concurrency: 4\n", "node.yaml", {});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_EQ(defaults->notifications.vapid_subject, "");
  EXPECT_EQ(defaults->notifications.webpush_ttl_s, 86400);
  auto set = ParseConfig(base + "  vapid_subject: mailto:ops@acme.test\n  webpush_ttl_s: 60\n", "node.yaml", {});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->notifications.vapid_subject, "mailto:ops@acme.test");
  EXPECT_EQ(set->notifications.webpush_ttl_s, 60);
  auto bare = ParseConfig(base + "  vapid_subject: ops@acme.test\n", "node.yaml", {});
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.error().message.find("node.yaml:5:"), std::string::npos) << bare.error().message;
  EXPECT_NE(bare.error().message.find("mailto:"), std::string::npos) << bare.error().message;
  EXPECT_FALSE(ParseConfig(base + "  vapid_subject: http://acme.test\n", "node.yaml", {}).ok());
  EXPECT_FALSE(ParseConfig(base + "  webpush_ttl_s: 2419201\n", "node.yaml", {}).ok());
  EXPECT_FALSE(ParseConfig(base + "  webpush_ttl_s: -1\n", "node.yaml", {}).ok());
}

}  // namespace
}  // namespace gc
