// What a BACKCHAT compliance event holds: the history the user was sent (reference §4.4:
// "the history content the user requested"), rendered once when the event is captured, so
// that every adapter shows the same text and later admin edits do not change the record.
//
//   content := entry{0..}         one per message returned, oldest first
//   entry   := "[" seq "] " ISO-8601-UTC-seconds " " author-uri ": " text "\n"
//
// Bounded: once the rendering would pass kMaxBackchatContentBytes, the remaining messages
// are listed without their text ("[seq] time author: (text not recorded here: see its CHAT
// event)"), so one join cannot stage megabytes; every message returned is still named by its
// sequence, whose CHAT event holds the text. Pure function, any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "storage/records.h"

namespace pchat::compliance {

inline constexpr size_t kMaxBackchatContentBytes = 256 * 1024;

std::string backchat_content(const std::vector<storage::message_record>& returned);

}  // namespace pchat::compliance
