// XCCOS codec: the XML carried in SIP INFO bodies between chat clients and pchat.
//
// Grammar subset accepted (namespace urn:parlano:xml:ns:xccos; prefixes are stripped,
// element names are case-sensitive, attribute names case-insensitive, as in sipe):
//
//   <xccos ver="1" envid="N"> ONE-OF </xccos>
//     cmd   id="cmd:requri"        <data/>
//     cmd   id="cmd:getserverinfo" <data><sib domain=".." infoType=".."/></data>
//     cmd   id="cmd:chansrch"      <data><qib qtype="BYNAME" criteria="..." extended=".."/></data>
//     cmd   id="cmd:join"          <data><chanid key="0" domain="D" value="V"/></data>
//     cmd   id="cmd:bjoin"         <data><chanid key="K" domain="D" value="V"/>*</data>
//     cmd   id="cmd:part"          <data><chanib uri="ma-chan://D/V"/></data>
//     cmd   id="cmd:bccontext"     <data><chanib uri=".."/><bcq><last cnt="25"/></bcq></data>
//     cmd   id="cmd:getinv"        <data><inv inviteId="N" domain="D"/>*</data>
//     cmd   id="cmd:getpref"       <data><pref label="L" seqid="N" createdefault="true"/></data>
//     cmd   id="cmd:setpref"       <data><pref label="L" seqid="N" content="base64"/></data>
//     grpchat id="grpchat" chanUri=".." author=".." ts=".."  <chat>text</chat> [other children]
//
// Room ids on the wire: `chanid domain+value` is rebuilt as "ma-chan://domain/value".
// Limits: bodies over kMaxBodyBytes are refused before parsing; a bjoin names at most
// kMaxBjoinRooms rooms; chat text at most kMaxChatBytes; an element carries at most
// kMaxAttributesPerElement attributes (the parser's duplicate check is quadratic in them).
// Text: the whole body, and every character reference in it, must pass the entry rule of
// text/valid_text.h (valid UTF-8, XML 1.0 characters, no DEL/C1); a body that does not is
// refused as a whole, with the reason, never stored truncated or with characters dropped.
// Decoding is linear in the body's size.
//
// Encoding: every emitted string gets the exit repair of text/valid_text.h (what the entry
// rule refuses becomes U+FFFD), so a bad record stored by an older version cannot break a
// reply.
//
// Ownership: decoded values own their strings; nothing points into a tinyxml2 document.
// Thread safety: all functions are pure and may be called from any thread.
// Errors are values: decode() returns a pchat::status with a reason; it never throws.
#pragma once

#include "protocol/xccos/chat_uri.h"
#include "status/status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pchat::xccos {

constexpr size_t kMaxBodyBytes = 256 * 1024;
constexpr size_t kMaxBjoinRooms = 1000;
constexpr size_t kMaxChatBytes = 64 * 1024;
constexpr size_t kMaxAttributesPerElement = 128;

// XCCOS result codes (resp/@code). Only 200/SUCCESS_OK is attested in real traffic;
// the others are HTTP-like, as sipe shows the resp text to the user on any non-200.
enum class result_code : int {
  ok = 200,
  bad_request = 400,
  forbidden = 403,
  not_found = 404,
  too_large = 413,
  internal_error = 500,
  unavailable = 503,
};
// "SUCCESS_OK", "ERR_BAD_REQUEST", "ERR_FORBIDDEN", "ERR_NOT_FOUND", "ERR_TOO_LARGE",
// "ERR_INTERNAL", "ERR_UNAVAILABLE".
const char* result_text(result_code c);

enum class command_kind {
  requri,
  getserverinfo,
  chansrch,
  join,
  bjoin,
  part,
  bccontext,
  getinv,
  getpref,
  setpref,
  nodespermcreatechild,  // may the user create rooms (in some category)? empty data
  grpchat,
  unknown,  // well-formed XCCOS with a cmd id we do not implement
};

struct room_ref {
  std::string uri;  // canonical "ma-chan://domain/value"
  std::string key;  // chanid/@key as sent ("0", "1", ...); empty when absent
};

struct invite_ref {
  std::string invite_id;
  std::string domain;
};

// A room message, as posted by a client or pushed by the server.
struct chat_message {
  std::string chan_uri;
  std::string author;  // sip:user@domain
  std::string ts;      // ISO-8601 UTC as given by the sender
  std::string text;    // decoded (unescaped) text of <chat>
  // Children of <grpchat> other than <chat>, serialised compactly and kept untouched
  // so that client-specific parts (e.g. rich text) survive storage and fan-out.
  std::string extra_xml;
};

struct command {
  command_kind kind = command_kind::unknown;
  std::string id;     // the raw id attribute, e.g. "cmd:join" or "grpchat"
  std::string envid;  // envelope envid as sent (echoed in replies)
  std::string seqid;  // cmd/@seqid as sent (echoed in replies)

  std::vector<room_ref> rooms;  // join (1), bjoin (n), part (1), bccontext (1)
  std::string criteria;         // chansrch qib/@criteria
  std::string qtype;            // chansrch qib/@qtype
  int history_count = 0;        // bccontext bcq/last/@cnt; 0 if absent
  std::vector<invite_ref> invites;  // getinv
  std::string pref_label;       // getpref/setpref
  std::string pref_seqid;
  std::string pref_content;     // setpref, base64 as sent
  bool pref_create_default = false;
  std::string info_type;        // getserverinfo sib/@infoType
  chat_message chat;            // grpchat
};

