#include "api/json_writer.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <random>
#include <string>
#include <string_view>

namespace wa::api {
namespace {

// What RapidJSON's own Writer::String writes for text.
std::string rapidjsonString(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buffer.GetString(), buffer.GetSize()};
}

std::string escaped(std::string_view text) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  EXPECT_TRUE(w.EscapedString(text));
  return {buffer.GetString(), buffer.GetSize()};
}

TEST(JsonWriterTest, EveryByteIsWrittenAsRapidJsonWritesIt) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string text = "a" + std::string(1, static_cast<char>(byte)) + "z";
    EXPECT_EQ(escaped(text), rapidjsonString(text)) << "byte " << byte;
  }
}

// Strings are read eight bytes at a time while no byte needs an escape: each byte value
// in each place of a word, in the first, a middle and the last word, and in the tail.
TEST(JsonWriterTest, EveryByteInEveryPlaceOfAWordIsWrittenAsRapidJsonWritesIt) {
  for (int byte = 0; byte < 256; ++byte) {
    for (size_t place = 0; place < 27; ++place) {
      std::string text = "abcdefghijklmnopqrstuvwxyz0";  // three words and a tail of 3
      text[place] = static_cast<char>(byte);
      ASSERT_EQ(escaped(text), rapidjsonString(text)) << "byte " << byte << " at " << place;
    }
  }
}

TEST(JsonWriterTest, EscapesAsJsonRequires) {
  EXPECT_EQ(escaped(""), "\"\"");
  EXPECT_EQ(escaped("say \"hi\"\\\n"), R"("say \"hi\"\\\n")");
  EXPECT_EQ(escaped(std::string_view("\x00\x1f\t", 3)), R"("\u0000\u001F\t")");
  EXPECT_EQ(escaped("/ \xc3\xa9 \xf0\x9f\x98\x80"), "\"/ \xc3\xa9 \xf0\x9f\x98\x80\"");
}

TEST(JsonWriterTest, RandomTextIsWrittenAsRapidJsonWritesIt) {
  // Mostly the bytes that matter: escapes, control characters, UTF-8 sequences.
  const std::string_view pieces[] = {"a",
                                     "Z",
                                     " ",
                                     "\"",
                                     "\\",
                                     "\n",
                                     "\r",
                                     "\t",
                                     "plain text",
                                     std::string_view("\x00", 1),
                                     "\x01",
                                     "\x1f",
                                     "\x7f",
                                     "\xc3\xa9",
                                     "\xe2\x82\xac",
                                     "\xf0\x9f\x98\x80",
                                     "{\"job_id\": \"x\"}"};
  std::mt19937 random(7);
  for (int round = 0; round < 500; ++round) {
    std::string text;
    const int length = static_cast<int>(random() % 200);
    for (int k = 0; k < length; ++k) text += pieces[random() % std::size(pieces)];
    ASSERT_EQ(escaped(text), rapidjsonString(text)) << "round " << round;
  }
}

TEST(JsonWriterTest, LongTextGrowsTheBuffer) {
  std::string text(300000, 'x');
  for (size_t k = 0; k < text.size(); k += 97) text[k] = '"';
  EXPECT_EQ(escaped(text), rapidjsonString(text));
}

TEST(JsonWriterTest, MemberNamesAreWrittenAsRapidJsonWritesKeys) {
  rapidjson::StringBuffer ours;
  JsonWriter w(ours);
  rapidjson::StringBuffer theirs;
  rapidjson::Writer<rapidjson::StringBuffer> r(theirs);
  w.StartObject();
  r.StartObject();
  // Names are checked when compiled: each call takes its literal.
  EXPECT_TRUE(w.MemberName("job_id"));
  EXPECT_TRUE(w.Int(1));
  EXPECT_TRUE(w.MemberName(""));
  EXPECT_TRUE(w.StartArray());
  EXPECT_TRUE(w.EndArray());
  EXPECT_TRUE(w.MemberName("caf\xc3\xa9"));
  EXPECT_TRUE(w.EscapedString("x"));
  r.Key("job_id");
  r.Int(1);
  r.Key("");
  r.StartArray();
  r.EndArray();
  r.Key("caf\xc3\xa9");
  r.String("x");
  w.EndObject();
  r.EndObject();
  EXPECT_TRUE(w.IsComplete());
  EXPECT_EQ(std::string_view(ours.GetString(), ours.GetSize()),
            std::string_view(theirs.GetString(), theirs.GetSize()));
}

TEST(JsonWriterTest, TakesItsPlaceAmongOtherValues) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("a");
  w.EscapedString("x\"");
  w.Key("b");
  w.StartArray();
  w.EscapedString("y");
  w.Int(1);
  w.EscapedString("");
  w.EndArray();
  w.EndObject();
  EXPECT_TRUE(w.IsComplete());
  EXPECT_EQ(std::string_view(buffer.GetString(), buffer.GetSize()),
            R"({"a":"x\"","b":["y",1,""]})");
}

}  // namespace
}  // namespace wa::api
