// Plain TCP on 127.0.0.1 for tests that talk to a server byte by byte (HTTP, SIP): connect
// with receive and send timeouts, send everything. Blocking calls on the caller's thread;
// the timeouts bound every later recv/send on the socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pchat::testing {

// A connected TCP socket to 127.0.0.1:`port` whose recv and send give up after `timeout`;
// -1 if the connection is refused. The caller owns (closes) the descriptor.
int connect_loopback(uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(10));

// Sends all of `data` (no SIGPIPE); false if the peer closed or a send timed out first.
bool send_all(int fd, const std::string& data);

}  // namespace pchat::testing
