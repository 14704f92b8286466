// Key grammar of the Persistent Chat Store. This file (with keys.cpp) is the only place that
// builds or parses a key; every other file calls these functions.
//
//   directory CF
//     category_key := 'C' category_id                     ('C' DO NOT CHANGE)
//     room_key     := 'R' room_id                         ('R' DO NOT CHANGE)
//     user_key     := 'U' lower(user uri)                 ('U' DO NOT CHANGE)
//     group_key    := 'G' lower(group name)               ('G' DO NOT CHANGE)
//     policy_key   := 'P' policy identity                 ('P' DO NOT CHANGE)
//     invite_key   := 'V' lower(user uri) 0x00 id         (id 8 bytes big-endian; 'V' DO NOT CHANGE)
//     addin_key    := 'A' lower(add-in name)              ('A' DO NOT CHANGE)
//     file_key     := 'F' room_id 0x00 id                 (id 8 bytes big-endian; 'F' DO NOT CHANGE)
//   messages CF
//     message_key  := room_id 0x00 seq                    (0x00 DO NOT CHANGE)
//     seq          := uint64, 8 bytes, big-endian         (DO NOT CHANGE; 1 .. 2^64-2)
//     room_meta    := room_id 0x00 0xFF{8} tag             (a room log's own data, pool)
//       room_log_state_key := room_meta 's'                (room_log_state; DO NOT CHANGE)
//       room_event_key     := room_meta 'e' seq            (a shipped post's compliance event
//                                                           kept by the follower; DO NOT CHANGE)
//   prefs CF
//     pref_key     := user 0x00 label                     (0x00 DO NOT CHANGE)
//   config CF
//     config_key   := setting name, e.g. "DefaultChatHistory" (names DO NOT CHANGE)
//     scoped_config_key := setting name               (scope "global")
//                        | scope '/' setting name     (scope "site:<name>"; DO NOT CHANGE)
//                          with setting name empty: the marker that the scope exists
//   compliance CF (the staging queue, `mgccomp`)
//     compliance_key := seq                               (8 bytes big-endian, DO NOT CHANGE)
//
// Everything here is embedded in on-disk data: changing a tag, the separator or the byte
// order makes existing databases unreadable.
//
// Why this shape:
// - Big-endian seq makes bytewise key order equal numeric order, so a forward iterator
//   yields a room's messages in sequence order.
// - The 0x00 after the room id keeps "room1" from being a prefix of "room10": every key of
//   room R lies in [R 0x00, R 0x01) and no other room's key does. This only holds because
//   ids never contain 0x00; valid_id() enforces that, and the store rejects such ids.
// - The compliance key is the bare global event sequence, so the staging queue iterates in
//   capture order and a batch [first, last] is one DeleteRange.
// - A room's meta keys sort after every message key of the room (seq 2^64-1 is never a
//   message: 0xFF{8} is the meta prefix) and inside [R 0x00, R 0x01), so deleting a room
//   deletes them too, while message reads stop before them. They are one byte longer than a
//   message key, so no room's meta key is another room's message key.
// - User names in pref keys follow the same rule, so the first 0x00 ends the user.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "status/status.h"

