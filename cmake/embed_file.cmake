# cmake -DINPUT=<file> -DOUTPUT=<file.cc> -DNAME=<symbol> -DNAMESPACE=<ns> -P embed_file.cmake
# writes a C++ source defining `const unsigned char NAME[]` and `const size_t NAME_size`
# (in namespace NAMESPACE) with the bytes of INPUT.
file(READ "${INPUT}" bytes HEX)
string(LENGTH "${bytes}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," array "${bytes}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_file.cmake.\n"
  "#include <cstddef>\n\n"
  "namespace ${NAMESPACE} {\n"
  "extern const unsigned char ${NAME}[] = {\n  ${array}\n};\n"
  "extern const std::size_t ${NAME}_size = ${size};\n"
  "}  // namespace ${NAMESPACE}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
