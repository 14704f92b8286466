// A fresh directory under /tmp for one test, removed with everything in it when the object
// goes (kept when the environment has PCHAT_KEEP_TEST_DIRS=1, to read servers' logs). The
// name comes from mkdtemp, so parallel ctest runs never share a database or a server's data
// folder. Not copyable; one owner.
//
// A failure to create or to remove the directory is a test failure (gtest ADD_FAILURE), not
// an exception: the test goes on and reports it.
#pragma once

#include <string>

namespace pchat::testing {

class temp_dir {
 public:
  // Creates /tmp/pchat-<name>-XXXXXX. REQUIRES: `name` holds no '/'.
  explicit temp_dir(const std::string& name = "test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + `relative`: a place inside it (not created).
  std::string operator/(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

}  // namespace pchat::testing
