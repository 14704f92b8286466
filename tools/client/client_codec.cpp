#include "tools/client/client_codec.h"

#include <tinyxml2.h>

#include <charconv>
#include <ctime>
#include <unordered_map>

#include "protocol/xccos/chat_uri.h"
#include "text/ascii.h"
#include "text/utc_time.h"

namespace pchat::client {
namespace {

using tinyxml2::XMLAttribute;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;
using tinyxml2::XMLNode;

constexpr std::string_view kAibUser = "3984";
constexpr std::string_view kAibManager = "12276";

using text::ascii_iequal;

// SIPE strips everything up to the first ':' of an element name.
std::string_view local_name(const XMLElement* e) {
  std::string_view n = e->Name();
  size_t colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

// Attribute lookup, name case-insensitive (SIPE); nullptr if absent.
const char* attr(const XMLElement* e, std::string_view name) {
  for (const XMLAttribute* a = e->FirstAttribute(); a; a = a->Next()) {
    if (ascii_iequal(a->Name(), name)) return a->Value();
  }
  return nullptr;
}

std::string_view attr_view(const XMLElement* e, std::string_view name) {
  const char* v = attr(e, name);
  return v ? std::string_view(v) : std::string_view();
}

std::string attr_str(const XMLElement* e, std::string_view name) {
  const char* v = attr(e, name);
  return v ? std::string(v) : std::string();
}

const XMLElement* child(const XMLElement* e, std::string_view name) {
  if (!e) return nullptr;
  for (const XMLElement* c = e->FirstChildElement(); c; c = c->NextSiblingElement()) {
    if (local_name(c) == name) return c;
  }
  return nullptr;
}

const XMLElement* twin(const XMLElement* e) {
  std::string_view name = local_name(e);
  for (const XMLElement* c = e->NextSiblingElement(); c; c = c->NextSiblingElement()) {
    if (local_name(c) == name) return c;
  }
  return nullptr;
}

// Concatenated text children (sipe_xml_data).
std::string text_of(const XMLElement* e) {
  std::string out;
  if (!e) return out;
  for (const XMLNode* n = e->FirstChild(); n; n = n->NextSibling()) {
    if (const auto* t = n->ToText()) out += t->Value();
  }
  return out;
}

chat_post read_post(const XMLElement* e) {
  chat_post p;
  p.room = attr_str(e, "chanUri");
  p.author = attr_str(e, "author");
  p.ts = attr_str(e, "ts");
  p.text = text_of(child(e, "chat"));
  if (std::optional<int64_t> micros = utc::parse_timestamp(p.ts)) p.ts_micros = *micros;
  return p;
}

int read_int(std::string_view s, int fallback) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  int v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && ptr != s.data() ? v : fallback;
}

// Splits an aib value "0,1,5" into ids.
std::vector<std::string_view> split_ids(std::string_view list) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view id = list.substr(0, comma);
    while (!id.empty() && id.front() == ' ') id.remove_prefix(1);
    while (!id.empty() && id.back() == ' ') id.remove_suffix(1);
    if (!id.empty()) out.push_back(id);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

void read_chansrch(const XMLElement* data, xccos_reply& r) {
  for (const XMLElement* c = child(data, "chanib"); c; c = twin(c)) {
    room_info room;
    room.uri = attr_str(c, "uri");
    room.name = attr_str(c, "name");
    room.description = attr_str(c, "description");
    for (const XMLElement* i = child(c, "info"); i; i = twin(i)) {
      std::string_view id = attr_view(i, "id");
      if (id == "urn:parlano:ma:info:ucnt") room.user_count = read_int(text_of(i), -1);
      if (id == "urn:parlano:ma:info:visibilty") room.is_private = text_of(i) == "private";
    }
    for (const XMLElement* p = child(c, "prop"); p; p = twin(p)) {
      std::string_view id = attr_view(p, "id");
      bool on = text_of(p) == "true";
      if (id == "urn:parlano:ma:prop:filepost") room.file_post = on;
      if (id == "urn:parlano:ma:prop:invite") room.invite = on;
      if (id == "urn:parlano:ma:prop:logged") room.logged = on;
    }
    r.rooms.push_back(std::move(room));
  }
}

// rpl:join / rpl:bjoin: one uib table shared by all chanib (ids unique across the reply).
void read_join(const XMLElement* data, xccos_reply& r) {
  std::unordered_map<std::string, std::string> users;
  for (const XMLElement* u = child(data, "uib"); u; u = twin(u)) {
    users[attr_str(u, "id")] = attr_str(u, "uri");
  }
  for (const XMLElement* c = child(data, "chanib"); c; c = twin(c)) {
    joined_room_info room;
    room.uri = attr_str(c, "uri");
    room.name = attr_str(c, "name");
    room.topic = attr_str(c, "topic");
    for (const XMLElement* a = child(c, "aib"); a; a = twin(a)) {
      std::string_view key = attr_view(a, "key");
      auto& list = key == kAibManager ? room.managers : room.members;
      if (key != kAibManager && key != kAibUser) continue;
      for (std::string_view id : split_ids(attr_view(a, "value"))) {
        auto it = users.find(std::string(id));
        // An id missing from the uib table is kept visibly wrong rather than dropped.
        list.push_back(it != users.end() ? it->second : "?uib:" + std::string(id));
      }
    }
    r.joined.push_back(std::move(room));
  }
  for (const XMLElement* f = child(data, "fib"); f; f = twin(f)) {
    r.failed.push_back(
        {xccos::room_uri(attr_str(f, "domain"), attr_str(f, "value")), attr_str(f, "key")});
  }
}

void read_bccontext(const XMLElement* data, xccos_reply& r) {
  const XMLElement* c = child(data, "chanib");
  if (!c) return;
  r.room_uri = attr_str(c, "uri");
  for (const XMLElement* m = child(c, "msg"); m; m = twin(m)) {
    const char* id = attr(m, "id");
    if (!id || !ascii_iequal(id, "grpchat")) continue;  // SIPE ignores other ids
    r.messages.push_back(read_post(m));
  }
}

xccos_reply read_reply(const XMLElement* rpl) {
  xccos_reply r;
  r.id = attr_str(rpl, "id");
  if (const XMLElement* cid = child(rpl, "commandid")) {
    r.cmd_envid = attr_str(cid, "envid");
    r.cmd_seqid = attr_str(cid, "seqid");
  }
  if (const XMLElement* resp = child(rpl, "resp")) {
    r.has_resp = true;
    r.code = read_int(attr_view(resp, "code"), 500);
    r.text = text_of(resp);
  }
  const XMLElement* data = child(rpl, "data");
  std::string id = r.id;
  for (char& ch : id) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  if (!data) return r;
  if (id == "rpl:requri") {
    if (const XMLElement* u = child(data, "uib")) r.channel_uri = attr_str(u, "uri");
  } else if (id == "rpl:chansrch") {
    read_chansrch(data, r);
  } else if (id == "rpl:join" || id == "rpl:bjoin") {
    read_join(data, r);
  } else if (id == "rpl:part") {
    if (const XMLElement* c = child(data, "chanib")) r.room_uri = attr_str(c, "uri");
  } else if (id == "rpl:bccontext") {
    read_bccontext(data, r);
  } else if (id == "rpl:getservinfo" || id == "rpl:getserverinfo") {
    if (const XMLElement* sib = child(data, "sib")) {
      for (const XMLAttribute* a = sib->FirstAttribute(); a; a = a->Next()) {
        r.server_info.emplace_back(a->Name(), a->Value());
      }
    }
  } else if (id == "rpl:getpref") {
    if (const XMLElement* p = child(data, "pref")) {
      r.has_pref = true;
      r.pref_label = attr_str(p, "label");
      r.pref_seqid = attr_str(p, "seqid");
      r.pref_content = attr_str(p, "content");
    }
  } else if (id != "rpl:setpref") {  // rpl:getinv keeps its <inv> list here
    tinyxml2::XMLPrinter printer(nullptr, /*compact=*/true);
    data->Accept(&printer);
    r.data_xml.assign(printer.CStr(), printer.CStrSize() > 0 ? printer.CStrSize() - 1 : 0);
  }
  return r;
}

void read_notice(const XMLElement* ntc, std::vector<roster_event>& out) {
  std::string id = attr_str(ntc, "id");
  const XMLElement* data = child(ntc, "data");
  if (!data) return;
  if (ascii_iequal(id, "ntc:join") || ascii_iequal(id, "ntc:bjoin")) {
    // Inverted nesting compared with rpl:join: aib inside uib names the room.
    for (const XMLElement* u = child(data, "uib"); u; u = twin(u)) {
      for (const XMLElement* a = child(u, "aib"); a; a = twin(a)) {
        roster_event ev;
        ev.what = roster_event::kind::join;
        ev.user = attr_str(u, "uri");
        ev.room = xccos::room_uri(attr_str(a, "domain"), attr_str(a, "value"));
        ev.manager = attr_str(a, "key") == kAibManager;
        out.push_back(std::move(ev));
      }
    }
  } else if (ascii_iequal(id, "ntc:part")) {
    for (const XMLElement* c = child(data, "chanib"); c; c = twin(c)) {
      for (const XMLElement* u = child(c, "uib"); u; u = twin(u)) {
        roster_event ev;
        ev.what = roster_event::kind::part;
        ev.room = attr_str(c, "uri");
        ev.user = attr_str(u, "uri");
        out.push_back(std::move(ev));
      }
    }
  }
}

void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
}

std::string cmd(std::string_view id, std::string_view data_inner) {
  std::string out;
  out.reserve(48 + data_inner.size());
  out.append("<cmd id=\"").append(id).append("\" seqid=\"1\">");
  if (data_inner.empty()) {
    out.append("<data/>");
  } else {
    out.append("<data>").append(data_inner).append("</data>");
  }
  out.append("</cmd>");
  return out;
}

bool chanid(std::string_view uri, int key, std::string& out) {
  std::optional<xccos::uri_parts> room = xccos::parse_room_uri(uri);
  if (!room) return false;
  out.append("<chanid key=\"").append(std::to_string(key)).append("\" domain=\"");
  append_escaped(out, room->domain);
  out.append("\" value=\"");
  append_escaped(out, room->id);
  out.append("\"/>");
  return true;
}

}  // namespace

