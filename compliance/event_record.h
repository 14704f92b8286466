// Maps the seam's compliance::event onto the stored storage::compliance_record and back.
// The two carry the same fields; storage/ must not know compliance/, so the mapping lives
// here. The record's seq is left 0: only the commit actor assigns sequences.
#pragma once

#include "compliance/event_sink.h"
#include "storage/records.h"

namespace pchat::compliance {

inline storage::compliance_record to_record(const event& e) {
  storage::compliance_record r;
  r.kind = static_cast<storage::compliance_kind>(e.type);
  r.ts_micros = e.ts_micros;
  r.room_uri = e.room_uri;
  r.room_name = e.room_name;
  r.user_uri = e.user_uri;
  r.user_display = e.user_display;
  r.message_id = e.message_id;
  r.text = e.text;
  return r;
}

inline event from_record(const storage::compliance_record& r) {
  event e;
  e.type = static_cast<event_type>(r.kind);
  e.ts_micros = r.ts_micros;
  e.room_uri = r.room_uri;
  e.room_name = r.room_name;
  e.user_uri = r.user_uri;
  e.user_display = r.user_display;
  e.message_id = r.message_id;
  e.text = r.text;
  return e;
}

// The enums must agree value for value (both are embedded in on-disk data).
static_assert(static_cast<int>(event_type::history_search) ==
              static_cast<int>(storage::compliance_kind::history_search));
static_assert(static_cast<int>(event_type::message_replaced) ==
              static_cast<int>(storage::compliance_kind::message_replaced));

}  // namespace pchat::compliance
