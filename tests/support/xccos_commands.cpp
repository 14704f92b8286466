#include "tests/support/xccos_commands.h"

#include "protocol/xccos/chat_uri.h"

namespace pchat::testing {

std::string xccos_cmd(const std::string& inner, int envid) {
  return "<xccos ver=\"1\" envid=\"" + std::to_string(envid) +
         "\" xmlns=\"urn:parlano:xml:ns:xccos\">" + inner + "</xccos>";
}

std::string join_cmd(const std::string& room_uri) {
  auto [domain, value] = xccos::parse_room_uri(room_uri).value();
  return xccos_cmd("<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" domain=\"" + domain +
                   "\" value=\"" + value + "\"/></data></cmd>");
}

std::string part_cmd(const std::string& room_uri) {
  return xccos_cmd("<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"" + room_uri +
                   "\"/></data></cmd>");
}

std::string post_cmd(const std::string& room_uri, const std::string& text) {
  return xccos_cmd("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"" + room_uri +
                   "\" author=\"sip:mallory@example.com\" ts=\"2024-05-01T12:34:56Z\"><chat>" +
                   text + "</chat></grpchat>");
}

std::string backchat_cmd(const std::string& room_uri, int count) {
  return xccos_cmd("<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"" + room_uri +
                   "\"/><bcq><last cnt=\"" + std::to_string(count) + "\"/></bcq></data></cmd>");
}

}  // namespace pchat::testing
