// Archive lines (app/archive_lines): what read_archive says about archives that are not
// what the exporter writes. Inputs found by fuzzing (tests/fuzz/fuzz_archive_lines.cpp) are
// replayed here and kept in tests/fuzz/corpus/archive_lines.
#include <gtest/gtest.h>

#include <sstream>

#include "app/archive_lines.h"

using pchat::app::archive;
using pchat::app::read_archive;

namespace {

const std::string kHeader =
    "{\"format\":\"pchat-archive\",\"version\":1,\"exported_at\":\"2026-12-01T10:00:00.000000Z\"}\n";

std::string read(const std::string& text, archive* a) {
  std::istringstream in(text);
  return read_archive(in, a);
}

}  // namespace

TEST(ArchiveLines, AValidArchiveReadsWhole) {
  archive a;
  EXPECT_EQ(read(kHeader +
                     "{\"type\":\"category\",\"id\":\"c\",\"name\":\"C\",\"file_upload\":false}\n"
                     "{\"type\":\"room\",\"id\":\"r\",\"name\":\"R\",\"category_id\":\"c\",\"privacy\":\"secret\"}\n"
                     "{\"type\":\"message\",\"room\":\"r\",\"seq\":1,\"author\":\"sip:a@b\",\"ts_micros\":5,\"text\":\"hi\"}\n"
                     "{\"type\":\"end\",\"categories\":1,\"rooms\":1,\"messages\":1}\n",
                 &a),
            "");
  ASSERT_EQ(a.categories.size(), 1u);
  EXPECT_FALSE(a.categories[0].file_upload);
  EXPECT_TRUE(a.categories[0].invitations);  // absent: the default
  ASSERT_EQ(a.rooms.size(), 1u);
  EXPECT_EQ(a.rooms[0].privacy, pchat::storage::room_privacy::secret);
  EXPECT_EQ(a.messages["r"].size(), 1u);
}

// Fuzzing found: a field of another JSON type than the format's made nlohmann throw, and the
// import answered 500 "internal error" instead of naming the line.
TEST(ArchiveLines, FieldsOfTheWrongTypeNameTheLineInsteadOfThrowing) {
  struct bad_case {
    std::string text;
    std::string why;
  };
  const bad_case cases[] = {
      {kHeader + "{\"type\":\"category\",\"id\":\"c\",\"name\":\"C\",\"invitations\":\"inherit\"}\n",
       "line 2: invitations must be true or false"},
      {kHeader + "{\"type\":\"category\",\"id\":\"c\",\"name\":\"C\",\"description\":5}\n",
       "line 2: description must be a string"},
      {kHeader + "{\"type\":\"room\",\"id\":\"r\",\"name\":\"R\",\"category_id\":\"c\",\"disabled\":\"no\"}\n",
       "line 2: disabled must be true or false"},
      {kHeader + "{\"type\":\"room\",\"id\":\"r\",\"name\":\"R\",\"category_id\":\"c\",\"privacy\":1}\n",
       "line 2: privacy must be a string"},
      {kHeader + "{\"type\":\"message\",\"room\":\"r\",\"seq\":1,\"author\":\"a\",\"ts_micros\":5,\"text\":\"t\","
                 "\"extra_xml\":[]}\n",
       "line 2: extra_xml must be a string"},
      {kHeader + "{\"type\":7}\n", "line 2: type must be a string"},
      {kHeader + "{\"type\":\"end\",\"categories\":\"0\"}\n", "line 2: categories must be a number >= 0"},
      {"{\"format\":5,\"version\":1}\n", "line 1: not a pchat archive (format must be \"pchat-archive\")"},
      {"{\"format\":\"pchat-archive\",\"version\":\"1\"}\n",
       "line 1: archive version \"1\" is not supported (expected 1)"},
      {"{\"format\":\"pchat-archive\"}\n", "line 1: archive version (none) is not supported (expected 1)"},
  };
  for (const auto& c : cases) {
    archive a;
    std::string why;
    ASSERT_NO_THROW(why = read(c.text, &a)) << c.text;
    EXPECT_EQ(why, c.why) << c.text;
  }
}
