// The archive format's lines (docs/ARCHIVE.md: JSON Lines, a header, categories, rooms,
// messages, an end record) <-> store records: one codec for the format, used by the admin
// API's export and import (app/admin_archive). Pure functions: no actors, no store, so the
// reader can be fuzzed on its own (tests/fuzz/fuzz_archive_lines.cpp).
// Errors are values: read_archive returns what is wrong with which line, never throws on
// the archive's content.
#pragma once

#include <nlohmann/json.hpp>

#include <istream>
#include <map>
#include <string>
#include <vector>

#include "storage/records.h"

namespace pchat::app {

inline constexpr const char* kArchiveFormat = "pchat-archive";  // DO NOT CHANGE: archived
inline constexpr int kArchiveVersion = 1;

// One line each (enum names DO NOT CHANGE: archived).
nlohmann::json category_line(const storage::category_record& c);
nlohmann::json room_line(const storage::room_record& r, const std::string& domain);
nlohmann::json message_line(const std::string& room_id, const storage::message_record& m);

// A whole archive as read, before it is checked against the store.
struct archive {
  std::vector<storage::category_record> categories;
  std::vector<storage::room_record> rooms;
  std::map<std::string, std::vector<storage::message_record>> messages;  // by room id
};

// Reads every line of `in`: the header (format, version), records, and the end record whose
// counts must match. Returns "" or what is wrong, with the line number.
std::string read_archive(std::istream& in, archive* a);

}  // namespace pchat::app
