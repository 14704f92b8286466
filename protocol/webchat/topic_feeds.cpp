#include "protocol/webchat/topic_feeds.h"

#include <nlohmann/json.hpp>

namespace pchat::webchat {

std::vector<topic_feed> decode_topic_feeds(std::string_view stored) {
  std::vector<topic_feed> out;
  auto j = nlohmann::json::parse(stored, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return out;
  for (auto& e : j) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_number_unsigned()) continue;
    topic_feed f;
    f.id = e["id"].get<uint64_t>();
    if (auto q = e.find("q"); q != e.end() && q->is_string()) f.q = q->get<std::string>();
    if (auto a = e.find("author"); a != e.end() && a->is_string()) f.author = a->get<std::string>();
    if (auto s = e.find("seen"); s != e.end() && s->is_number_integer())
      f.seen_micros = s->get<int64_t>();
    if (f.q.empty() && f.author.empty()) continue;
    out.push_back(std::move(f));
  }
  return out;
}

std::string encode_topic_feeds(const std::vector<topic_feed>& feeds) {
  nlohmann::json j = nlohmann::json::array();
  for (auto& f : feeds)
    j.push_back({{"id", f.id}, {"q", f.q}, {"author", f.author}, {"seen", f.seen_micros}});
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pchat::webchat
