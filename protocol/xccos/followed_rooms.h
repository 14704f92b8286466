// The followed-rooms list a user keeps on the server: the preference `kedzie.GroupChannels`
// (cmd:setpref / cmd:getpref; xccos-wire.md 5.11), so every client of the user shows the
// same list. The one codec of its value. A client stores the value as base64 text; what the
// Microsoft clients put inside it is not documented, so decode reads every room URI
// (`ma-chan://...`) found in the decoded text and ignores the rest, and encode writes the
// form pchat's web client and a SIP client can both read back: base64 of the URIs, one per
// line ("\n"), in the order they were followed.
//
// Threads: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pchat::xccos {

inline constexpr const char* kFollowedRoomsLabel = "kedzie.GroupChannels";
// Rooms one user may follow: keeps the list (and a browser's batch of joins) bounded.
inline constexpr size_t kMaxFollowedRooms = 500;

// The room URIs of the stored value, first occurrence of each, in order; empty for an empty
// or unreadable value (text that is not base64 is read as it is).
std::vector<std::string> decode_followed_rooms(std::string_view stored);
std::string encode_followed_rooms(const std::vector<std::string>& rooms);

}  // namespace pchat::xccos
