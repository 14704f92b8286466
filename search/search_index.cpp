#include "search/search_index.h"

#include <xapian.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace pchat::search {
namespace {

constexpr Xapian::valueno kSlotTs = 0;           // DO NOT CHANGE: embedded in the index
constexpr const char* kFormatKey = "format";     // metadata key holding kIndexFormat
constexpr const char* kHighWaterPrefix = "hw:";  // metadata key prefix, then the room id
// Xapian refuses terms over 245 bytes; a longer author is indexed by its first bytes.
constexpr size_t kMaxTermBytes = 240;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string author_term(const std::string& author) {
  std::string a = lower(author);
  if (a.rfind("sip:", 0) != 0) a = "sip:" + a;
  std::string t = "A" + a;
  if (t.size() > kMaxTermBytes) t.resize(kMaxTermBytes);
  return t;
}
std::string room_term(const std::string& room_id) { return "R" + room_id; }
std::string unique_term(const std::string& room_id, uint64_t seq) {
  return "Q" + room_id + "#" + std::to_string(seq);
}

std::string encode_data(const std::string& room_id, const storage::message_record& m) {
  std::string d;
  d.reserve(room_id.size() + m.author.size() + m.text.size() + 48);
  d += room_id;
  d += '\0';
  d += std::to_string(m.seq);
  d += '\0';
  d += m.author;
  d += '\0';
  d += std::to_string(m.ts_micros);
  d += '\0';
  d += m.text;
  return d;
}

bool decode_data(const std::string& d, search_hit* h) {
  size_t p[4];
  size_t from = 0;
  for (auto& pos : p) {
    pos = d.find('\0', from);
    if (pos == std::string::npos) return false;
    from = pos + 1;
  }
  h->room_id = d.substr(0, p[0]);
  h->seq = std::strtoull(d.c_str() + p[0] + 1, nullptr, 10);
  h->author = d.substr(p[1] + 1, p[2] - p[1] - 1);
  h->ts_micros = std::strtoll(d.c_str() + p[2] + 1, nullptr, 10);
  h->text = d.substr(p[3] + 1);
  return true;
}

status from_xapian(const char* what, const Xapian::Error& e) {
  return status::io_error(std::string(what) + ": " + e.get_type() + ": " + e.get_msg());
}

}  // namespace

// ---------------------------------------------------------------- writer

struct search_index::impl {
  Xapian::WritableDatabase db;
  Xapian::TermGenerator gen;
};

search_index::~search_index() {
  if (!impl_) return;
  try {
    impl_->db.close();  // uncommitted adds are dropped; the high-water marks cover them
  } catch (const Xapian::Error&) {
  }
}

status search_index::open(const std::string& path, std::unique_ptr<search_index>* out) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::unique_ptr<search_index> idx(new search_index());
  try {
    idx->impl_ = std::make_unique<impl>();
    idx->impl_->db = Xapian::WritableDatabase(path, Xapian::DB_CREATE_OR_OPEN);
    std::string format = idx->impl_->db.get_metadata(kFormatKey);
    if (format.empty() && idx->impl_->db.get_doccount() == 0) {
      idx->impl_->db.set_metadata(kFormatKey, std::to_string(kIndexFormat));
      idx->impl_->db.commit();
    } else if (format != std::to_string(kIndexFormat)) {
      return status::corruption("search index at " + path + " has format '" + format +
                                "', expected " + std::to_string(kIndexFormat) +
                                "; delete it to rebuild from the store");
    }
    for (auto it = idx->impl_->db.metadata_keys_begin(kHighWaterPrefix);
         it != idx->impl_->db.metadata_keys_end(kHighWaterPrefix); ++it) {
      std::string key = *it;
      idx->high_water_[key.substr(3)] =
          std::strtoull(idx->impl_->db.get_metadata(key).c_str(), nullptr, 10);
    }
    idx->impl_->gen.set_flags(0);  // positions are on by default (index_text), no spelling
  } catch (const Xapian::Error& e) {
    return from_xapian("cannot open search index", e);
  }
  *out = std::move(idx);
  return status::ok();
}

status search_index::remove(const std::string& room_id, uint64_t seq) {
  try {
    impl_->db.delete_document(unique_term(room_id, seq));
  } catch (const Xapian::Error& e) {
    return from_xapian("cannot remove message from the index", e);
  }
  ++pending_;
  return status::ok();
}

status search_index::add(const std::string& room_id, const storage::message_record& m) {
  if (room_id.empty() || m.seq == 0)
    return status::invalid_argument("search index: empty room id or seq 0");
  try {
    Xapian::Document doc;
    auto& gen = impl_->gen;
    gen.set_document(doc);
    gen.index_text(m.text);  // words with positions; lowercased by Xapian, not stemmed
    std::string q = unique_term(room_id, m.seq);
    doc.add_boolean_term(q);
    doc.add_boolean_term(room_term(room_id));
    doc.add_boolean_term(author_term(m.author));
    doc.add_value(kSlotTs, Xapian::sortable_serialise(static_cast<double>(m.ts_micros)));
    doc.set_data(encode_data(room_id, m));
    impl_->db.replace_document(q, doc);
  } catch (const Xapian::Error& e) {
    return from_xapian("cannot index message", e);
  }
  ++pending_;
  auto& hw = high_water_[room_id];
  if (m.seq > hw) {
    hw = m.seq;
    dirty_[room_id] = hw;
  }
  return status::ok();
}

