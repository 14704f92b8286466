#include "protocol/xccos/xccos_codec.h"

#include <tinyxml2.h>

#include "text/ascii.h"
#include "text/valid_text.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <initializer_list>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace pchat::xccos {
namespace {

using tinyxml2::XMLAttribute;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;
using tinyxml2::XMLNode;

constexpr std::string_view kXccosNs = "urn:parlano:xml:ns:xccos";
constexpr const char* kAibUser = "3984";
constexpr const char* kAibManager = "12276";
// When the DOM is unavailable (oversize or malformed body) the envelope head is
// recovered lexically; the root and command start tags sit at the very beginning,
// so there is no reason to scan megabytes for them.
constexpr size_t kRecoveryScanBytes = 4096;

// ---------------------------------------------------------------------------
// Small string helpers.

using text::ascii_iequal;

// sipe strips everything up to the first ':' of an element name; a client may pick
// any prefix, so qualified names are never compared directly.
std::string_view local_name(std::string_view qname) {
  size_t colon = qname.find(':');
  return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
}

std::string_view local_name(const XMLElement* e) {
  return local_name(e->Name());
}

// ---------------------------------------------------------------------------
// Output escaping.
//
// Decoding refuses text that breaks text::check(), but stored records written by older
// versions may still hold invalid UTF-8 or control characters; libxml2 in sipe rejects
// the whole INFO for either, which would lose the message for every member. So output
// applies the exit repair of text/valid_text.h (U+FFFD) to every byte it emits.

// The only escaping routine for emitted text and attribute values.
// Attribute values also escape TAB/LF/CR as character references because a receiving
// parser would otherwise normalise them to spaces; text keeps LF/TAB literal but
// escapes CR, which a parser would otherwise fold into LF.
void append_escaped(std::string& out, std::string_view s, bool attribute) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t len = text::decode_utf8(s, i, cp);
    if (len == 0 || !text::allowed_on_entry(cp)) {
      out += "\xEF\xBF\xBD";  // U+FFFD: an invalid byte alone, or the refused code point
      i += len == 0 ? 1 : len;
      continue;
    }
    switch (cp) {
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
        out += attribute ? "&quot;" : "\"";
        break;
      case '\'':
        out += attribute ? "&apos;" : "'";
        break;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        out.append(s.substr(i, len));
    }
    i += len;
  }
}

// Names copied from a client document into our output (extra_xml) must be safe to
// print unescaped. tinyxml2 already restricts the ASCII range; this adds UTF-8 validity.
bool is_safe_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    size_t len = text::decode_utf8(name, i, cp);
    if (len == 0) return false;
    if (cp < 0x80) {
      const char c = static_cast<char>(cp);
      const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      const bool ok = alpha || c == '_' || c == ':' ||
                      (i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
      if (!ok) return false;
    }
    i += len;
  }
  return true;
}

// Minimal streaming writer: produces compact XML (no declaration, no whitespace
// between elements). Every value goes through append_escaped().
class xml_writer {
 public:
  xml_writer& open(std::string_view name) {
    end_start_tag();
    out_ += '<';
    out_ += name;
    stack_.emplace_back(name);
    start_tag_open_ = true;
    return *this;
  }
  // Only meaningful directly after open(); ignored otherwise (programming error, and
  // emitting it would corrupt the document).
  xml_writer& attr(std::string_view name, std::string_view value) {
    if (!start_tag_open_) return *this;
    out_ += ' ';
    out_ += name;
    out_ += "=\"";
    append_escaped(out_, value, /*attribute=*/true);
    out_ += '"';
    return *this;
  }
  xml_writer& text(std::string_view s) {
    if (s.empty()) return *this;
    end_start_tag();
    append_escaped(out_, s, /*attribute=*/false);
    return *this;
  }
  xml_writer& close() {
    if (stack_.empty()) return *this;
    if (start_tag_open_) {
      out_ += "/>";
      start_tag_open_ = false;
    } else {
      out_ += "</";
      out_ += stack_.back();
      out_ += '>';
    }
    stack_.pop_back();
    return *this;
  }
  // Opens, adds attributes and closes in one go: leaf(name, {{"a","1"}}).
  xml_writer& leaf(std::string_view name,
                   std::initializer_list<std::pair<std::string_view, std::string_view>> attrs) {
    open(name);
    for (const auto& [k, v] : attrs) attr(k, v);
    return close();
  }
  std::string finish() {
    while (!stack_.empty()) close();
    return std::move(out_);
  }

 private:
  void end_start_tag() {
    if (start_tag_open_) {
      out_ += '>';
      start_tag_open_ = false;
    }
  }

  std::string out_;
  std::vector<std::string> stack_;
  bool start_tag_open_ = false;
};

