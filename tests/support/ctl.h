// pchatctl in tests, against a server_process: a command that must succeed, and the JSON
// output (`pchatctl --json <args>`) parsed with nlohmann::json. Blocking (runs the
// process), on the test thread; `args` go through a shell (quote as on a command line).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/server_process.h"

namespace pchat::testing {

// Runs pchatctl; a fatal test failure (ASSERT) with its output unless it exits 0. As with
// any helper, the caller goes on unless it checks HasFatalFailure().
void ctl_ok(const server_process& server, const std::string& args);

// The parsed output (a discarded value if it is not JSON); a test failure (EXPECT, with the
// command and its output) unless pchatctl exits with `expect_rc`.
nlohmann::json ctl_json(const server_process& server, const std::string& args, int expect_rc = 0);

// The parsed output if pchatctl succeeds, a null value otherwise: for polling a state that
// may not be readable yet, where a failure is no finding.
nlohmann::json ctl_json_or_null(const server_process& server, const std::string& args);

}  // namespace pchat::testing
