// libFuzzer target: an archive file given to POST /api/v1/import (app/archive_lines), read
// line by line before anything is checked against the store or written. It must end in an
// archive or a reason naming the line, never an exception or a crash; what it accepted must
// export to lines that read back to the same counts.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "app/archive_lines.h"
#include "tests/fuzz/fuzz_check.h"

using json = nlohmann::json;
using namespace pchat::app;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  archive a;
  std::string why;
  try {
    why = read_archive(in, &a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "read_archive threw: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  if (!why.empty()) return 0;
  // Export what was read (as handle_export writes it) and read it back.
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  std::ostringstream out;
  out << dump(json{{"format", kArchiveFormat}, {"version", kArchiveVersion}}) << "\n";
  size_t messages = 0;
  for (auto& c : a.categories) out << dump(category_line(c)) << "\n";
  for (auto& r : a.rooms) out << dump(room_line(r, "example.com")) << "\n";
  for (auto& [room, list] : a.messages)
    for (auto& m : list) {
      out << dump(message_line(room, m)) << "\n";
      ++messages;
    }
  out << dump(json{{"type", "end"}, {"categories", a.categories.size()}, {"rooms", a.rooms.size()},
                   {"messages", messages}})
      << "\n";
  std::istringstream again(out.str());
  archive b;
  std::string why2 = read_archive(again, &b);
  if (!why2.empty()) std::fprintf(stderr, "re-read failed: %s\n", why2.c_str());
  FUZZ_CHECK(why2.empty());
  FUZZ_CHECK(b.categories.size() == a.categories.size() && b.rooms.size() == a.rooms.size());
  return 0;
}
