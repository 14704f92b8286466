#include "tests/support/chat_clients.h"

#include <gtest/gtest.h>

#include "tests/support/server_process.h"

#include <chrono>

namespace pchat::testing {

using namespace std::chrono_literals;

client::chat_client& chat_clients::add(uint16_t sip_port, const std::string& user,
                                       client::connection_config cc, client::client_config cfg) {
  cc.server_port = sip_port;
  cfg.user = user;
  if (auto* server = server_process::on_sip_port(sip_port)) {
    std::string why;
    EXPECT_TRUE(server->ensure_user(user, &why)) << why;
  }
  clients_.push_back(std::make_unique<client::chat_client>(loop_, cc, cfg));
  return *clients_.back();
}

client::chat_client& chat_clients::add_known(client::connection_config cc, client::client_config cfg) {
  clients_.push_back(std::make_unique<client::chat_client>(loop_, cc, cfg));
  return *clients_.back();
}

client::chat_client& chat_clients::add_on(std::shared_ptr<client::sip_connection> conn,
                                          const std::string& user, client::client_config cfg) {
  cfg.user = user;
  clients_.push_back(std::make_unique<client::chat_client>(loop_, std::move(conn), cfg));
  return *clients_.back();
}

void expect_clean(const client::chat_client& c) {
  EXPECT_TRUE(c.faults().empty()) << c.self_uri() << ": " << (c.faults().empty() ? "" : c.faults().front());
}

std::string demo_room(client::chat_client& c) {
  auto rooms = c.search_rooms("demo", 5s);
  if (!rooms || rooms->empty()) return {};
  return rooms->front().uri;
}

std::string join_demo(client::chat_client& c) {
  if (!c.sign_in(10s)) return {};
  auto rooms = c.search_rooms("demo", 5s);
  if (!rooms || rooms->empty()) return {};
  auto j = c.join_and_wait(rooms->front().uri, 5s);
  return j && j->ok() ? rooms->front().uri : std::string();
}

}  // namespace pchat::testing
