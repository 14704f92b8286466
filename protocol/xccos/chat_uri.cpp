#include "protocol/xccos/chat_uri.h"

#include "text/ascii.h"

namespace pchat::xccos {
namespace {

constexpr std::string_view kRoomScheme = "ma-chan://";
constexpr std::string_view kCategoryScheme = "ma-cat://";

std::string build(std::string_view scheme, std::string_view domain, std::string_view id) {
  std::string out;
  out.reserve(scheme.size() + domain.size() + 1 + id.size());
  out.append(scheme).append(domain).append("/").append(id);
  return out;
}

std::optional<uri_parts> parse(std::string_view scheme, std::string_view uri) {
  if (!uri.starts_with(scheme)) return std::nullopt;
  const std::string_view rest = uri.substr(scheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) {
    return std::nullopt;
  }
  return uri_parts{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
}

}  // namespace

std::string room_uri(std::string_view domain, std::string_view room_id) {
  return build(kRoomScheme, domain, room_id);
}

std::string category_uri(std::string_view domain, std::string_view category_id) {
  return build(kCategoryScheme, domain, category_id);
}

std::optional<uri_parts> parse_room_uri(std::string_view uri) {
  return parse(kRoomScheme, uri);
}

std::optional<uri_parts> parse_category_uri(std::string_view uri) {
  return parse(kCategoryScheme, uri);
}

std::optional<std::string> room_id_in_domain(std::string_view uri, std::string_view domain) {
  std::optional<uri_parts> p = parse_room_uri(uri);
  if (!p || !text::ascii_iequal(p->domain, domain)) return std::nullopt;
  return std::move(p->id);
}

}  // namespace pchat::xccos
