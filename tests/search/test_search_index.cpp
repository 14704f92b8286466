// The history search index (search/search_index.h): words, phrases, authors, date ranges,
// room filters, result caps, replacement and restart (high-water marks).
#include <gtest/gtest.h>

#include "search/search_index.h"
#include "search/search_merge.h"
#include "tests/support/temp_dir.h"

namespace pchat::search {
namespace {

using storage::message_record;
using pchat::testing::temp_dir;

constexpr int64_t kDay = int64_t{86400} * 1000000;
constexpr int64_t kT0 = int64_t{1714521600} * 1000000;  // 2024-05-01T00:00:00Z

message_record msg(uint64_t seq, std::string author, int64_t ts, std::string text) {
  message_record m;
  m.seq = seq;
  m.author = std::move(author);
  m.ts_micros = ts;
  m.text = std::move(text);
  return m;
}

class SearchIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/search";
    ASSERT_TRUE(search_index::open(path_, &index_).is_ok());
    add("roomA", msg(1, "sip:alice@example.com", kT0, "The quarterly report is ready"));
    add("roomA", msg(2, "sip:bob@example.com", kT0 + kDay, "Report ready? Quarterly numbers look good"));
    add("roomA", msg(3, "sip:alice@example.com", kT0 + 2 * kDay, "lunch at noon"));
    add("roomB", msg(1, "sip:carol@example.com", kT0 + 3 * kDay, "the quarterly report is late"));
    ASSERT_TRUE(index_->commit().is_ok());
    ASSERT_TRUE(search_reader::open(path_, &reader_).is_ok());
  }
  void add(const std::string& room, const message_record& m) {
    ASSERT_TRUE(index_->add(room, m).is_ok());
  }
  search_result run(search_query q) {
    if (q.rooms.empty()) q.rooms = {"roomA", "roomB"};
    search_result r;
    auto s = reader_->search(q, &r);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return r;
  }
  static std::vector<std::string> keys(const search_result& r) {
    std::vector<std::string> out;
    for (auto& h : r.hits) out.push_back(h.room_id + "#" + std::to_string(h.seq));
    return out;
  }

  temp_dir dir_;
  std::string path_;
  std::unique_ptr<search_index> index_;
  std::unique_ptr<search_reader> reader_;
};

TEST_F(SearchIndex, WordsMatchAllOfThemCaseInsensitiveNewestFirst) {
  search_query q;
  q.text = "QUARTERLY report";
  auto r = run(q);
  EXPECT_EQ(keys(r), (std::vector<std::string>{"roomB#1", "roomA#2", "roomA#1"}));
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.hits[2].author, "sip:alice@example.com");
  EXPECT_EQ(r.hits[2].ts_micros, kT0);
  EXPECT_EQ(r.hits[2].text, "The quarterly report is ready");
}

TEST_F(SearchIndex, WordsAreNotStemmed) {
  search_query q;
  q.text = "reports";
  EXPECT_TRUE(run(q).hits.empty());
}

TEST_F(SearchIndex, ExactPhraseNeedsTheWordsInOrder) {
  search_query q;
  q.text = "\"quarterly report\"";
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomB#1", "roomA#1"}));
  q.text = "\"report quarterly\"";
  EXPECT_TRUE(run(q).hits.empty());
}

TEST_F(SearchIndex, ExcludedWordRemovesHits) {
  search_query q;
  q.text = "quarterly -late";
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomA#2", "roomA#1"}));
}

TEST_F(SearchIndex, AuthorFilterAcceptsUriWithOrWithoutSipAnyCase) {
  search_query q;
  q.authors = {"Alice@Example.com"};
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomA#3", "roomA#1"}));
  q.authors = {"sip:alice@example.com", "sip:carol@example.com"};
  q.text = "report";
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomB#1", "roomA#1"}));
}