// Writes a parsed subtree through the writer. `extra_attrs` are namespace
// declarations to add on the top element. Elements with unprintable names are
// dropped together with their subtree; comments and other nodes are dropped.
void write_subtree(xml_writer& w, const XMLNode* node,
                   const std::vector<std::pair<std::string, std::string>>& extra_attrs = {}) {
  if (const XMLElement* e = node->ToElement()) {
    if (!is_safe_name(e->Name())) return;
    w.open(e->Name());
    for (const auto& [k, v] : extra_attrs) w.attr(k, v);
    for (const XMLAttribute* a = e->FirstAttribute(); a; a = a->Next()) {
      if (is_safe_name(a->Name())) w.attr(a->Name(), a->Value());
    }
    for (const XMLNode* c = e->FirstChild(); c; c = c->NextSibling()) write_subtree(w, c);
    w.close();
  } else if (const tinyxml2::XMLText* t = node->ToText()) {
    w.text(t->Value());
  }
}

// ---------------------------------------------------------------------------
// DOM access helpers (prefix-stripped element names, case-insensitive attributes).

// Attribute names are matched case-insensitively, as sipe does. An unprefixed match
// wins; a prefixed one (other than xmlns:) is accepted as a fallback because some
// serialisers qualify every attribute.
const char* find_attr(const XMLElement* e, std::string_view name) {
  const char* fallback = nullptr;
  for (const XMLAttribute* a = e->FirstAttribute(); a; a = a->Next()) {
    std::string_view n = a->Name();
    if (ascii_iequal(n, name)) return a->Value();
    size_t colon = n.find(':');
    if (!fallback && colon != std::string_view::npos && !ascii_iequal(n.substr(0, colon), "xmlns") &&
        ascii_iequal(n.substr(colon + 1), name)) {
      fallback = a->Value();
    }
  }
  return fallback;
}

std::string attr_or_empty(const XMLElement* e, std::string_view name) {
  const char* v = find_attr(e, name);
  return v ? std::string(v) : std::string();
}

const XMLElement* first_child(const XMLElement* e, std::string_view local) {
  if (!e) return nullptr;
  for (const XMLElement* c = e->FirstChildElement(); c; c = c->NextSiblingElement()) {
    if (local_name(c) == local) return c;
  }
  return nullptr;
}

const XMLElement* next_sibling(const XMLElement* e, std::string_view local) {
  for (const XMLElement* c = e->NextSiblingElement(); c; c = c->NextSiblingElement()) {
    if (local_name(c) == local) return c;
  }
  return nullptr;
}

// All text and CDATA children concatenated (GetText() returns only the first one).
std::string element_text(const XMLElement* e) {
  std::string s;
  for (const XMLNode* c = e->FirstChild(); c; c = c->NextSibling()) {
    if (const tinyxml2::XMLText* t = c->ToText()) s += t->Value();
  }
  return s;
}

// Namespace declarations in scope at an element: prefix ("" = default namespace) -> URI.
// Views point into the parsed document, which outlives every use.
using ns_scope = std::unordered_map<std::string_view, std::string_view>;

// The prefix an attribute named `n` declares, or false if it declares none.
bool declared_prefix(std::string_view n, std::string_view& prefix) {
  if (n == "xmlns") {
    prefix = {};
    return true;
  }
  if (n.starts_with("xmlns:")) {
    prefix = n.substr(6);
    return true;
  }
  return false;
}

// One pass over the element and its ancestors' attributes; the nearest declaration wins.
// (Looking each prefix up separately made a many-prefix post quadratic.)
ns_scope scope_at(const XMLElement* e) {
  ns_scope scope;
  for (const XMLNode* n = e; n; n = n->Parent()) {
    const XMLElement* el = n->ToElement();
    if (!el) break;
    for (const XMLAttribute* a = el->FirstAttribute(); a; a = a->Next()) {
      std::string_view prefix;
      if (declared_prefix(a->Name(), prefix)) scope.try_emplace(prefix, a->Value());
    }
  }
  return scope;
}

// Prefixes used by element and attribute names in the subtree, in first-use order.
struct used_prefixes {
  std::vector<std::string_view> order;
  std::unordered_set<std::string_view> seen;
  bool uses_default = false;
};

void collect_prefixes(const XMLElement* e, used_prefixes& used) {
  auto add = [&](std::string_view qname, bool is_element) {
    size_t colon = qname.find(':');
    if (colon == std::string_view::npos) {
      if (is_element) used.uses_default = true;
      return;
    }
    std::string_view p = qname.substr(0, colon);
    if (p == "xmlns" || p == "xml") return;
    if (used.seen.insert(p).second) used.order.push_back(p);
  };
  add(e->Name(), true);
  for (const XMLAttribute* a = e->FirstAttribute(); a; a = a->Next()) add(a->Name(), false);
  for (const XMLElement* c = e->FirstChildElement(); c; c = c->NextSiblingElement()) {
    collect_prefixes(c, used);
  }
}

