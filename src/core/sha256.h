// sha256Hex: the SHA-256 digest of bytes as 64 lower-case hex digits (OpenSSL's libcrypto,
// which libcurl already brings). Used where a name must stand for content, such as the
// tag of an image built from a job's inputs.
#pragma once

#include <string>
#include <string_view>

namespace wa::core {

std::string sha256Hex(std::string_view data);

}  // namespace wa::core
