// pchat-search-bench: history search latency over a large index (issue 3, "search over
// 1 M messages answers in under a second"; docs/PERFORMANCE.md, "History search").
//
//   pchat-search-bench [--db=/tmp/pchat-search-bench] [--messages=1000000] [--rooms=300]
//                      [--users=2000] [--days=365] [--queries=200] [--seed=42] [--rebuild]
//
// Builds (once; reused while --messages matches the stored count) an index of synthetic
// messages through search::search_index, the server's own writer: 5-25 words each, drawn
// from a 20 000-word vocabulary with a Zipf (s = 1) distribution, so a few words are in most
// messages and most words are rare; 1 % of messages contain the phrase "quarterly report";
// rooms and authors uniform; timestamps spread over --days. Then runs --queries queries of
// each kind through search::search_reader (what GET /api/v1/search runs, without HTTP) over
// every room (the admin's scope) and over a 20-room set (a user's scope), limit 50, and
// prints p50/p99/max latency in ms with the average hit estimate.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "search/search_index.h"

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
  std::string db = "/tmp/pchat-search-bench";
  uint64_t messages = 1000000;
  int rooms = 300;
  int users = 2000;
  int days = 365;
  int queries = 200;
  uint64_t seed = 42;
  bool rebuild = false;
};

bool parse(int argc, char** argv, options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* k) -> const char* {
      size_t n = std::strlen(k);
      return a.compare(0, n, k) == 0 ? a.c_str() + n : nullptr;
    };
    if (auto v = val("--db=")) o->db = v;
    else if (auto v = val("--messages=")) o->messages = std::strtoull(v, nullptr, 10);
    else if (auto v = val("--rooms=")) o->rooms = std::atoi(v);
    else if (auto v = val("--users=")) o->users = std::atoi(v);
    else if (auto v = val("--days=")) o->days = std::atoi(v);
    else if (auto v = val("--queries=")) o->queries = std::atoi(v);
    else if (auto v = val("--seed=")) o->seed = std::strtoull(v, nullptr, 10);
    else if (a == "--rebuild") o->rebuild = true;
    else {
      std::fprintf(stderr, "pchat-search-bench: unknown option %s\n", a.c_str());
      return false;
    }
  }
  return o->messages > 0 && o->rooms > 0 && o->users > 0 && o->days > 0 && o->queries > 0;
}

// Word of vocabulary rank r: distinct, pronounceable, 3-10 letters.
std::string word(size_t r) {
  static const char* syl[] = {"ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "de", "ba",
                              "fu", "go", "hi", "je", "ku", "la", "mo", "ni", "pe", "zo"};
  std::string w;
  size_t x = r + 20;
  while (x > 0) {
    w += syl[x % 20];
    x /= 20;
  }
  return w;
}

constexpr size_t kVocabulary = 20000;
constexpr int64_t kStart = int64_t{1704067200} * 1000000;  // 2024-01-01T00:00:00Z
constexpr int64_t kDay = int64_t{86400} * 1000000;

std::string room_id(int r) { return "room-" + std::to_string(r); }
std::string user_uri(int u) { return "sip:user" + std::to_string(u) + "@example.com"; }

struct zipf {
  std::vector<double> cdf;
  explicit zipf(size_t n) : cdf(n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) cdf[i] = (sum += 1.0 / static_cast<double>(i + 1));
    for (auto& c : cdf) c /= sum;
  }
  size_t draw(std::mt19937_64& rng) {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
  }
};

int build(const options& o) {
  std::unique_ptr<pchat::search::search_index> idx;
  if (auto s = pchat::search::search_index::open(o.db, &idx); !s.is_ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", o.db.c_str(), s.to_string().c_str());
    return 1;
  }
  std::mt19937_64 rng(o.seed);
  zipf z(kVocabulary);
  std::vector<uint64_t> next_seq(static_cast<size_t>(o.rooms), 1);
  auto t0 = clock_type::now();
  for (uint64_t i = 0; i < o.messages; ++i) {
    int room = static_cast<int>(rng() % static_cast<uint64_t>(o.rooms));
    pchat::storage::message_record m;
    m.seq = next_seq[static_cast<size_t>(room)]++;
    m.author = user_uri(static_cast<int>(rng() % static_cast<uint64_t>(o.users)));
    // Time grows with i (as posts do), with jitter.
    m.ts_micros = kStart + static_cast<int64_t>(static_cast<double>(i) / static_cast<double>(o.messages) *
                                                static_cast<double>(o.days * kDay)) +
                  static_cast<int64_t>(rng() % 60000000);
    int words = 5 + static_cast<int>(rng() % 21);
    for (int w = 0; w < words; ++w) {
      if (!m.text.empty()) m.text += ' ';
      m.text += word(z.draw(rng));
    }
    if (rng() % 100 == 0) m.text += " the quarterly report is due";
    if (auto s = idx->add(room_id(room), m); !s.is_ok()) {
      std::fprintf(stderr, "add failed: %s\n", s.to_string().c_str());
      return 1;
    }
    if (idx->pending() >= 100000) {
      if (auto s = idx->commit(); !s.is_ok()) {
        std::fprintf(stderr, "commit failed: %s\n", s.to_string().c_str());
        return 1;
      }
      double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
      std::printf("  indexed %llu messages (%.0f s, %.0f msg/s)\n",
                  static_cast<unsigned long long>(i + 1), secs, static_cast<double>(i + 1) / secs);
      std::fflush(stdout);
    }
  }
  if (auto s = idx->commit(); !s.is_ok()) {
    std::fprintf(stderr, "commit failed: %s\n", s.to_string().c_str());
    return 1;
  }
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("built %llu messages in %.0f s (%.0f msg/s)\n",
              static_cast<unsigned long long>(o.messages), secs, static_cast<double>(o.messages) / secs);
  return 0;
}