// Serialises one extra child of <grpchat> so that it means the same thing once it is
// re-inserted under our own <grpchat> (default namespace = xccos): prefixes declared on
// the client's ancestors (`parent_scope`, the scope at <grpchat>) are re-declared on the
// element itself. Linear in the size of the subtree.
std::string serialise_extra(const XMLElement* e, const ns_scope& parent_scope) {
  used_prefixes used;
  collect_prefixes(e, used);
  std::unordered_set<std::string_view> own;  // declared on e itself ("" = xmlns)
  for (const XMLAttribute* a = e->FirstAttribute(); a; a = a->Next()) {
    std::string_view prefix;
    if (declared_prefix(a->Name(), prefix)) own.insert(prefix);
  }
  std::vector<std::pair<std::string, std::string>> decls;
  for (std::string_view p : used.order) {
    if (own.contains(p)) continue;
    if (auto it = parent_scope.find(p); it != parent_scope.end()) {
      decls.emplace_back("xmlns:" + std::string(p), std::string(it->second));
    }
  }
  if (used.uses_default && !own.contains(std::string_view{})) {
    auto it = parent_scope.find(std::string_view{});
    const std::string_view uri = it == parent_scope.end() ? std::string_view{} : it->second;
    if (uri != kXccosNs) decls.emplace_back("xmlns", std::string(uri));
  }
  xml_writer w;
  write_subtree(w, e, decls);
  return w.finish();
}

// ---------------------------------------------------------------------------
// Decoding.

command_kind kind_for_cmd_id(std::string_view id) {
  static constexpr std::pair<std::string_view, command_kind> kTable[] = {
      {"cmd:requri", command_kind::requri},
      {"cmd:getserverinfo", command_kind::getserverinfo},
      {"cmd:chansrch", command_kind::chansrch},
      {"cmd:join", command_kind::join},
      {"cmd:bjoin", command_kind::bjoin},
      {"cmd:part", command_kind::part},
      {"cmd:bccontext", command_kind::bccontext},
      {"cmd:getinv", command_kind::getinv},
      {"cmd:getpref", command_kind::getpref},
      {"cmd:setpref", command_kind::setpref},
      {"cmd:nodespermcreatechild", command_kind::nodespermcreatechild},
  };
  for (const auto& [name, kind] : kTable) {
    if (ascii_iequal(id, name)) return kind;
  }
  return command_kind::unknown;
}

command_kind kind_for(std::string_view element_local, std::string_view id) {
  if (element_local == "grpchat") return command_kind::grpchat;
  return kind_for_cmd_id(id);
}

