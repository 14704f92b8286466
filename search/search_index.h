// Full-text index of room history on Xapian (Debian libxapian-dev). No CAF, no SIP, no
// RocksDB: the store stays the source of truth and this index can always be rebuilt from it.
//
// One Xapian document per stored message:
//   unique term   "Q" room_id "#" seq               (replace_document key; re-indexing the
//                                                    same message replaces it, never duplicates)
//   boolean terms "R" room_id                        (room filter)
//                 "A" lowercase(author)              (author filter)
//   free text     the words of the text, lowercased, NOT stemmed, with positions (phrases)
//   value slot 0  sortable_serialise(ts_micros)      (date range, newest-first order)
//   data          room_id 0x00 seq 0x00 author 0x00 ts_micros 0x00 text
//                 (decimal numbers; the text is last so it may hold any byte)
//   metadata      "hw:" room_id -> decimal seq: every message of the room up to this seq has
//                 been indexed and committed (the high-water mark used to catch up at start)
// DO NOT CHANGE the prefixes, the slot or the data layout without bumping kIndexFormat:
// they are embedded in the on-disk index. A format mismatch makes open() report corruption;
// delete <data-dir>/search and the server rebuilds it from the store.
//
// Queries: words are ANDed; "double quotes" make an exact phrase; +word / -word require or
// exclude. Matching is case-insensitive and exact per word (no stemming: "post" does not
// find "posted"). Results come newest first.
//
// Threading: one search_index (the writer) per directory, used by one thread (the indexer
// actor). search_reader objects may live on other threads (one thread each) and see what the
// writer has committed, after their next search() (each search reopens to the newest commit).
// Errors are values: nothing here throws across the interface.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/records.h"
#include "status/status.h"

namespace pchat::search {

using ::pchat::status;

// Bumped when the document layout above changes. DO NOT CHANGE existing values.
inline constexpr int kIndexFormat = 1;
// Server-side result cap: a query asks for at most this many hits (the reference's cap is
// undocumented; 1000 keeps an answer under ~1 MB of JSON).
inline constexpr size_t kMaxLimit = 1000;
inline constexpr size_t kDefaultLimit = 50;

struct search_query {
  std::string text;                  // words and "phrases"; empty matches any text
  std::vector<std::string> rooms;    // room ids the caller may read; empty = no results
  // The caller may read every room except `excluded_rooms` (an administrator): no room
  // filter is built, which keeps all-room queries cheap (a 300-term OR filter cost a
  // cold query over 1 M messages about a second).
  bool every_room = false;
  std::vector<std::string> excluded_rooms;
  std::vector<std::string> authors;  // SIP URIs ("sip:" optional); empty = any author
  int64_t from_micros = 0;           // ts >= from (0 = unbounded)
  int64_t to_micros = 0;             // ts <= to (0 = unbounded)
  size_t limit = kDefaultLimit;      // clamped to 1..kMaxLimit
};

struct search_hit {
  std::string room_id;
  uint64_t seq = 0;
  std::string author;
  int64_t ts_micros = 0;
  std::string text;
};

struct search_result {
  std::vector<search_hit> hits;  // newest first, at most the query's limit
  uint64_t total_estimate = 0;   // Xapian's estimate of all matches
  size_t limit = 0;              // the limit applied (after clamping)
  bool truncated = false;        // more matches exist than were returned
};

// The writer. Adds are buffered by Xapian until commit().
class search_index {
 public:
  // Opens or creates the index at `path` (parents created). corruption if the directory
  // holds an index of another format; io_error for anything Xapian refuses (another writer
  // holds the lock, permissions).
  static status open(const std::string& path, std::unique_ptr<search_index>* out);
  ~search_index();
  search_index(const search_index&) = delete;
  search_index& operator=(const search_index&) = delete;

  // Indexes (or re-indexes, replacing) one message of a room. invalid_argument for an empty
  // room id or seq 0; nothing is indexed then.
  status add(const std::string& room_id, const storage::message_record& m);
  // Drops one message (Clear-CsPersistentChatRoom); unknown ones are ignored.
  status remove(const std::string& room_id, uint64_t seq);
  // Documents added since the last commit.
  size_t pending() const { return pending_; }
  // Makes every add durable and visible to readers, with the rooms' high-water marks.
  status commit();
  // Highest seq of the room indexed so far (committed or pending); 0 if none.
  uint64_t indexed_through(const std::string& room_id) const;
  // Every room's high-water mark (committed or pending), by room id.
  const std::map<std::string, uint64_t>& high_water() const { return high_water_; }
  // Number of documents committed (for status pages and tests).
  uint64_t doc_count() const;

 private:
  search_index() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
  size_t pending_ = 0;
  std::map<std::string, uint64_t> high_water_;  // room id -> highest seq added
  std::map<std::string, uint64_t> dirty_;       // marks to write at the next commit
};

// A reader. open() fails with not_found until a writer has created the index.
class search_reader {
 public:
  static status open(const std::string& path, std::unique_ptr<search_reader>* out);
  ~search_reader();
  search_reader(const search_reader&) = delete;
  search_reader& operator=(const search_reader&) = delete;
  // invalid_argument for a query the parser rejects (with its message) or from > to.
  status search(const search_query& q, search_result* out);

 private:
  search_reader() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pchat::search
