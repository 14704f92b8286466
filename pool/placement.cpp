#include "pool/placement.h"

#include <algorithm>

namespace pchat::pool {
namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv1a64(std::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t rendezvous_weight(std::string_view key, std::string_view node) {
  return splitmix64(fnv1a64(node, fnv1a64(key, kFnvOffset) ^ 0x9e3779b97f4a7c15ull));
}

std::vector<std::string> rank(std::string_view key, std::vector<std::string> nodes) {
  std::vector<std::pair<uint64_t, std::string>> weighted;
  weighted.reserve(nodes.size());
  for (auto& n : nodes) weighted.emplace_back(rendezvous_weight(key, n), std::move(n));
  std::sort(weighted.begin(), weighted.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  out.reserve(weighted.size());
  for (auto& w : weighted) out.push_back(std::move(w.second));
  return out;
}

}  // namespace pchat::pool
