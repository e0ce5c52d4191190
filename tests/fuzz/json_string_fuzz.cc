// Fuzzes JsonWriter::EscapedString against RapidJSON's own Writer::String: for any bytes,
// split in two strings of an array, both writers must write the very same JSON.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/json_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : data[0] % (input.size() + 1);
  const std::string_view parts[] = {input.substr(0, cut), input.substr(cut)};

  rapidjson::StringBuffer expected_buffer;
  rapidjson::Writer<rapidjson::StringBuffer> expected(expected_buffer);
  rapidjson::StringBuffer actual_buffer;
  wa::api::JsonWriter actual(actual_buffer);
  expected.StartArray();
  actual.StartArray();
  for (std::string_view part : parts) {
    expected.String(part.data(), static_cast<rapidjson::SizeType>(part.size()));
    actual.EscapedString(part);
  }
  expected.EndArray();
  actual.EndArray();
  if (std::string_view(expected_buffer.GetString(), expected_buffer.GetSize()) !=
      std::string_view(actual_buffer.GetString(), actual_buffer.GetSize())) {
    std::abort();
  }
  return 0;
}