bool decode_push(std::string_view body, push_batch& out, std::string& error) {
  out = push_batch();
  XMLDocument doc;
  if (doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS) {
    error = std::string("malformed XML: ") + (doc.ErrorStr() ? doc.ErrorStr() : "?");
    return false;
  }
  const XMLElement* root = doc.RootElement();
  if (!root) {
    error = "no root element";
    return false;
  }
  out.envid = attr_str(root, "envid");
  if (const XMLElement* rpl = child(root, "rpl")) {
    for (; rpl; rpl = twin(rpl)) out.replies.push_back(read_reply(rpl));
    return true;
  }
  if (const XMLElement* ntc = child(root, "ntc")) {
    for (; ntc; ntc = twin(ntc)) read_notice(ntc, out.roster);
    return true;
  }
  if (const XMLElement* g = child(root, "grpchat")) {
    out.message = read_post(g);
    return true;
  }
  error = "no rpl, ntc or grpchat under the root";
  return false;
}

bool parse_provisioning(std::string_view body, provisioning_info& out, std::string& error) {
  out = provisioning_info();
  XMLDocument doc;
  if (doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS) {
    error = std::string("malformed provisioning XML: ") + (doc.ErrorStr() ? doc.ErrorStr() : "?");
    return false;
  }
  const XMLElement* root = doc.RootElement();
  if (!root) {
    error = "provisioning body has no root element";
    return false;
  }
  out.parsed = true;
  for (const XMLElement* g = child(root, "provisionGroup"); g; g = twin(g)) {
    const char* name = attr(g, "name");
    if (!name) continue;
    // SIPE compares group and property names case-sensitively (sipe_strequal).
    if (std::string_view(name) == "ServerConfiguration") {
      for (const char* unwanted :
           {"focusFactoryUri", "dlxInternalUrl", "absInternalServerUrl", "mrasUri"}) {
        if (child(g, unwanted)) out.unwanted_server_config.emplace_back(unwanted);
      }
    } else if (std::string_view(name) == "persistentChatConfiguration") {
      out.has_chat_group = true;
      for (const XMLElement* p = child(child(g, "propertyEntryList"), "property"); p; p = twin(p)) {
        const char* pname = attr(p, "name");
        if (!pname) continue;
        if (std::string_view(pname) == "EnablePersistentChat") {
          out.enabled = text_of(p) == "true";
        } else if (std::string_view(pname) == "DefaultPersistentChatPoolUri") {
          out.pool_uri = text_of(p);
        }
      }
    }
  }
  return true;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  append_escaped(out, text);
  return out;
}

