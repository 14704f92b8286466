// pchatctl commands for the node and its settings: status get, config
// (*-CsPersistentChatConfiguration, global or site:NAME), compliance
// (*-CsPersistentChatComplianceConfiguration, status, run).
#pragma once

#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

void add_config_commands(CLI::App& app, ctl_context& ctx);

}  // namespace pchat::ctl
