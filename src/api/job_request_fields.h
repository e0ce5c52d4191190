// The JSON readers JobRequestParser builds the job from (internal to the api layer):
// typed access to RapidJSON values that refuses what the protocol does not allow
// (duplicate member names, fractional numbers where integers go, control characters),
// and the two list fields, runtime.files (and the build context) and runtime.outputs.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/job.h"

namespace wa::api::request {

using rapidjson::Value;

// A rejection found by a reader: the code and the message naming the field.
struct Problem {
  std::string code;
  std::string message;
};

bool hasControlOrNul(std::string_view s);
bool hasNul(std::string_view s);
std::string_view view(const Value& v);
// The member called name, or null; sets *duplicate when the object has it twice.
const Value* member(const Value& object, const char* name, bool* duplicate);
// A JSON number that is a whole number (1 and 1.0 alike), else nullopt.
std::optional<int64_t> wholeNumber(const Value& v);
// A string, number or boolean as the text an environment variable gets.
std::string scalarToString(const Value& v);
// A number as people write it ("0.5", "2").
std::string numberText(double d);
std::string quoted(std::string_view s);

// How one list of files is checked: where it is, and what its decoded bytes may add to.
struct FileListRules {
  std::string field;       // "runtime.files" or "runtime.build.context"
  int64_t bytes_before;    // bytes already counted against the limit (the Dockerfile)
  int64_t max_bytes;       // the limit on bytes_before plus the files' decoded content
  std::string limit_key;   // the config key of that limit, for the message
  std::string limit_code;  // the code when the limit is passed
  std::string total_name;  // what the limit counts, for the message
};

// Reads a JSON array of files into *out. Every problem with the list's shape or a file's
// fields is INVALID_FILES; only passing the byte limit takes rules.limit_code.
std::optional<Problem> parseFiles(const Value& list, const FileListRules& rules, bool* duplicate,
                                  std::vector<jobs::JobFile>* out);
// Reads runtime.outputs: normalized workspace paths, none twice, none inside another.
std::optional<Problem> parseOutputs(const Value& list, std::vector<std::string>* out);

}  // namespace wa::api::request
