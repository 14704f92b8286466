// pchatctl commands for room history (issue 3): search, export, import, test message.
//
//   search --query TEXT [--room R[,R2]] [--author U[,U2]] [--from DATE] [--to DATE] [--limit N]
//                                    history search (GET /api/v1/search)
//   export --file F [--category C] [--since DATE]
//                                    Export-CsPersistentChatData (docs/ARCHIVE.md); F is
//                                    written by the server, which runs on this host
//   import --file F [--what-if]      Import-CsPersistentChatData (--what-if: check and count)
//   test message [--room R] [--user1 U] [--user2 U] [--timeout SECONDS]
//                                    Test-CsPersistentChatMessage: two test users sign in over
//                                    SIP, join the room (default: the first room), exchange a
//                                    message both ways; exit 0 on success, 1 on failure
//
// Output is a readable table (or lines); --json prints JSON. Exit status as pchatctl's.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pchat::ctl {

// True if `noun` is one of the commands above.
bool is_history_command(const std::string& noun);
// Runs it. `words` is the noun (and verb); `opts` the --options without dashes.
int run_history_command(const std::string& server, bool as_json,
                        const std::vector<std::string>& words,
                        const std::map<std::string, std::string>& opts);

}  // namespace pchat::ctl
