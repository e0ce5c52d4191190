// Fuzzes the Docker stream demultiplexer: fed in fuzzer-chosen pieces, it must deliver
// exactly the payload bytes of well-formed frames and never read past its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "docker/stream_demux.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t delivered = 0;
  wa::docker::StreamDemux demux(
      [&](wa::docker::StreamKind, std::string_view chunk) { delivered += chunk.size(); });
  bool ok = true;
  for (size_t i = 0; i < input.size() && ok; i += step) ok = demux.feed(input.substr(i, step));
  // Payload can never exceed the input minus one 8-byte header.
  if (delivered > input.size()) std::abort();
  return 0;
}