TEST_F(SearchIndex, DateRangeIsInclusive) {
  search_query q;
  q.from_micros = kT0 + kDay;
  q.to_micros = kT0 + 2 * kDay;
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomA#3", "roomA#2"}));
  q.to_micros = 0;  // open end
  EXPECT_EQ(run(q).hits.size(), 3u);
  q.from_micros = 0;
  q.to_micros = kT0;  // open start
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomA#1"}));
}

TEST_F(SearchIndex, StartAfterEndIsRejected) {
  search_query q;
  q.rooms = {"roomA"};
  q.from_micros = kT0 + kDay;
  q.to_micros = kT0;
  search_result r;
  EXPECT_TRUE(reader_->search(q, &r).is_invalid_argument());
}

TEST_F(SearchIndex, OnlyReadableRoomsAreSearched) {
  search_query q;
  q.text = "quarterly";
  q.rooms = {"roomB"};
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomB#1"}));
  q.rooms = {"roomC"};
  EXPECT_TRUE(run(q).hits.empty());
}

TEST_F(SearchIndex, NoReadableRoomMeansNoResults) {
  search_query q;
  q.text = "quarterly";
  search_result r;
  ASSERT_TRUE(reader_->search(q, &r).is_ok());  // q.rooms empty: the caller may read nothing
  EXPECT_TRUE(r.hits.empty());
}

TEST_F(SearchIndex, LimitCapsResultsAndReportsTruncation) {
  search_query q;
  q.text = "quarterly";
  q.limit = 2;
  auto r = run(q);
  EXPECT_EQ(keys(r), (std::vector<std::string>{"roomB#1", "roomA#2"}));
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.limit, 2u);
  EXPECT_GE(r.total_estimate, 2u);
  q.limit = 3;
  EXPECT_FALSE(run(q).truncated);
  q.limit = 100000;
  EXPECT_EQ(run(q).limit, kMaxLimit);
}

TEST_F(SearchIndex, ReplacementReplacesTheHit) {
  add("roomA", msg(1, "sip:alice@example.com", kT0, "This message was replaced by the Persistent Chat administrator."));
  ASSERT_TRUE(index_->commit().is_ok());
  search_query q;
  q.text = "\"quarterly report\"";
  EXPECT_EQ(keys(run(q)), (std::vector<std::string>{"roomB#1"}));
  q.text = "replaced administrator";
  auto r = run(q);
  ASSERT_EQ(keys(r), (std::vector<std::string>{"roomA#1"}));
  EXPECT_EQ(index_->doc_count(), 4u);  // replaced, not added
}

TEST_F(SearchIndex, ReadersSeeOnlyCommittedDocuments) {
  add("roomB", msg(2, "sip:carol@example.com", kT0 + 4 * kDay, "zebra"));
  search_query q;
  q.text = "zebra";
  EXPECT_TRUE(run(q).hits.empty());
  ASSERT_TRUE(index_->commit().is_ok());
  EXPECT_EQ(run(q).hits.size(), 1u);
}

TEST_F(SearchIndex, HighWaterMarksSurviveReopenButUncommittedAddsDoNot) {
  EXPECT_EQ(index_->indexed_through("roomA"), 3u);
  add("roomB", msg(2, "sip:carol@example.com", kT0, "never committed"));
  EXPECT_EQ(index_->indexed_through("roomB"), 2u);
  reader_.reset();
  index_.reset();
  ASSERT_TRUE(search_index::open(path_, &index_).is_ok());
  EXPECT_EQ(index_->indexed_through("roomA"), 3u);
  EXPECT_EQ(index_->indexed_through("roomB"), 1u);  // catch-up restarts after seq 1
  EXPECT_EQ(index_->indexed_through("roomC"), 0u);
}

TEST_F(SearchIndex, BadQuerySyntaxIsInvalidArgument) {
  search_query q;
  q.rooms = {"roomA"};
  q.text = "\"unterminated";  // Xapian accepts this as a phrase; the index must not fail
  search_result r;
  auto s = reader_->search(q, &r);
  EXPECT_TRUE(s.is_ok() || s.is_invalid_argument()) << s.to_string();
}

