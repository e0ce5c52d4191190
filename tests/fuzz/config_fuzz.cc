// Fuzzes the YAML config loader: any text must load or give a positioned error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto result = wa::config::ConfigLoader::loadString(text, "fuzz.yaml", {}, "fuzzhost");
  if (!result.config && result.error.message.empty()) std::abort();
  return 0;
}
