// Value types stored in the Persistent Chat Store. Plain structs, no RocksDB types.
// Their byte encoding lives in record_codec.h, their keys in keys.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pchat::storage {

// A principal is "sip:user@domain", "group:name" or "domain:example.com".
using principal = std::string;

struct category_record {
  std::string id;  // opaque, unique (GUID-like); the category URI is ma-cat://<domain>/<id>
  std::string name;  // unique, <= 256 chars
  std::string description;
  std::vector<principal> allowed_members;
  std::vector<principal> denied_members;  // deny wins over allow
  std::vector<principal> creators;
  bool file_upload = true;
  bool invitations = true;
  bool chat_history = true;  // false: relay but do not persist messages
  bool operator==(const category_record&) const = default;
};

enum class room_type : uint8_t { normal = 0, auditorium = 1 };          // DO NOT CHANGE values
enum class room_privacy : uint8_t { open = 0, closed = 1, secret = 2 };  // DO NOT CHANGE values
enum class room_invitations : uint8_t { inherit = 0, off = 1 };          // DO NOT CHANGE values

struct room_record {
  std::string id;  // opaque, unique; the room URI is ma-chan://<domain>/<id>
  std::string name;  // unique, <= 256 chars
  std::string description;
  std::string category_id;
  std::string topic;
  room_type type = room_type::normal;
  room_privacy privacy = room_privacy::open;
  room_invitations invitations = room_invitations::inherit;
  bool disabled = false;
  std::string addin;
  std::vector<principal> members;
  std::vector<principal> managers;
  std::vector<principal> presenters;
  bool operator==(const room_record&) const = default;
};

// Which post a message is, pool-wide (docs/POOL.md "post ids"): chosen by the node of the
// session that took the client's INFO, so that a post re-sent to a room after its owner
// changed is recognised and stored once. `origin` is the choosing node's incarnation (a
// random non-zero 64-bit number drawn at every start, so ids never repeat across restarts),
// `counter` numbers that incarnation's posts from 1. {0, 0}: no id (announces, imports,
// messages stored before post ids existed); such posts are never deduplicated.
struct post_id {
  uint64_t origin = 0;
  uint64_t counter = 0;
  bool empty() const { return origin == 0 && counter == 0; }
  bool operator==(const post_id&) const = default;
};

// One posted message. `seq` is assigned by the room, dense and increasing from 1.
struct message_record {
  uint64_t seq = 0;
  post_id pid;             // empty for messages without one (see post_id)
  std::string author;      // sip:user@domain
  int64_t ts_micros = 0;   // server receive time, microseconds since the Unix epoch (UTC)
  std::string text;
  std::string extra_xml;   // client-specific children kept untouched (see xccos_codec.h)
};

// A room log's replication state on one node (docs/POOL.md "Replicated room log"), kept
// in the messages CF beside the room's entries and written in the same synced write as
// they are. Standalone nodes never write it (all zero: no pool ever wrote this log).
struct room_log_state {
  uint64_t epoch = 0;       // the highest ownership epoch this node accepted for the room
  uint64_t data_epoch = 0;  // the epoch under which the newest entry was written (or the
                            // log was last declared complete by its owner)
  bool copying = false;     // a full copy is half done: the log is not a complete copy of
                            // anyone's and must not serve as a source
  bool operator==(const room_log_state&) const = default;
};

// Kinds of compliance events: every emitter builds a compliance_record (the one event type).
// DO NOT CHANGE values: embedded in the on-disk data of the compliance CF.
enum class compliance_kind : uint8_t {
  join = 0,
  part = 1,
  chat = 2,
  backchat = 3,
  file_upload = 4,
  file_download = 5,
  message_removed = 6,   // before admin events (9..): an admin action recorded as the author's
  message_replaced = 7,  // event / the sender "admin"; still read and delivered as they were
  history_search = 8,
  // An administrator's own actions (the admin API): user_uri is the admin ("admin:NAME"),
  // target whom or what the action was done to, previous what was there before.
  admin_replace = 9,      // Remove-CsPersistentChatMessage: message_id the message, target its
                          // author, previous its text, text the replacement
  admin_clear = 10,       // Clear-CsPersistentChatRoom, one per message removed: message_id,
                          // target the author, previous the text, text the clear's criteria
  admin_search = 11,      // a history search: text the criteria and the number of results; the
                          // room searched, or no room for a search of every room
  admin_room = 12,        // a room created, changed or removed: text "created"/"changed"/
                          // "removed" and the settings (after), previous the settings before
  admin_membership = 13,  // a principal added to or removed from a room's members, managers
                          // or presenters: target the principal, text e.g. "member added"
};

