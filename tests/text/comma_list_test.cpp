#include "text/comma_list.h"

#include <gtest/gtest.h>

using pchat::text::comma_list;
using list = std::vector<std::string>;

TEST(CommaList, TrimsSpacesAndDropsEmptyItems) {
  EXPECT_EQ(comma_list("a, b,,c "), (list{"a", "b", "c"}));
  EXPECT_EQ(comma_list(" one two , "), (list{"one two"}));
  EXPECT_EQ(comma_list(""), list{});
  EXPECT_EQ(comma_list(",,, ,"), list{});
  EXPECT_EQ(comma_list("sip:alice@example.com"), list{"sip:alice@example.com"});
}