status search_index::commit() {
  try {
    for (auto& [room, seq] : dirty_) impl_->db.set_metadata(kHighWaterPrefix + room, std::to_string(seq));
    impl_->db.commit();
  } catch (const Xapian::Error& e) {
    return from_xapian("cannot commit search index", e);
  }
  dirty_.clear();
  pending_ = 0;
  return status::ok();
}

uint64_t search_index::indexed_through(const std::string& room_id) const {
  auto it = high_water_.find(room_id);
  return it == high_water_.end() ? 0 : it->second;
}

uint64_t search_index::doc_count() const {
  try {
    return impl_->db.get_doccount();
  } catch (const Xapian::Error&) {
    return 0;
  }
}

// ---------------------------------------------------------------- reader

struct search_reader::impl {
  Xapian::Database db;
};

search_reader::~search_reader() = default;

status search_reader::open(const std::string& path, std::unique_ptr<search_reader>* out) {
  std::unique_ptr<search_reader> r(new search_reader());
  try {
    r->impl_ = std::make_unique<impl>();
    r->impl_->db = Xapian::Database(path);
  } catch (const Xapian::DatabaseNotFoundError& e) {
    return status::not_found("no search index at " + path + " yet: " + e.get_msg());
  } catch (const Xapian::DatabaseOpeningError& e) {
    return status::not_found("cannot open search index at " + path + ": " + e.get_msg());
  } catch (const Xapian::Error& e) {
    return from_xapian("cannot open search index", e);
  }
  *out = std::move(r);
  return status::ok();
}

status search_reader::search(const search_query& q, search_result* out) {
  *out = search_result{};
  out->limit = std::clamp<size_t>(q.limit, 1, kMaxLimit);
  if (q.from_micros != 0 && q.to_micros != 0 && q.from_micros > q.to_micros)
    return status::invalid_argument("the start date is after the end date");
  if (q.rooms.empty() && !q.every_room) return status::ok();  // the caller may read no room
  try {
    impl_->db.reopen();  // see the writer's newest commit
    Xapian::Query query = Xapian::Query::MatchAll;
    if (!q.text.empty()) {
      Xapian::QueryParser parser;
      parser.set_database(impl_->db);
      parser.set_default_op(Xapian::Query::OP_AND);
      try {
        query = parser.parse_query(q.text, Xapian::QueryParser::FLAG_PHRASE |
                                               Xapian::QueryParser::FLAG_LOVEHATE |
                                               Xapian::QueryParser::FLAG_PURE_NOT);
      } catch (const Xapian::QueryParserError& e) {
        return status::invalid_argument("cannot parse the search text: " + e.get_msg());
      }
      if (query.empty()) query = Xapian::Query::MatchAll;  // only punctuation
    }
    std::vector<Xapian::Query> rooms;
    for (auto& r : q.rooms) rooms.emplace_back(room_term(r));
    Xapian::Query filter = q.every_room ? Xapian::Query::MatchAll
                                        : Xapian::Query(Xapian::Query::OP_OR, rooms.begin(), rooms.end());
    if (q.every_room && !q.excluded_rooms.empty()) {
      std::vector<Xapian::Query> out;
      for (auto& r : q.excluded_rooms) out.emplace_back(room_term(r));
      filter = Xapian::Query(Xapian::Query::OP_AND_NOT, filter,
                             Xapian::Query(Xapian::Query::OP_OR, out.begin(), out.end()));
    }
    if (!q.authors.empty()) {
      std::vector<Xapian::Query> authors;
      for (auto& a : q.authors) authors.emplace_back(author_term(a));
      filter = Xapian::Query(Xapian::Query::OP_AND, filter,
                             Xapian::Query(Xapian::Query::OP_OR, authors.begin(), authors.end()));
    }
    if (q.from_micros != 0 || q.to_micros != 0) {
      Xapian::Query range =
          q.to_micros == 0
              ? Xapian::Query(Xapian::Query::OP_VALUE_GE, kSlotTs,
                              Xapian::sortable_serialise(static_cast<double>(q.from_micros)))
          : q.from_micros == 0
              ? Xapian::Query(Xapian::Query::OP_VALUE_LE, kSlotTs,
                              Xapian::sortable_serialise(static_cast<double>(q.to_micros)))
              : Xapian::Query(Xapian::Query::OP_VALUE_RANGE, kSlotTs,
                              Xapian::sortable_serialise(static_cast<double>(q.from_micros)),
                              Xapian::sortable_serialise(static_cast<double>(q.to_micros)));
      filter = Xapian::Query(Xapian::Query::OP_AND, filter, range);
    }
    Xapian::Enquire enquire(impl_->db);
    enquire.set_query(filter.get_type() == Xapian::Query::LEAF_MATCH_ALL
                          ? query
                          : Xapian::Query(Xapian::Query::OP_FILTER, query, filter));
    enquire.set_weighting_scheme(Xapian::BoolWeight());  // order is by time, not relevance
    enquire.set_sort_by_value(kSlotTs, true);             // newest first
    Xapian::MSet mset = enquire.get_mset(0, out->limit, out->limit + 1);
    out->total_estimate = mset.get_matches_estimated();
    out->truncated = mset.get_matches_lower_bound() > mset.size();
    for (auto it = mset.begin(); it != mset.end(); ++it) {
      search_hit h;
      if (!decode_data(it.get_document().get_data(), &h))
        return status::corruption("search index document " + std::to_string(*it) + " is malformed");
      out->hits.push_back(std::move(h));
    }
  } catch (const Xapian::Error& e) {
    return from_xapian("search failed", e);
  }
  return status::ok();
}

}  // namespace pchat::search
