// A whole file read into a string, for tests that check what a program wrote.
#pragma once

#include <string>

namespace pchat::testing {

// The bytes of the file at `path` (binary); "" if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace pchat::testing
