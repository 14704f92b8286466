#include "tests/support/ctl.h"

#include <gtest/gtest.h>

namespace pchat::testing {

void ctl_ok(const server_process& server, const std::string& args) {
  int rc = -1;
  std::string out = server.ctl(args, &rc);
  ASSERT_EQ(rc, 0) << "pchatctl " << args << ": " << out;
}

nlohmann::json ctl_json(const server_process& server, const std::string& args, int expect_rc) {
  int rc = -1;
  std::string out = server.ctl("--json " + args, &rc);
  EXPECT_EQ(rc, expect_rc) << args << "\n" << out;
  return nlohmann::json::parse(out, nullptr, false);
}

nlohmann::json ctl_json_or_null(const server_process& server, const std::string& args) {
  int rc = -1;
  std::string out = server.ctl("--json " + args, &rc);
  return rc == 0 ? nlohmann::json::parse(out, nullptr, false) : nlohmann::json();
}

}  // namespace pchat::testing
