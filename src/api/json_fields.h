// The api layer's JSON vocabulary: one "name": value member per call, in the shapes the
// protocol uses (strings repaired to UTF-8, RFC 3339 timestamps, null for what is not
// known), written with JsonWriter. Every view of the api renders through these.
#pragma once

#include <rapidjson/stringbuffer.h>

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "api/json_writer.h"
#include "http/http_request.h"

namespace wa::api::json {

using Writer = JsonWriter;
using Name = JsonWriter::Name;

inline void key(Writer& w, Name name) { w.MemberName(name); }
// Writes text as a JSON string; bytes that are not UTF-8 become U+FFFD.
void string(Writer& w, std::string_view text);
void stringList(Writer& w, const std::vector<std::string>& list);
// An RFC 3339 timestamp with milliseconds, or null.
void timestamp(Writer& w, const std::optional<int64_t>& unix_ms);

template <typename T>
void optionalInt(Writer& w, const std::optional<T>& v) {
  if (v) {
    w.Int64(static_cast<int64_t>(*v));
  } else {
    w.Null();
  }
}

// A number rounded to 1/scale, or null when absent or not finite.
void optionalDouble(Writer& w, const std::optional<double>& v, double scale = 100.0);

// One "name": value member. The overloads keep each member of a JSON object on one line.
void field(Writer& w, Name name, std::string_view text);
// A string literal would otherwise pick the bool overload (a standard conversion beats
// the conversion to string_view): make such a call fail to compile instead.
void field(Writer& w, Name name, const char* text) = delete;
void field(Writer& w, Name name, bool value);
template <std::integral T>
void field(Writer& w, Name name, T value) {
  key(w, name);
  if constexpr (std::is_signed_v<T>) {
    w.Int64(static_cast<int64_t>(value));
  } else {
    w.Uint64(static_cast<uint64_t>(value));
  }
}
template <std::integral T>
void field(Writer& w, Name name, const std::optional<T>& value) {
  key(w, name);
  optionalInt(w, value);
}
void field(Writer& w, Name name, const std::vector<std::string>& list);
// A string, or null when it is empty (not known, or none).
void stringOrNull(Writer& w, Name name, std::string_view text);
// An integer, or null when it is 0 (no limit).
void limitOrNull(Writer& w, Name name, int64_t value);

// The buffer as a JSON response body.
http::HttpResponse respond(int status, const rapidjson::StringBuffer& buffer);

}  // namespace wa::api::json
