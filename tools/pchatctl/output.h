// How pchatctl shows the admin API's answers: the JSON as the server sent it (--json), or a
// table, or `key: value` lines. Also turns transport failures and refusals into the exit
// statuses of command_line.h, printing why on stderr.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "tools/pchatctl/admin_http.h"
#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

// A table column: the JSON field and its title.
using column = std::pair<std::string, std::string>;

// 0 when `r` is a success; else prints why (the server's "error" when it gave one) and
// returns kExitUnreachable or kExitRefused.
int check(const http_result& r);
// check(r), then prints the answer: JSON verbatim with ctx.json; else a table of `cols` for
// an array or an object (one row), `key: value` lines when cols is empty.
int show(const http_result& r, const ctl_context& ctx, const std::vector<column>& cols = {});
// A table; lists are shown comma-separated, columns as wide as their widest cell.
void print_table(const nlohmann::json& rows, const std::vector<column>& cols);
void print_kv(const nlohmann::json& j);

}  // namespace pchat::ctl