uint64_t dir_bytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::recursive_directory_iterator(path, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

struct kind {
  const char* name;
  std::function<void(std::mt19937_64&, pchat::search::search_query*)> make;
};

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: pchat-search-bench [--db=DIR] [--messages=N] [--rooms=N] [--users=N] "
                 "[--days=N] [--queries=N] [--seed=N] [--rebuild]\n");
    return 2;
  }
  std::printf("command:");
  for (int i = 0; i < argc; ++i) std::printf(" %s", argv[i]);
  std::printf("\nbuild type: %s\n", PCHAT_BUILD_TYPE);
  {
    std::unique_ptr<pchat::search::search_index> idx;
    bool have = !o.rebuild && pchat::search::search_index::open(o.db, &idx).is_ok() &&
                idx->doc_count() == o.messages;
    idx.reset();
    if (!have) {
      std::error_code ec;
      std::filesystem::remove_all(o.db, ec);
      std::printf("building the index at %s ...\n", o.db.c_str());
      std::fflush(stdout);
      if (int rc = build(o); rc != 0) return rc;
    } else {
      std::printf("reusing the index at %s\n", o.db.c_str());
    }
  }
  std::printf("index: %llu messages, %d rooms, %d users, %d days, %.0f MB on disk\n",
              static_cast<unsigned long long>(o.messages), o.rooms, o.users, o.days,
              static_cast<double>(dir_bytes(o.db)) / 1e6);

  std::unique_ptr<pchat::search::search_reader> reader;
  if (auto s = pchat::search::search_reader::open(o.db, &reader); !s.is_ok()) {
    std::fprintf(stderr, "cannot open reader: %s\n", s.to_string().c_str());
    return 1;
  }
  std::vector<std::string> all_rooms;
  for (int r = 0; r < o.rooms; ++r) all_rooms.push_back(room_id(r));

  std::vector<kind> kinds = {
      {"word, common (rank 5)", [](auto&, auto* q) { q->text = word(5); }},
      {"word, mid (rank 300)", [](auto&, auto* q) { q->text = word(300); }},
      {"word, rare (rank 15000)", [](auto&, auto* q) { q->text = word(15000); }},
      {"two words", [](auto& rng, auto* q) { q->text = word(rng() % 50) + " " + word(100 + rng() % 900); }},
      {"phrase \"quarterly report\"", [](auto&, auto* q) { q->text = "\"quarterly report\""; }},
      {"author", [&](auto& rng, auto* q) { q->authors = {user_uri(static_cast<int>(rng() % static_cast<uint64_t>(o.users)))}; }},
      {"date range (7 days)", [&](auto& rng, auto* q) {
         q->from_micros = kStart + static_cast<int64_t>(rng() % static_cast<uint64_t>(o.days - 7)) * kDay;
         q->to_micros = q->from_micros + 7 * kDay;
       }},
      {"word + author + 30 days", [&](auto& rng, auto* q) {
         q->text = word(rng() % 20);
         q->authors = {user_uri(static_cast<int>(rng() % static_cast<uint64_t>(o.users)))};
         q->from_micros = kStart + static_cast<int64_t>(rng() % static_cast<uint64_t>(o.days - 30)) * kDay;
         q->to_micros = q->from_micros + 30 * kDay;
       }},
  };
  std::printf("\n%-28s %-8s %8s %8s %8s %12s\n", "query (limit 50)", "scope", "p50 ms", "p99 ms",
              "max ms", "avg matches");
  std::mt19937_64 rng(o.seed + 1);
  double worst = 0;
  for (auto& k : kinds) {
    for (int scope = 0; scope < 2; ++scope) {
      std::vector<double> ms;
      double matches = 0;
      for (int i = 0; i < o.queries; ++i) {
        pchat::search::search_query q;
        k.make(rng, &q);
        if (scope == 0) {
          q.rooms = all_rooms;
          q.every_room = true;  // as the admin API asks for "all rooms"
        } else {
          for (int r = 0; r < 20; ++r) q.rooms.push_back(room_id(static_cast<int>(rng() % static_cast<uint64_t>(o.rooms))));
        }
        pchat::search::search_result res;
        auto t0 = clock_type::now();
        auto s = reader->search(q, &res);
        ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
        if (!s.is_ok()) {
          std::fprintf(stderr, "query failed: %s\n", s.to_string().c_str());
          return 1;
        }
        matches += static_cast<double>(res.total_estimate);
      }
      std::sort(ms.begin(), ms.end());
      auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))]; };
      worst = std::max(worst, ms.back());
      std::printf("%-28s %-8s %8.2f %8.2f %8.2f %12.0f\n", k.name, scope == 0 ? "all" : "20 rooms",
                  pct(0.50), pct(0.99), ms.back(), matches / o.queries);
    }
  }
  std::printf("\nslowest single query: %.2f ms (goal: under 1000 ms)\n", worst);
  return worst < 1000 ? 0 : 1;
}
