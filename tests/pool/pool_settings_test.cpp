#include "pool/pool_settings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pchat::pool {
namespace {

TEST(PoolSettings, EtcdEndpointsAreParsed) {
  std::vector<etcd_endpoint> e;
  ASSERT_TRUE(parse_etcd_endpoints("http://127.0.0.1:2379", &e).is_ok());
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].host, "127.0.0.1");
  EXPECT_EQ(e[0].port, 2379);
  ASSERT_TRUE(parse_etcd_endpoints("http://etcd1:2379/,http://[::1]:2380", &e).is_ok());
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].host, "etcd1");
  EXPECT_EQ(e[1].host, "::1");
  EXPECT_EQ(e[1].port, 2380);
  EXPECT_EQ(e[0].url(), "http://etcd1:2379");
}

TEST(PoolSettings, BadEtcdEndpointsAreRefusedWithTheReason) {
  std::vector<etcd_endpoint> e;
  for (const char* bad : {"", "127.0.0.1:2379", "https://127.0.0.1:2379", "http://127.0.0.1",
                          "http://127.0.0.1:0", "http://127.0.0.1:70000", "http://:2379",
                          "http://127.0.0.1:2379,", "http://a:1x", "http://u@h:1"}) {
    auto s = parse_etcd_endpoints(bad, &e);
    EXPECT_TRUE(s.is_invalid_argument()) << bad;
    EXPECT_NE(s.reason().find("etcd endpoint"), std::string::npos) << bad << ": " << s.reason();
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string("http://h:1");
  EXPECT_FALSE(parse_etcd_endpoints(many, &e).is_ok());
}

TEST(PoolSettings, NamesAreShortAndPlain) {
  EXPECT_TRUE(valid_name("n1"));
  EXPECT_TRUE(valid_name("node-1.eu_west"));
  EXPECT_TRUE(valid_name(std::string(kMaxNameLength, 'a')));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(std::string(kMaxNameLength + 1, 'a')));
  EXPECT_FALSE(valid_name("a/b"));
  EXPECT_FALSE(valid_name("-n"));
  EXPECT_FALSE(valid_name(".n"));
  EXPECT_FALSE(valid_name("n 1"));
  EXPECT_FALSE(valid_name("n\xc3\xa9"));
}

TEST(PoolSettings, CheckNamesTheOption) {
  pool_settings s;
  s.etcd = {{"127.0.0.1", 2379}};
  s.node_name = "n1";
  EXPECT_TRUE(check(s).is_ok());
  auto reason = [&](auto change) {
    pool_settings c = s;
    change(c);
    return check(c).reason();
  };
  EXPECT_NE(reason([](pool_settings& c) { c.node_name.clear(); }).find("--node-name is required"), std::string::npos);
  EXPECT_NE(reason([](pool_settings& c) { c.node_name = "a/b"; }).find("--node-name"), std::string::npos);
  EXPECT_NE(reason([](pool_settings& c) { c.pool_name = ""; }).find("--pool-name"), std::string::npos);
  EXPECT_NE(reason([](pool_settings& c) { c.host = "localhost"; }).find("--pool-host"), std::string::npos);
  EXPECT_NE(reason([](pool_settings& c) { c.host = "0.0.0.0"; }).find("wildcard"), std::string::npos);
  EXPECT_NE(reason([](pool_settings& c) { c.host = "::"; }).find("wildcard"), std::string::npos);
  EXPECT_NE(reason([](pool_settings& c) { c.etcd.clear(); }).find("--etcd"), std::string::npos);
  EXPECT_TRUE(reason([](pool_settings& c) { c.host = "::1"; }).empty());
}

}  // namespace
}  // namespace pchat::pool
