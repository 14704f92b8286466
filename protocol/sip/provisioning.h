// The in-band provisioning document returned to a client's provisioning-v2 SUBSCRIBE
// (xccos-wire.md §3.4): only the persistentChatConfiguration group. Other groups
// (ServerConfiguration, ...) are left out on purpose: they trigger conferencing and
// address-book work in the client.
#pragma once

#include <string>
#include <string_view>

namespace pchat::sip {

// REQUIRES: pool_uri is a plain "sip:user@host" (no port, no parameters): SIPE rebuilds
// it from the parts around '@'.
std::string encode_provisioning(bool enable_persistent_chat, std::string_view pool_uri);

}  // namespace pchat::sip
