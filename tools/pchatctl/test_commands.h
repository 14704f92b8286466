// pchatctl's synthetic transactions (Test-CsPersistentChatMessage) and their test accounts
// (Set-CsTestUserCredential):
//
//   test credential set --user1 U --password1 P --user2 U --password2 P --room R
//                       [--credential-file F]
//                                    names two EXISTING users (chat enabled) and the room they
//                                    meet in (enabled; for a closed or secret room both must
//                                    be members), checked against the server, and stores them
//                                    for this --server (test_credentials.h). Passwords may come
//                                    from $PCHAT_TEST_PASSWORD1 / $PCHAT_TEST_PASSWORD2 instead
//                                    (kept out of the process list).
//   test credential get|remove [--credential-file F]
//                                    shows the stored set (no passwords) / forgets it
//   test message [--room R] [--timeout SECONDS] [--credential-file F]
//                                    the two test users sign in over SIP, join the set's room
//                                    (or R), exchange a message both ways, part and sign out.
//                                    It never creates users or passwords and never picks a room
//                                    itself: without a stored set it fails (exit 1) saying
//                                    what to run. Exit 0 on success, 1 on failure.
#pragma once

#include "tools/pchatctl/command_line.h"

namespace pchat::ctl {

void add_test_commands(CLI::App& app, ctl_context& ctx);

}  // namespace pchat::ctl
