// XCCOS as the client speaks it: the command bodies SIPE sends, and the parsing of what the
// server pushes back (rpl, ntc, grpchat) and of the provisioning document.
//
// The server-side codec (protocol/xccos/xccos_codec.h) decodes commands and encodes replies;
// this file is its mirror image and follows SIPE's reading rules (src/core/sipe-xml.c,
// sipe-groupchat.c, xccos-wire.md §5.1):
//  - namespace prefixes are stripped, element names are case-sensitive, attribute names
//    are case-insensitive, the root element name is not checked;
//  - if the root has `rpl` children, all of them are handled (servers merge replies);
//    otherwise all `ntc` children; only if neither exists, the first `grpchat`;
//  - a reply without `<resp>` has code 500 (SIPE's default).
//
// Bodies produced (one line, no XML declaration, no whitespace, as generate_xccos_message):
//   <xccos ver="1" envid="N" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:X" seqid="1">
//     <data>...</data></cmd></xccos>
//   <xccos ...><grpchat id="grpchat" seqid="1" chanUri=".." author=".." ts="YYYY-MM-DDTHH:MM:SSZ">
//     <chat>escaped text</chat></grpchat></xccos>
//
// Thread safety: pure functions over values. Errors are values; nothing throws except
// std::bad_alloc.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pchat::client {

using steady_time = std::chrono::steady_clock::time_point;

// ---- Values decoded from server pushes.

// One room as listed by rpl:chansrch.
struct room_info {
  std::string uri;
  std::string name;
  std::string description;
  int user_count = -1;      // info urn:parlano:ma:info:ucnt; -1 if absent
  bool is_private = false;  // info ...:visibilty == "private" (sic, SIPE's spelling)
  bool file_post = false;
  bool invite = false;
  bool logged = false;
};

// One room of rpl:join / rpl:bjoin, with the uib ids resolved to SIP URIs.
struct joined_room_info {
  std::string uri;
  std::string name;
  std::string topic;
  std::vector<std::string> members;   // aib key 3984
  std::vector<std::string> managers;  // aib key 12276
};

// A room a join/bjoin could not open: <fib key=".." domain="D" value="V"/>.
struct failed_room {
  std::string uri;  // "ma-chan://D/V"
  std::string key;  // e.g. "OPERATION_FAILED"
};

// A room message: a live grpchat push or one msg of rpl:bccontext.
struct chat_post {
  std::string room;        // chanUri
  std::string author;      // sip:user@domain
  std::string ts;          // as sent
  std::string text;        // unescaped <chat> text
  int64_t ts_micros = 0;   // ts parsed (UTC microseconds); 0 if unparseable
  steady_time received{};  // set by the client on arrival
  uint64_t seq = 0;        // client-local arrival number (1, 2, ...); 0 for history items
};

// ntc:join / ntc:bjoin / ntc:part for one (room, user) pair.
struct roster_event {
  enum class kind { join, part };
  kind what = kind::join;
  std::string room;
  std::string user;
  bool manager = false;  // aib key 12276 in ntc:join
  steady_time received{};
  uint64_t seq = 0;  // client-local arrival number
};

// One <rpl>. Only the fields of its kind are filled.
struct xccos_reply {
  std::string id;         // "rpl:join", ... as sent
  std::string cmd_envid;  // commandid/@envid ("" if absent)
  std::string cmd_seqid;
  int code = 500;    // resp/@code; 500 when <resp> is missing, as SIPE
  std::string text;  // resp text
  bool has_resp = false;

  std::string channel_uri;                                       // rpl:requri data/uib/@uri
  std::vector<std::pair<std::string, std::string>> server_info;  // rpl:getservinfo sib attrs
  std::vector<room_info> rooms;                                  // rpl:chansrch
  std::vector<joined_room_info> joined;                          // rpl:join, rpl:bjoin
  std::vector<failed_room> failed;                               // rpl:join, rpl:bjoin
  std::string room_uri;                              // rpl:part, rpl:bccontext (first chanib/@uri)
  std::vector<chat_post> messages;                   // rpl:bccontext, document order
  std::string pref_label, pref_seqid, pref_content;  // rpl:getpref
  bool has_pref = false;
  std::string data_xml;  // <data> subtree, serialised, for reply ids this file does not know
};

// Everything one server INFO body carried.
struct push_batch {
  std::string envid;  // root envid as sent
  std::vector<xccos_reply> replies;
  std::vector<roster_event> roster;
  std::optional<chat_post> message;
};

// Parses a server INFO body. Returns false (and says why) for malformed XML or a document
// with neither rpl, ntc nor grpchat; `out` then holds what was recovered.
bool decode_push(std::string_view body, push_batch& out, std::string& error);

// Provisioning v2 as SIPE reads it (sipe_process_provisioning_v2): root children
// provisionGroup; group "persistentChatConfiguration" → propertyEntryList/property.
struct provisioning_info {
  bool parsed = false;
  bool has_chat_group = false;
  bool enabled = false;  // EnablePersistentChat is exactly "true"
  std::string pool_uri;  // DefaultPersistentChatPoolUri as sent
  // ServerConfiguration children that make SIPE start unrelated work (focusFactoryUri,
  // dlxInternalUrl, absInternalServerUrl, mrasUri): names found, for fault reports.
  std::vector<std::string> unwanted_server_config;
};
bool parse_provisioning(std::string_view body, provisioning_info& out, std::string& error);

// ---- Client bodies (exactly SIPE's text; escaping as SIPE: & < > " ').

std::string xml_escape(std::string_view text);

// The envelope around one command or grpchat.
std::string encode_envelope(uint32_t envid, std::string_view inner);

std::string encode_requri_cmd();
std::string encode_getserverinfo_cmd(std::string_view domain, std::string_view info_type);
std::string encode_chansrch_cmd(std::string_view qtype, std::string_view criteria, bool extended);
// Single join: <chanid key="0" domain=D value=V/>. Empty string if `uri` is not ma-chan://.
std::string encode_join_cmd(std::string_view room_uri);
// Batch join: one chanid per room, key = index. Rooms with a non-ma-chan URI are skipped.
std::string encode_bjoin_cmd(const std::vector<std::string>& room_uris);
std::string encode_part_cmd(std::string_view room_uri);
std::string encode_bccontext_cmd(std::string_view room_uri, int count);
std::string encode_getinv_cmd(std::string_view domain);
std::string encode_getpref_cmd(std::string_view label, std::string_view seqid);
std::string encode_setpref_cmd(std::string_view label, std::string_view seqid,
                               std::string_view content_base64);
std::string encode_grpchat(std::string_view room_uri, std::string_view author, std::string_view ts,
                           std::string_view text);

// The reply id a command expects ("cmd:join" → "rpl:join"). getserverinfo accepts both
// "rpl:getservinfo" (seen in real traffic) and "rpl:getserverinfo".
bool reply_matches_command(std::string_view reply_id, std::string_view command_id);

}  // namespace pchat::client
