// pchatctl commands for the pool (docs/POOL.md): pool status (the nodes as this node sees
// them, and the rooms it has claimed with their epochs).
#pragma once

#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

void add_pool_commands(CLI::App& app, ctl_context& ctx);

}  // namespace pchat::ctl
