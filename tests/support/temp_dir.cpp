#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

namespace pchat::testing {

temp_dir::temp_dir(const std::string& name) {
  std::string pattern = "/tmp/pchat-" + name + "-XXXXXX";
  std::vector<char> tmpl(pattern.begin(), pattern.end());
  tmpl.push_back('\0');
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << strerror(errno);
    return;
  }
  path_ = tmpl.data();
}

temp_dir::~temp_dir() {
  if (path_.empty()) return;
  // PCHAT_KEEP_TEST_DIRS=1: left in place to read the servers' logs after a failure.
  if (const char* keep = getenv("PCHAT_KEEP_TEST_DIRS"); keep && strcmp(keep, "1") == 0) {
    fprintf(stderr, "kept %s (PCHAT_KEEP_TEST_DIRS)\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) ADD_FAILURE() << "cannot remove " << path_ << ": " << ec.message();
}

}  // namespace pchat::testing
