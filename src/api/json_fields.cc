#include "api/json_fields.h"

#include <cmath>

#include "core/text.h"

namespace wa::api::json {

void string(Writer& w, std::string_view text) {
  if (core::isValidUtf8(text)) {
    w.EscapedString(text);
  } else {
    w.EscapedString(core::toValidUtf8(text));
  }
}

void stringList(Writer& w, const std::vector<std::string>& list) {
  w.StartArray();
  for (const auto& s : list) string(w, s);
  w.EndArray();
}

void timestamp(Writer& w, const std::optional<int64_t>& unix_ms) {
  if (!unix_ms) {
    w.Null();
  } else if (const auto text = core::formatRfc3339MillisInPlace(*unix_ms)) {
    w.EscapedString(std::string_view(text->data(), text->size()));  // ASCII digits
  } else {
    string(w, core::formatRfc3339Millis(*unix_ms));
  }
}

void optionalDouble(Writer& w, const std::optional<double>& v, double scale) {
  if (v && std::isfinite(*v)) {
    w.Double(std::round(*v * scale) / scale);
  } else {
    w.Null();
  }
}

void field(Writer& w, Name name, std::string_view text) {
  key(w, name);
  string(w, text);
}
void field(Writer& w, Name name, bool value) {
  key(w, name);
  w.Bool(value);
}
void field(Writer& w, Name name, const std::vector<std::string>& list) {
  key(w, name);
  stringList(w, list);
}
void stringOrNull(Writer& w, Name name, std::string_view text) {
  key(w, name);
  if (text.empty()) {
    w.Null();
  } else {
    string(w, text);
  }
}
void limitOrNull(Writer& w, Name name, int64_t value) {
  key(w, name);
  if (value == 0) {
    w.Null();
  } else {
    w.Int64(value);
  }
}

http::HttpResponse respond(int status, const rapidjson::StringBuffer& buffer) {
  return http::HttpResponse::json(status, std::string(buffer.GetString(), buffer.GetSize()));
}

}  // namespace wa::api::json