// One staged compliance event (the `mgccomp` row). `seq` is the global event sequence
// assigned by its single writer (the commit actor), dense and increasing from 1; it orders
// the staging queue and names the adapter's output.
struct compliance_record {
  uint64_t seq = 0;
  compliance_kind kind = compliance_kind::chat;
  int64_t ts_micros = 0;     // UTC, microseconds since the Unix epoch
  std::string room_id;       // the room's id; its URI is ma-chan://<domain>/<room_id>
  std::string room_uri;      // not stored (format 2): the runner derives it from room_id
                             // before delivery; events staged in format 1 carry it instead
  std::string room_name;     // the name when the event happened (rooms may be renamed)
  std::string user_uri;      // sip:user@domain
  std::string user_display;  // display name; may equal the SIP address
  uint64_t message_id = 0;   // the room's message seq, or the file id of a file event; 0 otherwise
  std::string text;          // message text, replacement text, search criteria, stored file name,
                             // a BACKCHAT's messages returned (compliance/backchat_content.h)
  std::string target;        // admin events: whom or what the action was done to (format 4)
  std::string previous;      // admin events: what was there before (format 4)
  std::string file_name;     // not stored: a file event's uploaded name, filled in at delivery
};

// Set-CsPersistentChatComplianceConfiguration, with the reference's defaults. Enabling is a
// pool switch in the reference (Topology Builder); here it is one more setting.
struct compliance_config {
  bool enabled = false;
  std::string adapter_type = "xml";        // "xml" or "csv"
  std::string output_directory;            // empty: <data-dir>/compliance
  int run_interval_seconds = 900;          // 15 min; 60 .. 2592000 (1 min .. 30 days)
  bool one_chat_room_per_output_file = false;
  bool add_user_details = false;
  bool add_chat_room_details = false;
  bool create_file_attachments_manifest = false;
};

// A file uploaded to a room through the web file service. The bytes live in the file store
// on disk under `blob`; this record is what the store knows of them.
struct file_record {
  uint64_t id = 0;         // unique and increasing (assigned by the store)
  std::string room_id;
  std::string name;        // as uploaded: 1..255 bytes, no '/', '\\' or control characters
  uint64_t size = 0;       // bytes
  std::string uploader;    // sip:user@domain
  int64_t ts_micros = 0;   // upload time, UTC
  std::string blob;        // the file's name in the file store (random, [0-9a-f]{32})
};

// A user of the directory (the identity behind a SIP address).
struct user_record {
  std::string uri;           // "sip:alice@example.com", lower-case; the key
  std::string display_name;
  std::string ha1;           // MD5(username:realm:password) hex; empty = cannot sign in
  bool enabled = true;
  std::string site;          // site name for policy scope; empty = none
  std::string policy;        // per-user policy tag (Grant-CsPersistentChatPolicy); empty = inherit
  // MD5(user part:realm:password) hex, for Digest answers whose username is the user part
  // alone (standard SIP clients; `ha1` serves the whole address, as SIPE sends it): both
  // kept, as SIP registrars keep ha1 and ha1b. Empty for a password set before format 2.
  std::string ha1_user;
};

// A named set of principals; usable as "group:<name>" in every member list.
struct group_record {
  std::string name;          // unique, case-insensitive; the key (lower-cased)
  std::string description;
  std::vector<principal> members;  // users, other groups, domains
};

// A registered add-in (New-CsPersistentChatAddin): rooms may name one.
struct addin_record {
  std::string name;  // unique (case-insensitive), <= 50 characters; the key
  std::string url;   // http:// or https://, <= 255 characters
};

// A user's invitation to a room (rooms with invitations on, when the user is added as a
// member). `id` is unique and increasing, so a client asks for "everything after N".
struct invitation_record {
  uint64_t id = 0;
  std::string user;      // sip:user@domain, lower-case
  std::string room_id;
  std::string inviter;   // who added the member ("admin" for the admin API)
  int64_t ts_micros = 0;
};

// Persistent Chat policy at one scope: "global", "site:<name>" or "tag:<name>".
struct policy_record {
  std::string identity;
  bool enable_persistent_chat = false;  // shipped default False, as in Lync
  std::string description;
};

// Server options (Set-CsPersistentChatConfiguration), with the reference's defaults.
struct chat_config {
  int default_chat_history = 30;         // 1..500
  int max_file_size_kb = 20000;          // 1..2097152
  int participant_update_limit = 75;     // 1..10000
  std::string room_management_url;       // empty = built-in
};

}  // namespace pchat::storage
