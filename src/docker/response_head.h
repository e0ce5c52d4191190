// The status line and headers of an HTTP/1.x response (the engine's answer to attach,
// after which the connection carries a raw stream), read with llhttp in response mode.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace wa::docker {

struct ResponseHead {
  enum class Parse { kIncomplete, kComplete, kInvalid };
  Parse parse = Parse::kIncomplete;
  int status = 0;
  size_t length = 0;  // bytes up to and including the blank line
  std::optional<size_t> content_length;
};

// Parses the head at the start of buffer (what has arrived so far); the bytes after it
// are not looked at. kIncomplete until the blank line has arrived, kInvalid as soon as
// what has arrived cannot begin a response.
ResponseHead parseResponseHead(std::string_view buffer);

}  // namespace wa::docker
