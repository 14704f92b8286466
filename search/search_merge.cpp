#include "search/search_merge.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

namespace pchat::search {

search_result merge_results(std::vector<search_result> parts, size_t limit) {
  search_result out;
  out.limit = limit;
  std::set<std::pair<std::string, uint64_t>> seen;
  for (auto& p : parts) {
    out.total_estimate = std::max(out.total_estimate, p.total_estimate);
    out.truncated = out.truncated || p.truncated;
    for (auto& h : p.hits)
      if (seen.emplace(h.room_id, h.seq).second) out.hits.push_back(std::move(h));
  }
  std::sort(out.hits.begin(), out.hits.end(), [](const search_hit& a, const search_hit& b) {
    if (a.ts_micros != b.ts_micros) return a.ts_micros > b.ts_micros;
    if (a.room_id != b.room_id) return a.room_id < b.room_id;
    return a.seq > b.seq;
  });
  if (out.hits.size() > limit) {
    out.hits.resize(limit);
    out.truncated = true;
  }
  return out;
}

}  // namespace pchat::search
