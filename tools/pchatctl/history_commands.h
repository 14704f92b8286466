// pchatctl commands for room history (issue 3): search, export, import, backup.
//
//   search --query TEXT [--room R[,R2]] [--author U[,U2]] [--from DATE] [--to DATE] [--limit N]
//                                    history search (GET /api/v1/search)
//   export --file F [--category C] [--since DATE]
//                                    Export-CsPersistentChatData (docs/ARCHIVE.md); F is
//                                    written by the server, which runs on this host
//   import --file F [--what-if]      Import-CsPersistentChatData (--what-if: check and count)
//   backup --dir D [--timeout SECONDS]
//                                    online backup of the node into D, a new or empty folder
//                                    (POST /api/v1/backup; written by the server on this host;
//                                    restore with pchatd --restore-from=D, docs/ADMIN.md)
//
// Output is a readable table (or lines); --json prints JSON. Exit status as pchatctl's.
#pragma once

#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

void add_history_commands(CLI::App& app, ctl_context& ctx);

}  // namespace pchat::ctl
