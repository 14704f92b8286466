// The in-tree SIP/XCCOS clients of one test (tools/client), on one client_loop: made on
// demand against a server's SIP port, all kept alive until clear() or the end of the owner.
// Single-threaded: the test thread makes them and runs the loop (the clients' own waits).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tools/client/client_loop.h"
#include "tools/client/sip_connection.h"
#include "tools/client/xccos_client.h"

namespace pchat::testing {

class chat_clients {
 public:
  chat_clients() = default;
  chat_clients(const chat_clients&) = delete;
  chat_clients& operator=(const chat_clients&) = delete;

  // A new client for `user` ("alice@example.com") with its own connection to 127.0.0.1:
  // `sip_port`; `cc` and `cfg` carry anything else (transport, password, limits).
  // When a server_process of this test listens on `sip_port`, the user is made in its
  // directory first unless it exists (pchatd admits no unknown user); a user that must stay
  // unknown needs a chat_client of its own on loop(). The reference stays valid until clear().
  client::chat_client& add(uint16_t sip_port, const std::string& user,
                           client::connection_config cc = {}, client::client_config cfg = {});
  // A new client for a user the server has already (no admin call is made: for a server
  // that refuses the plain HTTP server_process::ensure_user speaks).
  client::chat_client& add_known(client::connection_config cc, client::client_config cfg);
  // A new client for `user` on a shared connection (frontend mode). Makes no user: the test
  // makes it first (server_process::ensure_user). REQUIRES: `conn` runs on loop().
  client::chat_client& add_on(std::shared_ptr<client::sip_connection> conn, const std::string& user,
                              client::client_config cfg = {});
  // Ends every client (their sessions close as when a user quits).
  void clear() { clients_.clear(); }

  client::client_loop& loop() { return loop_; }

 private:
  client::client_loop loop_;  // outlives the clients (declared first)
  std::vector<std::unique_ptr<client::chat_client>> clients_;
};

// A test failure (EXPECT) naming the first protocol fault `c` noticed in what the server
// sent, if any (client::chat_client::faults()).
void expect_clean(const client::chat_client& c);

// The URI of the demo room, found by searching "demo" as `c` (signed in); "" if none.
std::string demo_room(client::chat_client& c);

// Signs `c` in and joins the demo room (found by searching "demo"); its URI, "" if a step
// failed.
std::string join_demo(client::chat_client& c);

}  // namespace pchat::testing
