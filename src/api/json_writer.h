#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

namespace wa::api {

// RapidJSON's writer with a faster way to write a string value: into room taken from the
// buffer at once, eight bytes at a time while none of them needs an escape, else one table
// look-up and one store per byte, where Writer::String pushes each byte on its own (a job
// record is some forty such strings, and its stdout and stderr). The bytes written are
// those of Writer::String: the same escapes, UTF-8 passed through.
class JsonWriter : public rapidjson::Writer<rapidjson::StringBuffer> {
 public:
  using rapidjson::Writer<rapidjson::StringBuffer>::Writer;

  // Bytes from 0x80 up are copied as they are, as Writer::String copies them: the caller
  // hands it UTF-8.
  bool EscapedString(std::string_view text);

  // A member name written in the source, checked when the program is compiled to need no
  // escape (a name that does fails to compile), so that it is written with one copy.
  class Name {
   public:
    // NOLINTNEXTLINE(google-explicit-constructor): a literal is a Name where one is asked for.
    consteval Name(const char* text) : text_(text) {
      for (const char ch : text_) {
        if (static_cast<unsigned char>(ch) < 0x20 || ch == '"' || ch == '\\') {
          throw "a member name that JSON would need escaped";
        }
      }
    }
    std::string_view text() const { return text_; }

   private:
    std::string_view text_;
  };
  bool MemberName(Name name);
};

}  // namespace wa::api
