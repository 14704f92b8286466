// pchatctl commands for categories, rooms, add-ins, files and message removal
// (*-CsPersistentChatCategory, *-CsPersistentChatRoom, *-CsPersistentChatAddin,
// Clear-CsPersistentChatRoom, Remove-CsPersistentChatMessage). Categories are named by id,
// name or ma-cat:// URI, rooms by id, name or ma-chan:// URI. `--help` on each lists its
// options; docs/ADMIN.md has the whole reference.
#pragma once

#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

void add_directory_commands(CLI::App& app, ctl_context& ctx);

}  // namespace pchat::ctl