// Minimal entity decoding for lexically recovered attribute values.
std::string unescape_basic(std::string_view v) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < v.size();) {
    bool replaced = false;
    if (v[i] == '&') {
      for (const auto& [ent, ch] : kEntities) {
        if (v.substr(i, ent.size()) == ent) {
          out += ch;
          i += ent.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += v[i++];
  }
  return out;
}

bool is_xml_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// One lexically complete start tag.
struct raw_tag {
  std::string_view name;
  std::vector<std::pair<std::string_view, std::string_view>> attrs;
};

// Reads the start tag beginning at s[pos] == '<' (name already known not to start
// with '/', '?' or '!'). Returns false if the tag is cut off or garbled.
bool read_start_tag(std::string_view s, size_t& pos, raw_tag& tag) {
  size_t i = pos + 1;
  size_t name_start = i;
  while (i < s.size() && !is_xml_space(s[i]) && s[i] != '>' && s[i] != '/') ++i;
  if (i == name_start || i >= s.size()) return false;
  tag.name = s.substr(name_start, i - name_start);
  tag.attrs.clear();
  while (true) {
    while (i < s.size() && is_xml_space(s[i])) ++i;
    if (i >= s.size()) return false;
    if (s[i] == '>' || s[i] == '/') break;
    size_t an = i;
    while (i < s.size() && !is_xml_space(s[i]) && s[i] != '=' && s[i] != '>') ++i;
    std::string_view aname = s.substr(an, i - an);
    while (i < s.size() && is_xml_space(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') return false;
    ++i;
    while (i < s.size() && is_xml_space(s[i])) ++i;
    if (i >= s.size() || (s[i] != '"' && s[i] != '\'')) return false;
    const char quote = s[i++];
    size_t vend = s.find(quote, i);
    if (vend == std::string_view::npos) return false;
    tag.attrs.emplace_back(aname, s.substr(i, vend - i));
    i = vend + 1;
  }
  pos = i;
  return true;
}

std::string raw_attr(const raw_tag& tag, std::string_view name) {
  for (const auto& [k, v] : tag.attrs) {
    if (ascii_iequal(k, name)) return unescape_basic(v);
  }
  return {};
}

// Recovers envid (first start tag) and id/seqid (first cmd/grpchat start tag) from a
// body that could not be parsed, so the caller can still address an error reply.
void recover_head_lexically(std::string_view body, command& out) {
  std::string_view s = body.substr(0, std::min(body.size(), kRecoveryScanBytes));
  bool seen_root = false;
  size_t pos = 0;
  raw_tag tag;
  while ((pos = s.find('<', pos)) != std::string_view::npos) {
    std::string_view rest = s.substr(pos);
    if (rest.starts_with("<?")) {
      pos = s.find("?>", pos);
    } else if (rest.starts_with("<!--")) {
      pos = s.find("-->", pos);
    } else if (rest.starts_with("<!") || rest.starts_with("</")) {
      pos = s.find('>', pos);
    } else {
      if (!read_start_tag(s, pos, tag)) return;
      if (!seen_root) {
        seen_root = true;
        out.envid = raw_attr(tag, "envid");
      } else {
        std::string_view local = local_name(tag.name);
        if (local == "cmd" || local == "grpchat") {
          out.id = raw_attr(tag, "id");
          out.seqid = raw_attr(tag, "seqid");
          out.kind = kind_for(local, out.id);
          return;
        }
      }
    }
    if (pos == std::string_view::npos) return;
    ++pos;
  }
}

// One linear pass over the raw body before tinyxml2 sees it, for what the DOM hides or
// makes expensive:
//  - every byte must pass the entry rule of text/valid_text.h (tinyxml2 accepts invalid
//    UTF-8 and control characters and would hand them on to storage);
//  - every character reference must name a character that rule allows (tinyxml2 turns
//    &#0; into a NUL that silently cuts the text short);
//  - no start tag may carry more than kMaxAttributesPerElement attributes (tinyxml2
//    checks each new attribute against all earlier ones: quadratic).
// CDATA sections, comments and processing instructions are skipped for the last two
// (their '&' and '=' are literal); their bytes are still checked by the first.
status check_lexically(std::string_view s) {
  if (text::problem p = text::check(s); !p.ok()) {
    return status::invalid_argument("text is not valid: " + p.reason + " of the XCCOS body");
  }
  // At s[i] == '&'. Advances i past the reference. Only the five predefined entities and
  // character references are XML here: for any other '&' tinyxml2 (9.0) skips a byte without
  // copying it once an earlier reference has shortened the text, leaving stale bytes (invalid
  // UTF-8 from a valid body: found by fuzzing), so it is refused before tinyxml2 sees it.
  auto char_ref = [&](size_t& i) -> status {
    const size_t start = i;
    if (i + 1 >= s.size() || s[i + 1] != '#') {
      for (std::string_view entity : {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"}) {
        if (s.substr(i, entity.size()) == entity) {
          i += entity.size();
          return status::ok();
        }
      }
      return status::invalid_argument("'&' at byte " + std::to_string(start) +
                                  " of the XCCOS body starts no entity or character reference"
                                  " (write &amp;)");
    }
    i += 2;
    const bool hex = i < s.size() && s[i] == 'x';
    if (hex) ++i;
    uint32_t cp = 0;
    size_t digits = 0;
    for (; i < s.size() && s[i] != ';'; ++i, ++digits) {
      const char c = s[i];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0 || digits >= 10) break;
      cp = std::min<uint32_t>(cp * (hex ? 16 : 10) + static_cast<uint32_t>(d), 0x110000);
    }
    const std::string_view ref = s.substr(start, std::min<size_t>(i + 1, s.size()) - start);
    if (digits == 0 || i >= s.size() || s[i] != ';') {
      return status::invalid_argument("malformed character reference at byte " +
                                  std::to_string(start) + " of the XCCOS body");
    }
    ++i;
    if (!text::allowed_on_entry(cp)) {
      return status::invalid_argument("character reference " + std::string(ref) + " (" +
                                  (cp > 0x10FFFF ? std::string("beyond U+10FFFF")
                                                 : text::code_point_name(cp)) +
                                  ") at byte " + std::to_string(start) +
                                  " of the XCCOS body is not allowed in text");
    }
    return status::ok();
  };
  auto skip_to = [&](size_t& i, std::string_view end) {
    const size_t j = s.find(end, i);
    i = j == std::string_view::npos ? s.size() : j + end.size();
  };
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '&') {
      if (status st = char_ref(i); !st.is_ok()) return st;
      continue;
    }
    if (c != '<') {
      ++i;
      continue;
    }
    const std::string_view rest = s.substr(i);
    if (rest.starts_with("<!--")) {
      skip_to(i, "-->");
    } else if (rest.starts_with("<![CDATA[")) {
      skip_to(i, "]]>");
    } else if (rest.starts_with("<?")) {
      skip_to(i, "?>");
    } else if (rest.starts_with("<!") || rest.starts_with("</")) {
      skip_to(i, ">");
    } else {
      const size_t tag_start = i;
      size_t attrs = 0;
      for (++i; i < s.size() && s[i] != '>';) {
        const char t = s[i];
        if (t == '"' || t == '\'') {
          for (++i; i < s.size() && s[i] != t;) {
            if (s[i] == '&') {
              if (status st = char_ref(i); !st.is_ok()) return st;
            } else {
              ++i;
            }
          }
          ++i;  // the closing quote (or past the end: the parser reports it)
          continue;
        }
        if (t == '=' && ++attrs > kMaxAttributesPerElement) {
          return status::invalid_argument("an element at byte " + std::to_string(tag_start) +
                                      " of the XCCOS body has more than " +
                                      std::to_string(kMaxAttributesPerElement) + " attributes");
        }
        ++i;
      }
    }
  }
  return status::ok();
}

status fail(command& out, std::string why) {
  // Keep only the addressing fields: a half-decoded payload must not be acted upon.
  command kept;
  kept.kind = out.kind;
  kept.id = std::move(out.id);
  kept.envid = std::move(out.envid);
  kept.seqid = std::move(out.seqid);
  out = std::move(kept);
  return status::invalid_argument(std::move(why));
}

// chanid domain+value -> canonical room URI.
status read_chanid(const XMLElement* chanid, size_t index, room_ref& room) {
  const char* domain = find_attr(chanid, "domain");
  const char* value = find_attr(chanid, "value");
  const std::string where = "chanid #" + std::to_string(index + 1);
  if (!domain || !*domain) return status::invalid_argument(where + " has no domain");
  if (!value || !*value) return status::invalid_argument(where + " has no value");
  // A '/' in the domain would make the rebuilt URI split differently later on.
  if (std::string_view(domain).find('/') != std::string_view::npos) {
    return status::invalid_argument(where + " has a '/' in its domain");
  }
  room.uri = room_uri(domain, value);
  room.key = attr_or_empty(chanid, "key");
  return status::ok();
}

status read_room_uri(const char* what, const char* uri, room_ref& room) {
  if (!uri) return status::invalid_argument(std::string(what) + " is missing");
  if (!parse_room_uri(uri)) {
    return status::invalid_argument(std::string(what) + " is not a ma-chan://domain/value URI");
  }
  room.uri = uri;
  return status::ok();
}

status decode_join(const XMLElement* data, command& out, bool batch) {
  size_t n = 0;
  for (const XMLElement* c = first_child(data, "chanid"); c; c = next_sibling(c, "chanid")) {
    if (batch && n >= kMaxBjoinRooms) {
      return status::invalid_argument("cmd:bjoin names more than " + std::to_string(kMaxBjoinRooms) +
                                  " rooms");
    }
    if (!batch && n >= 1) return status::invalid_argument("cmd:join needs exactly one chanid");
    room_ref room;
    if (status st = read_chanid(c, n, room); !st.is_ok()) return st;
    out.rooms.push_back(std::move(room));
    ++n;
  }
  if (n == 0) {
    return status::invalid_argument(batch ? "cmd:bjoin names no chanid"
                                      : "cmd:join needs exactly one chanid");
  }
  return status::ok();
}

status decode_bccontext(const XMLElement* data, command& out) {
  room_ref room;
  const XMLElement* chanib = first_child(data, "chanib");
  status st =
      read_room_uri("chanib/@uri", chanib ? find_attr(chanib, "uri") : nullptr, room);
  if (!st.is_ok()) return st;
  out.rooms.push_back(std::move(room));
  const XMLElement* last = first_child(first_child(data, "bcq"), "last");
  if (const char* cnt = last ? find_attr(last, "cnt") : nullptr) {
    std::string_view v(cnt);
    int n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < 0) {
      return status::invalid_argument("bcq/last/@cnt is not a non-negative integer");
    }
    out.history_count = n;
  }
  return status::ok();
}

status decode_pref(const XMLElement* data, command& out) {
  const XMLElement* pref = first_child(data, "pref");
  if (!pref) return status::invalid_argument(out.id + " has no pref element");
  const char* label = find_attr(pref, "label");
  if (!label || !*label) return status::invalid_argument(out.id + " pref has no label");
  out.pref_label = label;
  out.pref_seqid = attr_or_empty(pref, "seqid");
  out.pref_content = attr_or_empty(pref, "content");
  const char* create = find_attr(pref, "createdefault");
  out.pref_create_default = create && ascii_iequal(create, "true");
  return status::ok();
}

status decode_cmd(const XMLElement* cmd, command& out) {
  if (!find_attr(cmd, "id")) return status::invalid_argument("cmd has no id attribute");
  const XMLElement* data = first_child(cmd, "data");
  switch (out.kind) {
    case command_kind::requri:
    case command_kind::nodespermcreatechild:
    case command_kind::unknown:
      return status::ok();
    case command_kind::getserverinfo:
      if (const XMLElement* sib = first_child(data, "sib")) {
        out.info_type = attr_or_empty(sib, "infoType");
      }
      return status::ok();
    case command_kind::chansrch:
      if (const XMLElement* qib = first_child(data, "qib")) {
        out.qtype = attr_or_empty(qib, "qtype");
        out.criteria = attr_or_empty(qib, "criteria");
      }
      return status::ok();
    case command_kind::join:
    case command_kind::bjoin:
      if (!data) return status::invalid_argument(out.id + " has no data element");
      return decode_join(data, out, out.kind == command_kind::bjoin);
    case command_kind::part: {
      const XMLElement* chanib = first_child(data, "chanib");
      room_ref room;
      status st =
          read_room_uri("chanib/@uri", chanib ? find_attr(chanib, "uri") : nullptr, room);
      if (st.is_ok()) out.rooms.push_back(std::move(room));
      return st;
    }
    case command_kind::bccontext:
      return decode_bccontext(data, out);
    case command_kind::getinv:
      for (const XMLElement* inv = first_child(data, "inv"); inv; inv = next_sibling(inv, "inv")) {
        out.invites.push_back({attr_or_empty(inv, "inviteId"), attr_or_empty(inv, "domain")});
      }
      return status::ok();
    case command_kind::getpref:
    case command_kind::setpref:
      return decode_pref(data, out);
    case command_kind::grpchat:
      break;
  }
  return status::invalid_argument("internal: unexpected command kind");
}

status decode_grpchat(const XMLElement* g, command& out) {
  chat_message& m = out.chat;
  room_ref room;
  if (status st = read_room_uri("grpchat chanUri", find_attr(g, "chanUri"), room); !st.is_ok()) {
    return st;
  }
  m.chan_uri = std::move(room.uri);
  m.author = attr_or_empty(g, "author");
  m.ts = attr_or_empty(g, "ts");
  const XMLElement* chat = first_child(g, "chat");
  if (!chat) return status::invalid_argument("grpchat has no chat element");
  m.text = element_text(chat);
  if (m.text.size() > kMaxChatBytes) {
    return status::invalid_argument("chat text of " + std::to_string(m.text.size()) +
                                " bytes exceeds the limit of " + std::to_string(kMaxChatBytes));
  }
  const ns_scope scope = scope_at(g);
  for (const XMLElement* c = g->FirstChildElement(); c; c = c->NextSiblingElement()) {
    if (c != chat) m.extra_xml += serialise_extra(c, scope);
  }
  return status::ok();
}

// ---------------------------------------------------------------------------
// Encoding helpers.

void open_envelope(xml_writer& w, uint64_t envid) {
  w.open("xccos").attr("ver", "1").attr("envid", std::to_string(envid)).attr("xmlns", kXccosNs);
}

// Writes <xccos><rpl><commandid/><resp/> and leaves <data> open.
void open_reply(xml_writer& w, const reply_head& h) {
  open_envelope(w, h.envid);
  w.open("rpl").attr("id", h.id).attr("seqid", "1");
  w.leaf("commandid", {{"seqid", h.cmd_seqid.empty() ? "1" : h.cmd_seqid}, {"envid", h.cmd_envid}});
  w.open("resp").attr("code", std::to_string(static_cast<int>(h.code)));
  w.text(h.text.empty() ? result_text(h.code) : h.text);
  w.close();
  w.open("data");
}

// Non-canonical URIs (a caller bug) still produce a notice naming the room somehow
// rather than being silently skipped.
void split_or_whole(std::string_view uri, std::string& domain, std::string& value) {
  if (std::optional<uri_parts> p = parse_room_uri(uri)) {
    domain = std::move(p->domain);
    value = std::move(p->id);
  } else {
    domain.clear();
    value = uri;
  }
}

void write_chat_children(xml_writer& w, const chat_message& m) {
  w.open("chat").text(m.text).close();
  if (m.extra_xml.empty()) return;
  // extra_xml is our own decoder's output, but it lives in storage: parse it rather than
  // pasting bytes, so a corrupted value can never break the envelope.
  XMLDocument frag;
  if (frag.Parse(m.extra_xml.data(), m.extra_xml.size()) != tinyxml2::XML_SUCCESS) return;
  for (const XMLNode* n = frag.FirstChild(); n; n = n->NextSibling()) write_subtree(w, n);
}

void write_chat_element(xml_writer& w, std::string_view element, const chat_message& m) {
  w.open(element).attr("id", "grpchat");
  if (element == "grpchat") w.attr("seqid", "1");
  w.attr("chanUri", m.chan_uri).attr("author", m.author).attr("ts", m.ts);
  write_chat_children(w, m);
  w.close();
}

std::string join_ids(const std::vector<size_t>& ids) {
  std::string s;
  for (size_t id : ids) {
    if (!s.empty()) s += ',';
    s += std::to_string(id);
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API.

const char* result_text(result_code c) {
  switch (c) {
    case result_code::ok:
      return "SUCCESS_OK";
    case result_code::bad_request:
      return "ERR_BAD_REQUEST";
    case result_code::forbidden:
      return "ERR_FORBIDDEN";
    case result_code::not_found:
      return "ERR_NOT_FOUND";
    case result_code::too_large:
      return "ERR_TOO_LARGE";
    case result_code::internal_error:
      return "ERR_INTERNAL";
    case result_code::unavailable:
      return "ERR_UNAVAILABLE";
  }
  return "ERR_UNKNOWN";
}

status decode(std::string_view body, command& out) {
  out = command{};
  if (body.size() > kMaxBodyBytes) {
    recover_head_lexically(body, out);
    return status::invalid_argument("body of " + std::to_string(body.size()) +
                                " bytes exceeds the limit of " + std::to_string(kMaxBodyBytes));
  }
  if (status st = check_lexically(body); !st.is_ok()) {
    recover_head_lexically(body, out);
    return st;
  }
  XMLDocument doc(/*processEntities=*/true, tinyxml2::PRESERVE_WHITESPACE);
  if (doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS) {
    std::string why =
        "malformed XML at line " + std::to_string(doc.ErrorLineNum()) + ": " + doc.ErrorName();
    recover_head_lexically(body, out);
    return status::invalid_argument(std::move(why));
  }
  const XMLElement* root = doc.RootElement();
  if (!root) return status::invalid_argument("document has no root element");

  // Addressing fields first, so that every later error can still be answered.
  out.envid = attr_or_empty(root, "envid");
  const XMLElement* msg = nullptr;
  for (const XMLElement* c = root->FirstChildElement(); c; c = c->NextSiblingElement()) {
    std::string_view l = local_name(c);
    if (l == "cmd" || l == "grpchat") {
      msg = c;
      break;
    }
  }
  if (msg) {
    out.id = attr_or_empty(msg, "id");
    out.seqid = attr_or_empty(msg, "seqid");
    out.kind = kind_for(local_name(msg), out.id);
  }

  if (local_name(root) != "xccos") {
    return fail(out, "root element is <" + std::string(local_name(root)) + ">, not <xccos>");
  }
  if (!msg) return fail(out, "xccos has no cmd or grpchat child");
  status st =
      out.kind == command_kind::grpchat ? decode_grpchat(msg, out) : decode_cmd(msg, out);
  if (!st.is_ok()) return fail(out, st.reason());
  return st;
}

status decode_reply_result(std::string_view body, reply_result& out) {
  out = reply_result{};
  if (body.size() > kMaxBodyBytes) return status::invalid_argument("reply body too large");
  XMLDocument doc(/*processEntities=*/true, tinyxml2::PRESERVE_WHITESPACE);
  if (doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS)
    return status::invalid_argument("malformed reply XML");
  const XMLElement* root = doc.RootElement();
  const XMLElement* rpl = root ? first_child(root, "rpl") : nullptr;
  if (!rpl) return status::invalid_argument("not a reply");
  if (const XMLElement* cid = first_child(rpl, "commandid")) out.cmd_envid = attr_or_empty(cid, "envid");
  const XMLElement* resp = first_child(rpl, "resp");
  std::string code = resp ? attr_or_empty(resp, "code") : std::string();
  auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), out.code);
  if (code.empty() || ec != std::errc() || end != code.data() + code.size())
    return status::invalid_argument("reply without a numeric resp code");
  if (const char* t = resp->GetText()) out.text = t;
  return status::ok();
}

status decode_roster_notice(std::string_view body, roster_notice& out) {
  out = roster_notice{};
  if (body.size() > kMaxBodyBytes) return status::invalid_argument("notice body too large");
  XMLDocument doc(/*processEntities=*/true, tinyxml2::PRESERVE_WHITESPACE);
  if (doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS)
    return status::invalid_argument("malformed notice XML");
  const XMLElement* root = doc.RootElement();
  const XMLElement* ntc = root ? first_child(root, "ntc") : nullptr;
  const XMLElement* data = ntc ? first_child(ntc, "data") : nullptr;
  if (!data) return status::invalid_argument("not a notice");
  std::string id = attr_or_empty(ntc, "id");
  if (id == "ntc:join") {
    const XMLElement* uib = first_child(data, "uib");
    const XMLElement* aib = uib ? first_child(uib, "aib") : nullptr;
    if (!aib) return status::invalid_argument("ntc:join without uib/aib");
    std::string domain = attr_or_empty(aib, "domain"), value = attr_or_empty(aib, "value");
    if (domain.empty() || value.empty()) return status::invalid_argument("ntc:join without a room");
    out.joined = true;
    out.user_uri = attr_or_empty(uib, "uri");
    out.room_uri = room_uri(domain, value);
  } else if (id == "ntc:part") {
    const XMLElement* chan = first_child(data, "chanib");
    const XMLElement* uib = chan ? first_child(chan, "uib") : nullptr;
    if (!uib) return status::invalid_argument("ntc:part without chanib/uib");
    out.room_uri = attr_or_empty(chan, "uri");
    out.user_uri = attr_or_empty(uib, "uri");
  } else {
    return status::invalid_argument("not a roster notice");
  }
  if (out.user_uri.empty()) return status::invalid_argument("roster notice without a user");
  return status::ok();
}

std::string encode_empty_reply(const reply_head& h) {
  xml_writer w;
  open_reply(w, h);
  return w.finish();
}

std::string encode_requri_reply(const reply_head& h, std::string_view channel_uri) {
  xml_writer w;
  open_reply(w, h);
  w.leaf("uib", {{"uri", channel_uri}});
  return w.finish();
}

std::string encode_serverinfo_reply(const reply_head& h, const server_info& info) {
  xml_writer w;
  open_reply(w, h);
  w.open("sib")
      .attr("infoType", info.info_type)
      .attr("serverTime", info.server_time)
      .attr("searchLimit", std::to_string(info.search_limit))
      .attr("messageSizeLimit", std::to_string(info.message_size_limit))
      .attr("storySizeLimit", std::to_string(info.story_size_limit))
      .attr("rootUri", info.root_uri)
      .attr("dbVersion", info.db_version)
      .close();
  return w.finish();
}

std::string encode_chansrch_reply(const reply_head& h, const std::vector<room_summary>& rooms) {
  auto tf = [](bool b) { return b ? "true" : "false"; };
  xml_writer w;
  open_reply(w, h);
  for (const room_summary& r : rooms) {
    w.open("chanib").attr("name", r.name).attr("description", r.description).attr("uri", r.uri);
    w.open("info")
        .attr("id", "urn:parlano:ma:info:ucnt")
        .text(std::to_string(r.user_count))
        .close();
    // "visibilty" (sic): the spelling sipe matches.
    w.open("info")
        .attr("id", "urn:parlano:ma:info:visibilty")
        .text(r.is_private ? "private" : "public")
        .close();
    w.open("prop").attr("id", "urn:parlano:ma:prop:filepost").text(tf(r.file_post)).close();
    w.open("prop").attr("id", "urn:parlano:ma:prop:invite").text(tf(r.invite)).close();
    w.open("prop").attr("id", "urn:parlano:ma:prop:logged").text(tf(r.logged)).close();
    w.close();
  }
  return w.finish();
}

std::string encode_join_reply(const reply_head& h, const std::vector<joined_room>& joined,
                              const std::vector<std::string>& failed_uris) {
  // One user table for the whole reply: a user present in several rooms gets one id.
  std::unordered_map<std::string_view, size_t> ids;
  std::vector<std::string_view> table;
  for (const joined_room& r : joined) {
    for (const roster_member& m : r.members) {
      if (ids.try_emplace(m.uri, table.size()).second) table.push_back(m.uri);
    }
  }

  xml_writer w;
  open_reply(w, h);
  for (size_t i = 0; i < table.size(); ++i) {
    w.leaf("uib", {{"id", std::to_string(i)}, {"uri", table[i]}});
  }
  for (const joined_room& r : joined) {
    // Each user under exactly one key, as real servers do; a duplicate listing of the
    // same user counts as manager if any listing says so.
    std::vector<size_t> order;
    std::unordered_map<size_t, bool> is_manager;
    for (const roster_member& m : r.members) {
      const size_t id = ids.at(m.uri);
      auto [it, inserted] = is_manager.try_emplace(id, m.manager);
      if (inserted) {
        order.push_back(id);
      } else {
        it->second = it->second || m.manager;
      }
    }
    std::vector<size_t> users;
    std::vector<size_t> managers;
    for (size_t id : order) (is_manager[id] ? managers : users).push_back(id);

    w.open("chanib").attr("uri", r.uri).attr("name", r.name).attr("topic", r.topic);
    if (!users.empty()) w.leaf("aib", {{"key", kAibUser}, {"value", join_ids(users)}});
    if (!managers.empty()) w.leaf("aib", {{"key", kAibManager}, {"value", join_ids(managers)}});
    w.close();
  }
  for (const std::string& uri : failed_uris) {
    std::string domain;
    std::string value;
    split_or_whole(uri, domain, value);
    w.leaf("fib", {{"key", "OPERATION_FAILED"}, {"value", value}, {"domain", domain}});
  }
  return w.finish();
}

std::string encode_part_reply(const reply_head& h, std::string_view room_uri) {
  xml_writer w;
  open_reply(w, h);
  w.leaf("chanib", {{"uri", room_uri}});
  return w.finish();
}

std::string encode_backchat_reply(const reply_head& h, std::string_view room_uri,
                                  const std::vector<chat_message>& history) {
  xml_writer w;
  open_reply(w, h);
  w.open("chanib").attr("uri", room_uri);
  for (const chat_message& m : history) write_chat_element(w, "msg", m);
  return w.finish();
}

std::string encode_getpref_reply(const reply_head& h, const pref_value& pref) {
  xml_writer w;
  open_reply(w, h);
  w.open("pref").attr("label", pref.label).attr("seqid", pref.seqid);
  if (!pref.content.empty()) w.attr("content", pref.content);
  return w.finish();
}

std::string encode_getinv_reply(const reply_head& h, const std::vector<invitation>& invites) {
  xml_writer w;
  open_reply(w, h);
  for (auto& i : invites)
    w.leaf("inv", {{"inviteId", i.invite_id}, {"domain", i.domain}, {"chanUri", i.chan_uri},
                   {"name", i.room_name}, {"inviter", i.inviter}, {"ts", i.ts}});
  return w.finish();
}

std::string encode_grpchat(const chat_message& m, uint64_t envid) {
  xml_writer w;
  open_envelope(w, envid);
  write_chat_element(w, "grpchat", m);
  return w.finish();
}

std::string encode_join_notice(std::string_view room_uri, std::string_view user_uri, bool manager,
                               uint64_t envid) {
  std::string domain;
  std::string value;
  split_or_whole(room_uri, domain, value);
  xml_writer w;
  open_envelope(w, envid);
  w.open("ntc").attr("id", "ntc:join").attr("seqid", "1").open("data");
  w.open("uib").attr("uri", user_uri);
  w.leaf("aib", {{"key", manager ? kAibManager : kAibUser}, {"domain", domain}, {"value", value}});
  return w.finish();
}

std::string encode_part_notice(std::string_view room_uri, std::string_view user_uri,
                               uint64_t envid) {
  xml_writer w;
  open_envelope(w, envid);
  w.open("ntc").attr("id", "ntc:part").attr("seqid", "1").open("data");
  w.open("chanib").attr("uri", room_uri);
  w.leaf("uib", {{"uri", user_uri}});
  return w.finish();
}

}  // namespace pchat::xccos
