#include "pool/pool_settings.h"

#include <gtest/gtest.h>

#include <string>

namespace pchat::pool {
namespace {

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
  s.etcd = "http://127.0.0.1:2379,http://[::1]:2380";
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
  EXPECT_NE(reason([](pool_settings& c) { c.etcd = "127.0.0.1:2379"; }).find("--etcd"), std::string::npos);
  EXPECT_NE(reason([](pool_settings& c) { c.etcd = "http://127.0.0.1:2379/v3"; }).find("has a path"), std::string::npos);
  EXPECT_TRUE(reason([](pool_settings& c) { c.host = "::1"; }).empty());
}

}  // namespace
}  // namespace pchat::pool
