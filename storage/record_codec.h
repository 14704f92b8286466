// Byte encoding of the values stored in the Persistent Chat Store. One codec per format:
// nothing else in pchat encodes or decodes these bytes.
//
//   varint    := unsigned LEB128, 1..10 bytes, low 7 bits first, high bit = "more follows"
//   zigzag64  := varint of (v << 1) ^ (v >> 63), so small negative numbers stay short
//   string    := length:varint bytes[length]
//   list      := count:varint string[count]
//   bool      := 0x00 | 0x01                   (anything else is corruption)
//   enum      := one byte, the value from records.h (anything undefined is corruption)
//
//   category_record := version id:string name:string description:string
//                      allowed_members:list denied_members:list creators:list
//                      file_upload:bool invitations:bool chat_history:bool
//   room_record     := version id:string name:string description:string category_id:string
//                      topic:string type:enum privacy:enum invitations:enum disabled:bool
//                      addin:string members:list managers:list presenters:list
//   message_record  := 0x02 seq:varint ts_micros:zigzag64 post_origin:varint
//                      post_counter:varint author:string text:string extra_xml:string
//                      (format 2: the post id early, so the dedup window loads without
//                      decoding texts; format 1, still read, has no post id: empty)
//   room_log_state  := 0x01 epoch:varint data_epoch:varint copying:bool
//   compliance_record := 0x02 seq:varint kind:enum ts_micros:zigzag64 room_id:string
//                      room_name:string user_uri:string user_display:string
//                      message_id:varint text:string
//                      (format 2: the room id, not its URI, keeps the staged copy of every
//                      post short; format 1, still read, has room_uri:string in that place)
//                      format 4 (an admin event: written only when target or previous is
//                      set, so user events stay format 2): ... text:string target:string
//                      previous:string. There is no format 3: a compliance CF value starting
//                      with 0x03 is a group.
//   compliance_group  := 0x03 event:string{1..}  each event a compliance_record; one group
//                      commit's events, consecutive sequences, stored under the first one's
//                      key: one RocksDB entry per synced batch instead of one per event
//   user_record     := 0x02 uri:string display_name:string ha1:string enabled:bool
//                      site:string policy:string ha1_user:string
//                      (format 2 adds the user-part HA1; format 1, still read, ends at
//                      policy: its ha1_user is empty)
//   group_record    := version name:string description:string members:list
//   policy_record   := version identity:string enable_persistent_chat:bool description:string
//   addin_record    := version name:string url:string
//   invitation_record := version id:varint user:string room_id:string inviter:string
//                      ts_micros:zigzag64
//   file_record     := version id:varint room_id:string name:string size:varint
//                      uploader:string ts_micros:zigzag64 blob:string
//   version         := 0x01 (kRecordFormatVersion)
//
// A decoder consumes the whole input; leftover bytes are corruption too. Field order and the
// version byte are embedded in on-disk data: DO NOT CHANGE them. A new layout gets a new
// version byte and the decoders keep reading the old ones.
//
// Config values (config CF, one key per setting, see keys.h): integers are decimal ASCII
// text ("-"? digits, no spaces or '+'), booleans are "0" or "1", strings are stored as
// their raw bytes.
//
// Decoding failures return status::corruption whose reason names the record and the field,
// e.g. "room record: truncated name", "room record: bad privacy 7".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.h"
#include "status/status.h"

namespace pchat::storage {

inline constexpr uint8_t kRecordFormatVersion = 1;  // DO NOT CHANGE: embedded in on-disk data
inline constexpr uint8_t kComplianceFormatVersion = 2;  // written; 1 is still read
inline constexpr uint8_t kComplianceAdminFormatVersion = 4;  // written for admin events
inline constexpr uint8_t kUserFormatVersion = 2;        // written; 1 is still read
inline constexpr uint8_t kMessageFormatVersion = 2;     // written; 1 is still read

// put_X appends the encoding of `in` to *dst. get_X decodes all of `in` into *out; on
// failure it returns corruption and *out holds unspecified (but valid) values.
void put_category_record(std::string* dst, const category_record& in);
status get_category_record(std::string_view in, category_record* out);

void put_room_record(std::string* dst, const room_record& in);
status get_room_record(std::string_view in, room_record* out);

void put_user_record(std::string* dst, const user_record& in);
status get_user_record(std::string_view in, user_record* out);
void put_group_record(std::string* dst, const group_record& in);
status get_group_record(std::string_view in, group_record* out);
void put_addin_record(std::string* dst, const addin_record& in);
status get_addin_record(std::string_view in, addin_record* out);
void put_invitation_record(std::string* dst, const invitation_record& in);
status get_invitation_record(std::string_view in, invitation_record* out);
void put_policy_record(std::string* dst, const policy_record& in);
status get_policy_record(std::string_view in, policy_record* out);

void put_message_record(std::string* dst, const message_record& in);
status get_message_record(std::string_view in, message_record* out);
// The seq and post id of an encoded message_record, without decoding the rest (the room's
// dedup window, loaded at start). Format 1 gives an empty post id.
status get_message_post_id(std::string_view in, uint64_t* seq, post_id* out);

void put_room_log_state(std::string* dst, const room_log_state& in);
status get_room_log_state(std::string_view in, room_log_state* out);

void put_compliance_record(std::string* dst, const compliance_record& in);
// The same, numbered `seq` instead of in.seq (the commit actor stages without copying).
void put_compliance_record(std::string* dst, uint64_t seq, const compliance_record& in);

void put_file_record(std::string* dst, const file_record& in);
status get_file_record(std::string_view in, file_record* out);

// A compliance CF value: a group (format 3) or, as earlier versions wrote, one record.
inline constexpr uint8_t kComplianceGroupVersion = 3;
// Appends `encoded` (a put_compliance_record result) to the group in *dst, starting the
// group if *dst is empty.
void append_compliance_group(std::string* dst, std::string_view encoded);
// Appends every event of one stored value (group or single record) to *out, in order.
status get_compliance_value(std::string_view in, std::vector<compliance_record>* out);
// Number of events in one stored value, without decoding them.
status count_compliance_value(std::string_view in, uint64_t* n);
status get_compliance_record(std::string_view in, compliance_record* out);

// Config integers. `setting` only names the value in the corruption reason.
void put_config_int(std::string* dst, int v);
status get_config_int(std::string_view setting, std::string_view in, int* out);

}  // namespace pchat::storage