std::string encode_envelope(uint32_t envid, std::string_view inner) {
  std::string out;
  out.reserve(80 + inner.size());
  out.append("<xccos ver=\"1\" envid=\"").append(std::to_string(envid));
  out.append("\" xmlns=\"urn:parlano:xml:ns:xccos\">").append(inner).append("</xccos>");
  return out;
}

std::string encode_requri_cmd() {
  return cmd("cmd:requri", "");
}

std::string encode_getserverinfo_cmd(std::string_view domain, std::string_view info_type) {
  std::string d = "<sib domain=\"";
  append_escaped(d, domain);
  d.append("\" infoType=\"");
  append_escaped(d, info_type);
  d.append("\"/>");
  return cmd("cmd:getserverinfo", d);
}

std::string encode_chansrch_cmd(std::string_view qtype, std::string_view criteria, bool extended) {
  std::string d = "<qib qtype=\"";
  append_escaped(d, qtype);
  d.append("\" criteria=\"");
  append_escaped(d, criteria);
  d.append("\" extended=\"").append(extended ? "true" : "false").append("\"/>");
  return cmd("cmd:chansrch", d);
}

std::string encode_join_cmd(std::string_view room_uri) {
  std::string d;
  if (!chanid(room_uri, 0, d)) return {};
  return cmd("cmd:join", d);
}

