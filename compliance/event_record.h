// Maps the seam's compliance::event onto the stored storage::compliance_record.
// The two carry the same fields; storage/ must not know compliance/, so the mapping lives
// here. The record's seq is left 0: only the commit actor assigns sequences.
#pragma once

#include "compliance/event_sink.h"
#include "storage/records.h"

namespace pchat::compliance {

inline storage::compliance_record to_record(const event& e) {
  storage::compliance_record r;
  r.kind = e.type;
  r.ts_micros = e.ts_micros;
  r.room_id = e.room_id;
  r.room_name = e.room_name;
  r.user_uri = e.user_uri;
  r.user_display = e.user_display;
  r.message_id = e.message_id;
  r.text = e.text;
  return r;
}

}  // namespace pchat::compliance
