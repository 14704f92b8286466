// The test accounts of `pchatctl test message` (Set-CsTestUserCredential): two existing
// users, their passwords and the room they meet in, per admin API server, kept on the host
// that runs the checks (as Lync kept them in the watcher's credential store), never created
// by pchatctl.
//
// File: JSON {"servers": {"HOST:PORT": {"user1", "password1", "user2", "password2", "room"}}},
// mode 0600 in a folder made 0700, replaced atomically (temporary file, fsync, rename).
// Path: --credential-file, else $PCHATCTL_TEST_CREDENTIALS, else
// $XDG_CONFIG_HOME/pchatctl/test-credentials.json, else ~/.config/pchatctl/....
// Single-threaded (pchatctl); errors are values with what to do.
#pragma once

#include <optional>
#include <string>

namespace pchat::ctl {

struct test_credential {
  std::string user1, password1, user2, password2, room;
};

// The file used when no --credential-file is given ("" when neither the environment nor a
// home folder names one).
std::string default_credential_file();

// The set stored for `server`; nullopt with *why empty when none is, with *why set when the
// file cannot be read or is not ours.
std::optional<test_credential> load_test_credential(const std::string& file,
                                                    const std::string& server, std::string* why);
// Stores (or with `c` null removes) the set of `server`, keeping the other servers' sets.
// Returns what went wrong, or "".
std::string store_test_credential(const std::string& file, const std::string& server,
                                  const test_credential* c);

}  // namespace pchat::ctl