TEST(SearchIndexOpen, ReaderOnAMissingIndexIsNotFound) {
  temp_dir dir;
  std::unique_ptr<search_index> idx;
  ASSERT_TRUE(search_index::open(dir.path() + "/s", &idx).is_ok());
  ASSERT_TRUE(idx->add("r", msg(1, "sip:a@b", 1, "x")).is_ok());
  ASSERT_TRUE(idx->commit().is_ok());
  idx.reset();
  // A reader on a missing directory is not_found (the server then answers 503).
  std::unique_ptr<search_reader> reader;
  EXPECT_TRUE(search_reader::open(dir.path() + "/missing", &reader).is_not_found());
}

TEST(SearchIndexOpen, InvalidMessageIsRejected) {
  temp_dir dir;
  std::unique_ptr<search_index> idx;
  ASSERT_TRUE(search_index::open(dir.path() + "/s", &idx).is_ok());
  EXPECT_TRUE(idx->add("", msg(1, "sip:a@b", 1, "x")).is_invalid_argument());
  EXPECT_TRUE(idx->add("r", msg(0, "sip:a@b", 1, "x")).is_invalid_argument());
  EXPECT_EQ(idx->pending(), 0u);
}

}  // namespace
}  // namespace pchat::search

// ---- merge_results (search/search_merge.h): the answers of a pool's nodes
namespace {
pchat::search::search_hit hit(const std::string& room, uint64_t seq, int64_t ts) {
  pchat::search::search_hit h;
  h.room_id = room;
  h.seq = seq;
  h.ts_micros = ts;
  h.text = room + "#" + std::to_string(seq);
  return h;
}
}  // namespace

TEST(MergeResults, DropsRepeatsFromTwoCopiesAndKeepsNewestFirst) {
  pchat::search::search_result owner, follower, other;
  owner.hits = {hit("r1", 3, 300), hit("r1", 2, 200)};
  owner.total_estimate = 2;
  follower.hits = {hit("r1", 3, 300), hit("r1", 2, 200)};  // the same room's copy
  follower.total_estimate = 2;
  other.hits = {hit("r2", 7, 250), hit("r2", 1, 100)};
  other.total_estimate = 2;
  auto r = pchat::search::merge_results({owner, follower, other}, 50);
  ASSERT_EQ(r.hits.size(), 4u);
  EXPECT_EQ(r.hits[0].text, "r1#3");
  EXPECT_EQ(r.hits[1].text, "r2#7");
  EXPECT_EQ(r.hits[2].text, "r1#2");
  EXPECT_EQ(r.hits[3].text, "r2#1");
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.total_estimate, 2u);
  EXPECT_EQ(r.limit, 50u);
}

TEST(MergeResults, CutsToTheLimitAndSaysSo) {
  pchat::search::search_result a, b;
  a.hits = {hit("r1", 2, 20), hit("r1", 1, 10)};
  b.hits = {hit("r2", 2, 30), hit("r2", 1, 5)};
  auto r = pchat::search::merge_results({a, b}, 3);
  ASSERT_EQ(r.hits.size(), 3u);
  EXPECT_EQ(r.hits[0].text, "r2#2");
  EXPECT_EQ(r.hits[2].text, "r1#1");
  EXPECT_TRUE(r.truncated);
  b.truncated = true;
  EXPECT_TRUE(pchat::search::merge_results({a, b}, 10).truncated) << "a truncated part truncates the whole";
}

TEST(MergeResults, EqualTimesAreOrderedTheSameWayEveryTime) {
  pchat::search::search_result a, b;
  a.hits = {hit("r2", 1, 10)};
  b.hits = {hit("r1", 1, 10), hit("r1", 2, 10)};
  auto x = pchat::search::merge_results({a, b}, 10);
  auto y = pchat::search::merge_results({b, a}, 10);
  ASSERT_EQ(x.hits.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(x.hits[i].text, y.hits[i].text);
  EXPECT_EQ(x.hits[0].text, "r1#2");
}
