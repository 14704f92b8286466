// pchatctl commands for room history (issue 3): search, export, import, backup, test message.
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
//   test message [--room R] [--user1 U] [--user2 U] [--timeout SECONDS]
//                                    Test-CsPersistentChatMessage: two test users sign in over
//                                    SIP, join the room (default: the first room), exchange a
//                                    message both ways; exit 0 on success, 1 on failure
//
// Output is a readable table (or lines); --json prints JSON. Exit status as pchatctl's.
#pragma once

#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

void add_history_commands(CLI::App& app, ctl_context& ctx);

}  // namespace pchat::ctl