// Parses one INFO body. Returns ok, or invalid_argument with a human-readable reason
// (e.g. "malformed XML at line 1: ..." or "grpchat chanUri is missing").
// On error, `out` holds whatever could be recovered (envid, id, seqid) so that the caller
// can still address an XCCOS error reply to the command.
status decode(std::string_view body, command& out);

// The result of a server's reply (<rpl>): its resp code and text, and the envid of the
// command it answers (commandid/@envid). invalid_argument if `body` is no <rpl> with a
// numeric resp code. (Used where the server reads its own replies: actors/web_session_actor.)
struct reply_result {
  int code = 0;
  std::string text;
  std::string cmd_envid;
};
status decode_reply_result(std::string_view body, reply_result& out);

// A roster notice the server sent (encode_join_notice, encode_part_notice): who entered or
// left which room. invalid_argument for any other body. (Read where the server reads its
// own notices: actors/web_session_actor.)
struct roster_notice {
  bool joined = false;  // ntc:join; false: ntc:part
  std::string room_uri, user_uri;
};
status decode_roster_notice(std::string_view body, roster_notice& out);

// ---- Encoding (server -> client). Every function returns a complete <xccos> document,
// without XML declaration and without whitespace between elements.

// Common head of an rpl: the reply id (e.g. "rpl:join"), the command it answers and
// the result. The envelope envid is the server's own (any 64-bit value).
struct reply_head {
  std::string id;         // "rpl:requri", ...
  std::string cmd_envid;  // from command::envid
  std::string cmd_seqid;  // from command::seqid ("1" if empty)
  result_code code = result_code::ok;
  std::string text;       // resp text; empty = result_text(code)
  uint64_t envid = 0;
};

// Reply with an empty <data/> (errors, getinv, setpref, grpchat rejections...).
std::string encode_empty_reply(const reply_head& h);

std::string encode_requri_reply(const reply_head& h, std::string_view channel_uri);

struct server_info {
  std::string domain;
  std::string info_type;
  std::string server_time;  // ISO-8601 with 7 fractional digits + Z
  int search_limit = 999;
  int message_size_limit = 512;
  int story_size_limit = 4096;
  std::string root_uri;     // ma-cat://domain/GUID
  std::string db_version;
};
std::string encode_serverinfo_reply(const reply_head& h, const server_info& info);

struct room_summary {
  std::string uri;
  std::string name;
  std::string description;
  int user_count = 0;
  bool is_private = false;    // info visibilty = "private" / "public"
  bool file_post = false;     // prop filepost
  bool invite = false;        // prop invite
  bool logged = true;         // prop logged
};
std::string encode_chansrch_reply(const reply_head& h, const std::vector<room_summary>& rooms);

struct roster_member {
  std::string uri;
  bool manager = false;  // aib key 12276 (else 3984)
};
struct joined_room {
  std::string uri;
  std::string name;
  std::string topic;
  std::vector<roster_member> members;
};
// rpl:join and rpl:bjoin share this shape: one uib table (ids unique across the reply),
// one chanib per joined room with disjoint aib lists, then one fib per failed room:
// <fib key="OPERATION_FAILED" value="V" domain="D"/>.
std::string encode_join_reply(const reply_head& h, const std::vector<joined_room>& joined,
                              const std::vector<std::string>& failed_uris);

std::string encode_part_reply(const reply_head& h, std::string_view room_uri);

// rpl:bccontext: <data><chanib uri=R> <msg id="grpchat" chanUri author ts><chat>..</chat></msg>*
// in the given order (callers pass oldest first).
std::string encode_backchat_reply(const reply_head& h, std::string_view room_uri,
                                  const std::vector<chat_message>& history);

struct pref_value {
  std::string label;
  std::string seqid;
  std::string content;  // base64; empty = no stored value
};
std::string encode_getpref_reply(const reply_head& h, const pref_value& pref);

// An invitation to a room (cmd:getinv). The reply form is not attested in real traffic
// (SIPE ignores it): we answer <data><inv inviteId domain chanUri name inviter ts/>*</data>,
// the request's own element with the room added, so a client can resume from the last id.
struct invitation {
  std::string invite_id;
  std::string domain;
  std::string chan_uri;
  std::string room_name;
  std::string inviter;
  std::string ts;
};
std::string encode_getinv_reply(const reply_head& h, const std::vector<invitation>& invites);

// Live message pushed to each member: <xccos ...><grpchat id="grpchat" seqid="1" chanUri
// author ts><chat>text</chat>[extra_xml]</grpchat></xccos>
std::string encode_grpchat(const chat_message& m, uint64_t envid);

// <ntc id="ntc:join"><data><uib uri=U><aib key="3984" domain=D value=V/></uib></data></ntc>
std::string encode_join_notice(std::string_view room_uri, std::string_view user_uri,
                               bool manager, uint64_t envid);
// <ntc id="ntc:part"><data><chanib uri=R><uib uri=U/></chanib></data></ntc>
std::string encode_part_notice(std::string_view room_uri, std::string_view user_uri,
                               uint64_t envid);

}  // namespace pchat::xccos
