#include "protocol/sip/sip_digest.h"

#include "protocol/sip/sip_text.h"

#include <sofia-sip/su_md5.h>

#include <cctype>

namespace pchat::sip {
namespace {

// Constant-time comparison of two hex digests (case-insensitive).
bool digest_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned>(std::tolower(static_cast<unsigned char>(a[i])) ^
                                  std::tolower(static_cast<unsigned char>(b[i])));
  return diff == 0;
}

}  // namespace

std::string md5_hex(std::string_view data) {
  su_md5_t ctx;
  su_md5_init(&ctx);
  su_md5_update(&ctx, data.data(), data.size());
  char hex[2 * SU_MD5_DIGEST_SIZE + 1];
  su_md5_hexdigest(&ctx, hex);
  su_md5_deinit(&ctx);
  return std::string(hex, 2 * SU_MD5_DIGEST_SIZE);
}

std::string digest_ha1(std::string_view username, std::string_view realm, std::string_view password) {
  std::string a1;
  a1.append(username).append(":").append(realm).append(":").append(password);
  return md5_hex(a1);
}

digest_ha1_forms digest_ha1_both(std::string_view address, std::string_view realm, std::string_view password) {
  return {digest_ha1(address, realm, password), digest_ha1(address.substr(0, address.find('@')), realm, password)};
}

bool parse_digest_credentials(std::string_view v, digest_credentials* out) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.size() < 6 || !ascii_iequal(v.substr(0, 6), "digest")) return false;
  v.remove_prefix(6);
  *out = {};
  while (!v.empty()) {
    while (!v.empty() && (v.front() == ' ' || v.front() == ',' || v.front() == '\t')) v.remove_prefix(1);
    size_t eq = v.find('=');
    if (eq == std::string_view::npos) break;
    std::string name(v.substr(0, eq));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    v.remove_prefix(eq + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    std::string value;
    if (!v.empty() && v.front() == '"') {
      size_t end = v.find('"', 1);
      if (end == std::string_view::npos) return false;
      value = std::string(v.substr(1, end - 1));
      v.remove_prefix(end + 1);
    } else {
      size_t end = v.find(',');
      value = std::string(v.substr(0, end));
      while (!value.empty() && value.back() == ' ') value.pop_back();
      v.remove_prefix(end == std::string_view::npos ? v.size() : end);
    }
    if (name == "username") out->username = value;
    else if (name == "realm") out->realm = value;
    else if (name == "nonce") out->nonce = value;
    else if (name == "uri") out->uri = value;
    else if (name == "response") out->response = value;
    else if (name == "qop") out->qop = value;
    else if (name == "nc") out->nc = value;
    else if (name == "cnonce") out->cnonce = value;
    else if (name == "opaque") out->opaque = value;
    else if (name == "algorithm") out->algorithm = value;
  }
  return !out->username.empty() && !out->realm.empty() && !out->nonce.empty() &&
         !out->response.empty();
}

bool verify_digest(const digest_credentials& c, std::string_view ha1, std::string_view method) {
  if (!c.algorithm.empty() && !ascii_iequal(c.algorithm, "MD5")) return false;
  auto expected_for = [&](std::string_view m) {
    std::string a2;
    a2.append(m).append(":").append(c.uri);
    std::string ha2 = md5_hex(a2);
    std::string kd;
    if (c.qop.empty()) {  // RFC 2069
      kd.append(ha1).append(":").append(c.nonce).append(":").append(ha2);
    } else if (ascii_iequal(c.qop, "auth")) {
      kd.append(ha1).append(":").append(c.nonce).append(":").append(c.nc).append(":");
      kd.append(c.cnonce).append(":").append(c.qop).append(":").append(ha2);
    } else {
      return std::string();  // auth-int is not offered
    }
    return md5_hex(kd);
  };
  std::string e1 = expected_for(method);
  if (!e1.empty() && digest_equal(e1, c.response)) return true;
  std::string e2 = expected_for("(null)");  // SIPE: method of its response object
  return !e2.empty() && digest_equal(e2, c.response);
}

std::string digest_challenge(std::string_view realm, std::string_view nonce, bool stale) {
  std::string v = "Digest realm=\"";
  v.append(realm).append("\", nonce=\"").append(nonce).append("\", opaque=\"pchat\", qop=\"auth\", algorithm=MD5");
  if (stale) v.append(", stale=true");
  return v;
}

}  // namespace pchat::sip
