// pchatctl commands for the user directory, groups and Persistent Chat policies
// (Get-CsAdPrincipal, *-CsPersistentChatPolicy, Grant-CsPersistentChatPolicy,
// Get-CsPersistentChatEligiblePrincipal). Users are named user@domain or sip:user@domain.
#pragma once

#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

void add_identity_commands(CLI::App& app, ctl_context& ctx);

}  // namespace pchat::ctl
