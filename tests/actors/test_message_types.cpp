// The records that travel between actors (and, with the pool, between nodes) survive CAF's
// binary serialization whole, enum fields included (messages.h inspect: enums travel as
// their uint8_t value).
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <gtest/gtest.h>

#include <vector>

#include "actors/messages.h"

namespace {

using namespace pchat;

template <class T>
T round_trip(caf::actor_system& sys, T in) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  EXPECT_FALSE(sink(in));
  T out;
  caf::binary_deserializer source{sys, buf};
  EXPECT_FALSE(source(out));
  return out;
}

TEST(MessageTypes, RoomRecordKeepsItsEnumsThroughSerialization) {
  caf::actor_system_config cfg;
  actors::add_message_types(cfg);
  caf::actor_system sys{cfg};
  storage::room_record r;
  r.id = "r1";
  r.name = "FX desk";
  r.type = storage::room_type::auditorium;
  r.privacy = storage::room_privacy::secret;
  r.invitations = storage::room_invitations::off;
  r.disabled = true;
  auto out = round_trip(sys, r);
  EXPECT_EQ(out.id, "r1");
  EXPECT_EQ(out.name, "FX desk");
  EXPECT_EQ(out.type, storage::room_type::auditorium);
  EXPECT_EQ(out.privacy, storage::room_privacy::secret);
  EXPECT_EQ(out.invitations, storage::room_invitations::off);
  EXPECT_TRUE(out.disabled);
  EXPECT_NE(caf::deep_to_string(r).find("FX desk"), std::string::npos);
}

TEST(MessageTypes, ComplianceRecordKeepsItsKindThroughSerialization) {
  caf::actor_system_config cfg;
  actors::add_message_types(cfg);
  caf::actor_system sys{cfg};
  storage::compliance_record e;
  e.seq = 42;
  e.kind = storage::compliance_kind::part;
  e.room_id = "r1";
  e.text = "bye";
  auto out = round_trip(sys, e);
  EXPECT_EQ(out.seq, 42u);
  EXPECT_EQ(out.kind, storage::compliance_kind::part);
  EXPECT_EQ(out.room_id, "r1");
  EXPECT_EQ(out.text, "bye");
}

}  // namespace
