// The one result type: each kind answers only its own predicate, keeps its reason, and
// prints as "<Kind>: <reason>" (what logs and HTTP error bodies show).
#include "status/status.h"

#include <gtest/gtest.h>

namespace pchat {
namespace {

TEST(Status, DefaultAndOkAreOkWithoutReason) {
  EXPECT_TRUE(status().is_ok());
  EXPECT_TRUE(status::ok().is_ok());
  EXPECT_EQ(status::ok().kind(), status::code::ok);
  EXPECT_EQ(status::ok().reason(), "");
  EXPECT_EQ(status::ok().to_string(), "OK");
}

TEST(Status, EachKindAnswersOnlyItsOwnPredicateAndKeepsItsReason) {
  struct row {
    status s;
    status::code kind;
    const char* printed;
  };
  const row rows[] = {
      {status::not_found("room r1"), status::code::not_found, "Not found: room r1"},
      {status::invalid_argument("missing chanUri"), status::code::invalid_argument,
       "Invalid argument: missing chanUri"},
      {status::already_exists("category c"), status::code::already_exists,
       "Already exists: category c"},
      {status::corruption("bad record"), status::code::corruption, "Corruption: bad record"},
      {status::io_error("While fsync: No space left on device"), status::code::io_error,
       "IO error: While fsync: No space left on device"},
  };
  for (const row& r : rows) {
    EXPECT_FALSE(r.s.is_ok()) << r.printed;
    EXPECT_EQ(r.s.kind(), r.kind) << r.printed;
    EXPECT_EQ(r.s.is_not_found(), r.kind == status::code::not_found);
    EXPECT_EQ(r.s.is_invalid_argument(), r.kind == status::code::invalid_argument);
    EXPECT_EQ(r.s.is_already_exists(), r.kind == status::code::already_exists);
    EXPECT_EQ(r.s.is_corruption(), r.kind == status::code::corruption);
    EXPECT_EQ(r.s.is_io_error(), r.kind == status::code::io_error);
    EXPECT_EQ(r.s.to_string(), r.printed);
    EXPECT_NE(r.s.reason(), "");
    EXPECT_EQ(r.s.to_string().substr(r.s.to_string().size() - r.s.reason().size()),
              r.s.reason());
  }
}

}  // namespace
}  // namespace pchat
