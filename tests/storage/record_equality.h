// Field-by-field comparison of records, so a failing test names the field that differs.
#pragma once

#include <gtest/gtest.h>

#include "storage/records.h"

namespace pchat::storage {

inline void expect_same(const category_record& a, const category_record& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.allowed_members, b.allowed_members);
  EXPECT_EQ(a.denied_members, b.denied_members);
  EXPECT_EQ(a.creators, b.creators);
  EXPECT_EQ(a.file_upload, b.file_upload);
  EXPECT_EQ(a.invitations, b.invitations);
  EXPECT_EQ(a.chat_history, b.chat_history);
}

inline void expect_same(const room_record& a, const room_record& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.category_id, b.category_id);
  EXPECT_EQ(a.topic, b.topic);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.privacy, b.privacy);
  EXPECT_EQ(a.invitations, b.invitations);
  EXPECT_EQ(a.disabled, b.disabled);
  EXPECT_EQ(a.addin, b.addin);
  EXPECT_EQ(a.members, b.members);
  EXPECT_EQ(a.managers, b.managers);
  EXPECT_EQ(a.presenters, b.presenters);
}

inline void expect_same(const message_record& a, const message_record& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.author, b.author);
  EXPECT_EQ(a.ts_micros, b.ts_micros);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.extra_xml, b.extra_xml);
  EXPECT_EQ(a.pid.origin, b.pid.origin);
  EXPECT_EQ(a.pid.counter, b.pid.counter);
}

}  // namespace pchat::storage
