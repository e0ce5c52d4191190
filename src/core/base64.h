// Base64 (RFC 4648 section 4: the standard alphabet, '=' padding) for bytes that have
// to travel inside JSON strings: job output, collected files, files a job brings.
#pragma once

#include <string>
#include <string_view>

namespace wa::core {

// The padded base64 text of bytes ("" for none).
std::string base64Encode(std::string_view bytes);

// Strict decoding: the length is a multiple of 4, only the standard alphabet appears,
// '=' only as one or two final padding characters, and the bits the padding leaves
// over are zero (so every byte string has exactly one accepted encoding). No
// whitespace or line breaks. Returns false on anything else; *out is then unspecified.
bool base64Decode(std::string_view text, std::string* out);

}  // namespace wa::core
