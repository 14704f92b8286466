// The web client's read markers (docs/WEB.md "Unread counts"): how far the user has read
// each room they follow, kept by the server as one preference (label kReadMarkersLabel,
// stored like the followed rooms: protocol/xccos/followed_rooms.h), so a count cleared in one
// browser is cleared in every browser of the user. The one codec of its value: one line per
// room, "<seq> <room uri>\n" (seq: every message up to it has been read).
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace pchat::webchat {

inline constexpr const char* kReadMarkersLabel = "pchat.ReadMarkers";

// Room URI -> seq read through. Lines that are not "<digits> <uri>" are skipped.
std::map<std::string, uint64_t> decode_read_markers(std::string_view stored);
std::string encode_read_markers(const std::map<std::string, uint64_t>& markers);

}  // namespace pchat::webchat
