// The web client's topic feeds (docs/WEB.md "Topic feeds"): a user's saved searches (words
// and/or an author) that light up when a matching message is posted in a room they may
// read, as Lync's client offered. Kept by the server as one preference (kTopicFeedsLabel),
// so they follow the user between browsers. The one codec of its value: a JSON array of
// {"id", "q", "author", "seen"} (seen: microseconds since the epoch up to which the feed's
// matches have been looked at).
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pchat::webchat {

inline constexpr const char* kTopicFeedsLabel = "pchat.TopicFeeds";
inline constexpr size_t kMaxTopicFeeds = 20;

struct topic_feed {
  uint64_t id = 0;
  std::string q, author;
  int64_t seen_micros = 0;
  bool operator==(const topic_feed&) const = default;
};

// The stored feeds; an unreadable value or entry is skipped.
std::vector<topic_feed> decode_topic_feeds(std::string_view stored);
std::string encode_topic_feeds(const std::vector<topic_feed>& feeds);

}  // namespace pchat::webchat
