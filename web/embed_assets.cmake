# Writes OUTPUT, a C++ file that holds every file named in ASSETS (a ;-list of paths) as a
# byte array, and pchat::web::asset(name) to find one by its file name (web/assets.h).
# Run at build time: cmake -DOUTPUT=... -DASSETS=... -P embed_assets.cmake
set(body "")
set(lookup "")
set(i 0)
foreach(path IN LISTS ASSETS)
  get_filename_component(name "${path}" NAME)
  file(READ "${path}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "constexpr unsigned char k${i}[] = {${bytes}0};\n")
  string(APPEND lookup "  if (name == \"${name}\") return {reinterpret_cast<const char*>(k${i}), sizeof k${i} - 1};\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUTPUT}.new" "// Generated from web/assets/ by web/embed_assets.cmake: do not edit.\n"
  "#include \"web/assets.h\"\n\nnamespace pchat::web {\nnamespace {\n${body}}  // namespace\n\n"
  "std::string_view asset(std::string_view name) {\n${lookup}  return {};\n}\n\n}  // namespace pchat::web\n")
# Only a changed file is replaced, so an unchanged asset set does not recompile.
file(COPY_FILE "${OUTPUT}.new" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.new")