std::string encode_bjoin_cmd(const std::vector<std::string>& room_uris) {
  std::string d;
  int key = 0;
  for (const auto& uri : room_uris) {
    if (chanid(uri, key, d)) ++key;
  }
  return cmd("cmd:bjoin", d);
}

std::string encode_part_cmd(std::string_view room_uri) {
  std::string d = "<chanib uri=\"";
  append_escaped(d, room_uri);
  d.append("\"/>");
  return cmd("cmd:part", d);
}

std::string encode_bccontext_cmd(std::string_view room_uri, int count) {
  std::string d = "<chanib uri=\"";
  append_escaped(d, room_uri);
  d.append("\"/><bcq><last cnt=\"").append(std::to_string(count)).append("\"/></bcq>");
  return cmd("cmd:bccontext", d);
}

std::string encode_getinv_cmd(std::string_view domain) {
  std::string d = "<inv inviteId=\"1\" domain=\"";
  append_escaped(d, domain);
  d.append("\"/>");
  return cmd("cmd:getinv", d);
}

std::string encode_getpref_cmd(std::string_view label, std::string_view seqid) {
  std::string d = "<pref label=\"";
  append_escaped(d, label);
  d.append("\" seqid=\"");
  append_escaped(d, seqid);
  d.append("\" createdefault=\"true\"/>");
  return cmd("cmd:getpref", d);
}

std::string encode_setpref_cmd(std::string_view label, std::string_view seqid,
                               std::string_view content_base64) {
  std::string d = "<pref label=\"";
  append_escaped(d, label);
  d.append("\" seqid=\"");
  append_escaped(d, seqid);
  d.append("\" createdefault=\"false\" content=\"");
  append_escaped(d, content_base64);
  d.append("\"/>");
  return cmd("cmd:setpref", d);
}

std::string encode_grpchat(std::string_view room_uri, std::string_view author, std::string_view ts,
                           std::string_view text) {
  std::string out;
  out.reserve(120 + room_uri.size() + author.size() + text.size());
  out.append("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"");
  append_escaped(out, room_uri);
  out.append("\" author=\"");
  append_escaped(out, author);
  out.append("\" ts=\"");
  append_escaped(out, ts);
  out.append("\"><chat>");
  append_escaped(out, text);
  out.append("</chat></grpchat>");
  return out;
}

bool reply_matches_command(std::string_view reply_id, std::string_view command_id) {
  if (reply_id.size() < 4 || command_id.size() < 4) return false;
  if (!ascii_iequal(reply_id.substr(0, 4), "rpl:") || !ascii_iequal(command_id.substr(0, 4), "cmd:")) {
    return false;
  }
  std::string_view r = reply_id.substr(4), c = command_id.substr(4);
  if (ascii_iequal(c, "getserverinfo")) return ascii_iequal(r, "getserverinfo") || ascii_iequal(r, "getservinfo");
  return ascii_iequal(r, c);
}

}  // namespace pchat::client
