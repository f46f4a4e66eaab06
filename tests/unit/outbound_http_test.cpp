// Which addresses outbound federation requests may reach (node/common/outbound_http.h).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "node/common/outbound_http.h"

namespace gc {
namespace {

bool Public(const std::string& ip) {
  sockaddr_storage ss{};
  if (ip.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &a->sin_addr), 1) << ip;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr), 1) << ip;
  }
  return IsPublicAddress(reinterpret_cast<sockaddr*>(&ss));
}

TEST(OutboundHttp, RefusesEveryNonPublicRange) {
  for (const char* ip : {"0.0.0.0", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255", "127.0.0.1",
                         "127.255.0.9", "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1",
                         "192.168.1.1", "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1",
                         "239.255.255.250", "240.0.0.1", "255.255.255.255", "::", "::1", "::127.0.0.1",
                         "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "fc00::1",
                         "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "2001:db8::1", "2002:7f00:1::1",
                         "2001:0:4136:e378::1"}) {
    EXPECT_FALSE(Public(ip)) << ip;
  }
}

TEST(OutboundHttp, AllowsPublicAddresses) {
  for (const char* ip : {"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1",
                         "192.167.1.1", "192.169.0.1", "198.17.255.255", "198.20.0.1", "223.255.255.255",
                         "::ffff:8.8.8.8", "64:ff9b::808:808", "2606:4700:4700::1111", "2a00:1450::1"}) {
    EXPECT_TRUE(Public(ip)) << ip;
  }
}

TEST(OutboundHttp, RefusesANameThatResolvesToLoopbackWithoutConnecting) {
  auto r = HttpFetch("http://localhost:1", "/", OutboundPolicy{}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not public"), std::string::npos) << r.error().message;
  auto bad = HttpFetch("http://[::1", "/", OutboundPolicy{}, nullptr);
  EXPECT_FALSE(bad.ok());
  auto port = HttpFetch("http://example.test:99999", "/", OutboundPolicy{}, nullptr);
  EXPECT_FALSE(port.ok());
}

}  // namespace
}  // namespace gc