namespace pchat::storage::keys {

inline constexpr char kCategoryTag = 'C';  // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kRoomTag = 'R';      // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kUserTag = 'U';      // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kGroupTag = 'G';     // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kPolicyTag = 'P';    // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kInviteTag = 'V';    // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kAddinTag = 'A';     // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kFileTag = 'F';      // DO NOT CHANGE: embedded in the on-disk data
inline constexpr char kSeparator = '\0';   // DO NOT CHANGE: embedded in the on-disk data

// Config setting names, one key each (Set-CsPersistentChatConfiguration parameter names).
// DO NOT CHANGE: embedded in the on-disk data.
inline constexpr std::string_view kDefaultChatHistory = "DefaultChatHistory";
inline constexpr std::string_view kMaxFileSizeKB = "MaxFileSizeKB";
inline constexpr std::string_view kParticipantUpdateLimit = "ParticipantUpdateLimit";
inline constexpr std::string_view kRoomManagementUrl = "RoomManagementUrl";
// Compliance settings (Set-CsPersistentChatComplianceConfiguration parameter names, plus
// the pool's "Enable compliance" switch). DO NOT CHANGE: embedded in the on-disk data.
inline constexpr std::string_view kComplianceEnabled = "ComplianceEnabled";
inline constexpr std::string_view kComplianceAdapterType = "ComplianceAdapterType";
inline constexpr std::string_view kComplianceOutputDirectory = "AdapterOutputDirectory";
inline constexpr std::string_view kComplianceRunInterval = "RunInterval";
inline constexpr std::string_view kOneChatRoomPerOutputFile = "OneChatRoomPerOutputFile";
inline constexpr std::string_view kAddUserDetails = "AddUserDetails";
inline constexpr std::string_view kAddChatRoomDetails = "AddChatRoomDetails";
inline constexpr std::string_view kCreateFileAttachmentsManifest = "CreateFileAttachmentsManifest";
// Highest compliance sequence delivered and deleted (8 bytes big-endian).
inline constexpr std::string_view kComplianceDeliveredThrough = "ComplianceDeliveredThrough";
// What the compliance runner delivered since the store was created: batches, events and the
// time of the last success (3 x 8 bytes big-endian), written with each delete of a batch.
inline constexpr std::string_view kComplianceDeliveredTotals = "ComplianceDeliveredTotals";
// Written at open and by each resume after a write failure (microseconds, 8 bytes
// big-endian): keeps a memtable non-empty, so RocksDB's Resume() switches to a new
// write-ahead log instead of keeping the one that failed.
inline constexpr std::string_view kWriteProbe = "StoreWriteProbe";
// A pool node: the etcd revision of the last directory record it applied (8 bytes
// big-endian), written in the same batch as the record (actors/directory_log.h).
inline constexpr std::string_view kPoolDirectoryApplied = "PoolDirectoryApplied";

// True if `id` can be part of a key: non-empty and free of 0x00 (see the grammar above).
// Applies to category ids, room ids and pref users.
bool valid_id(std::string_view id);
// valid_id as a status: invalid_argument "<what> is empty" / "<what> contains a NUL byte".
status check_id(std::string_view what, std::string_view id);

// Appends `v` as 8 bytes, most significant first.
void put_fixed64_be(std::string* dst, uint64_t v);
// Parses 8 big-endian bytes from the front of *in and advances it. False if *in is shorter.
bool get_fixed64_be(std::string_view* in, uint64_t* v);

// The case folding of case-insensitive keys and names: ASCII letters lower-cased, every other
// byte kept (folding the rest of Unicode needs tables we do not carry).
std::string fold_case(std::string_view s);

// ---- directory CF
// REQUIRES: valid_id(id) (not checked here; the store checks before building keys).
std::string category_key(std::string_view id);
// False unless `key` is a category key; then *id is its category id.
bool get_category_key(std::string_view key, std::string* id);
std::string room_key(std::string_view id);
bool get_room_key(std::string_view key, std::string* id);
// [begin, end) covering every category key, resp. every room key, and nothing else.
std::string category_range_begin();
std::string category_range_end();
std::string room_range_begin();
std::string room_range_end();
// Any directory entry: tag + name (categories and rooms above are two such tags); the
// ranges cover one tag.
std::string tagged_key(char tag, std::string_view name);
bool get_tagged_key(char tag, std::string_view key, std::string* name);
std::string tag_range_begin(char tag);
std::string tag_range_end(char tag);

// Users, groups and add-ins by folded name, policies by identity (case kept).
std::string user_key(std::string_view uri);
std::string group_key(std::string_view name);
std::string policy_key(std::string_view identity);
std::string addin_key(std::string_view name);

// A user's invitations, ascending by id: [invite_key(user, 0), invite_range_end(user))
// holds exactly that user's (users fold as in user_key).
std::string invite_key(std::string_view user, uint64_t id);
std::string invite_range_end(std::string_view user);
// False unless `key` is an invitation key; then *id is its id.
bool get_invite_key(std::string_view key, uint64_t* id);

// A room's uploaded files, ascending by id; [begin, end) holds exactly that room's.
// REQUIRES: valid_id(room_id).
std::string file_key(std::string_view room_id, uint64_t id);
std::string file_range_begin(std::string_view room_id);
std::string file_range_end(std::string_view room_id);
// False unless `key` is a file key; then *id is the file's id.
bool get_file_key(std::string_view key, uint64_t* id);

// ---- messages CF
// REQUIRES: valid_id(room_id).
std::string message_key(std::string_view room_id, uint64_t seq);
// False unless `key` is room_id 0x00 followed by exactly 8 bytes.
bool get_message_key(std::string_view key, std::string* room_id, uint64_t* seq);
// [begin, end) holding every key of `room_id` in the messages CF: its messages and its
// meta keys (the room's deletion: DeleteRange).
std::string message_range_begin(std::string_view room_id);
std::string message_range_end(std::string_view room_id);
// Exclusive end of the room's message keys alone (iterator bound of message reads).
std::string message_entries_end(std::string_view room_id);
// The room log's replication state (room_log_state, record_codec.h).
std::string room_log_state_key(std::string_view room_id);
// A follower's copy of the compliance event of the room's message `seq`.
std::string room_event_key(std::string_view room_id, uint64_t seq);
// Exclusive end of messages and kept events (what a full copy replaces; the state stays).
std::string room_log_entries_end(std::string_view room_id);

// ---- prefs CF
// REQUIRES: valid_id(user). `label` may be any bytes.
std::string pref_key(std::string_view user, std::string_view label);
// False unless `key` contains the 0x00 separator after a non-empty user.
bool get_pref_key(std::string_view key, std::string* user, std::string* label);
// [begin, end) holding exactly the pref keys of `user`.
std::string pref_range_begin(std::string_view user);
std::string pref_range_end(std::string_view user);

// ---- compliance CF
std::string compliance_key(uint64_t seq);
// False unless `key` is exactly 8 bytes.
bool get_compliance_key(std::string_view key, uint64_t* seq);

// ---- config CF
std::string config_key(std::string_view setting);
// A setting of a configuration scope (grammar above). REQUIRES: scope is "global" or has
// no '/'.
std::string scoped_config_key(std::string_view scope, std::string_view setting);
bool get_config_key(std::string_view key, std::string* setting);

}  // namespace pchat::storage::keys
