// The web page's files (web/assets/), embedded into the binary at build time by
// web/embed_assets.cmake, so pchatd serves them with no folder to install or find.
#pragma once

#include <string_view>

namespace pchat::web {

// The bytes of web/assets/<name> ("manage.html"), or empty when there is no such file.
std::string_view asset(std::string_view name);

}  // namespace pchat::web
