#include "api/job_request_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>

#include "api/job_request_parser.h"
#include "core/text.h"

namespace wa::api::request {
namespace {

// Why path is not a normalized path inside the workspace ("a/b.txt"), as the end of a
// sentence that starts with the field; "" when it is one.
std::string pathProblem(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (hasControlOrNul(path)) return "must not contain control characters";
  if (path.size() > JobRequestParser::kMaxPathBytes) {
    return "is longer than " + std::to_string(JobRequestParser::kMaxPathBytes) + " bytes";
  }
  if (path.front() == '/') return quoted(path) + " must be relative to the workspace";
  for (size_t start = 0;;) {
    const size_t slash = path.find('/', start);
    const std::string_view component = path.substr(start, slash - start);
    if (component == "..") return quoted(path) + " escapes the workspace";
    if (component.empty()) return quoted(path) + " has an empty component";
    if (component == ".") return quoted(path) + " has a \".\" component";
    if (component.size() > JobRequestParser::kMaxPathComponentBytes) {
      return quoted(path) + " has a component longer than " +
             std::to_string(JobRequestParser::kMaxPathComponentBytes) + " bytes";
    }
    if (slash == std::string_view::npos) return "";
    start = slash + 1;
  }
}

// The paths of one list (files or outputs) seen so far, to refuse one path twice or a
// path inside another: "a" and "a/b" cannot both be files.
class PathSet {
 public:
  // label(i) names item i's path in messages ("runtime.files[2].path").
  explicit PathSet(std::function<std::string(size_t)> label) : label_(std::move(label)) {}

  // Adds item index's path, valid by pathProblem; "" or why it clashes with an earlier one.
  std::string add(const std::string& path, size_t index) {
    const std::string self = label_(index) + " " + quoted(path);
    if (auto it = paths_.find(path); it != paths_.end()) {
      return self + " is also " + label_(it->second);
    }
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      if (auto it = paths_.find(path.substr(0, slash)); it != paths_.end()) {
        return self + " is inside " + label_(it->second) + " " + quoted(it->first) +
               ", which is a file";
      }
    }
    // Paths under this one sort right after path + "/".
    if (auto it = paths_.lower_bound(path + "/");
        it != paths_.end() && it->first.starts_with(path + "/")) {
      return self + " is a directory of " + label_(it->second) + " " + quoted(it->first);
    }
    paths_.emplace(path, index);
    return "";
  }

 private:
  std::function<std::string(size_t)> label_;
  std::map<std::string, size_t> paths_;
};

// Reads a file's mode: an integer 0..07777, or a string of 1 to 5 octal digits ("0755").
std::optional<uint32_t> fileMode(const Value& v) {
  if (v.IsNumber()) {
    const std::optional<int64_t> n = wholeNumber(v);
    if (!n || *n < 0 || *n > JobRequestParser::kMaxFileMode) return std::nullopt;
    return static_cast<uint32_t>(*n);
  }
  if (!v.IsString()) return std::nullopt;
  const std::string_view text = view(v);
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > JobRequestParser::kMaxFileMode) return std::nullopt;
  return mode;
}

}  // namespace

bool hasControlOrNul(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

bool hasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

// Finds a member, refusing an object that names it twice: which copy wins differs
// between JSON parsers, so a master and this worker could read different jobs.
const Value* member(const Value& object, const char* name, bool* duplicate) {
  const Value* found = nullptr;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (view(it->name) == name) {
      if (found != nullptr) *duplicate = true;
      found = &it->value;
    }
  }
  return found;
}

// A JSON number that is a whole number in int64 range (1 and 1.0 both count).
std::optional<int64_t> wholeNumber(const Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

std::string scalarToString(const Value& v) {
  if (v.IsString()) return std::string(view(v));
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  // The shortest text that reads back as the same double, as JavaScript prints numbers
  // (0.1 -> "0.1", 2.0 -> "2"), so env values match what the original worker passes.
  const double d = v.GetDouble();
  if (std::floor(d) == d && std::fabs(d) < 9.0e15) return std::to_string(static_cast<int64_t>(d));
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(d);
}

// The shortest text that reads back as d ("0.5", "2").
std::string numberText(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(d);
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::optional<Problem> parseFiles(const Value& list, const FileListRules& rules, bool* duplicate,
                                  std::vector<jobs::JobFile>* out) {
  const auto invalid = [](std::string message) {
    return Problem{"INVALID_FILES", std::move(message)};
  };
  if (!list.IsArray()) return invalid(rules.field + " must be an array of files");
  if (list.Size() > JobRequestParser::kMaxFiles) {
    return invalid(rules.field + " has " + std::to_string(list.Size()) + " files; at most " +
                   std::to_string(JobRequestParser::kMaxFiles) + " are accepted");
  }
  PathSet paths([&](size_t i) { return rules.field + "[" + std::to_string(i) + "].path"; });
  int64_t total = rules.bytes_before;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const Value& item = list[i];
    const std::string at = rules.field + "[" + std::to_string(i) + "]";
    if (!item.IsObject()) return invalid(at + " must be an object with a path and a content");
    jobs::JobFile file;
    const Value* path = member(item, "path", duplicate);
    if (path == nullptr || !path->IsString()) return invalid(at + ".path must be a string");
    file.path = std::string(view(*path));
    if (std::string why = pathProblem(file.path); !why.empty()) {
      return invalid(std::string(at).append(".path ").append(why));
    }
    if (std::string clash = paths.add(file.path, i); !clash.empty()) return invalid(clash);

    const Value* content = member(item, "content", duplicate);
    if (content == nullptr || !content->IsString()) {
      return invalid(at + ".content must be a string");
    }
    const Value* encoding = member(item, "encoding", duplicate);
    const std::string_view encoding_name = encoding == nullptr || encoding->IsNull() ? "utf8"
                                           : encoding->IsString() ? view(*encoding)
                                                                  : "";
    if (encoding_name == "utf8") {
      file.content = std::string(view(*content));
    } else if (encoding_name == "base64") {
      std::optional<std::string> bytes = core::base64Decode(view(*content));
      if (!bytes) {
        return invalid(at +
                       ".content is not valid base64 (RFC 4648: the standard alphabet, "
                       "padded with \"=\", no line breaks or spaces)");
      }
      file.content = std::move(*bytes);
    } else {
      return invalid(at + ".encoding must be \"utf8\" or \"base64\"");
    }

    if (const Value* mode = member(item, "mode", duplicate); mode != nullptr && !mode->IsNull()) {
      const std::optional<uint32_t> bits = fileMode(*mode);
      if (!bits) {
        return invalid(at +
                       ".mode must be an integer from 0 to 4095 (07777) or a string of octal "
                       "digits such as \"0755\"");
      }
      file.mode = *bits;
    }

    total += static_cast<int64_t>(file.content.size());
    if (total > rules.max_bytes) {
      return Problem{rules.limit_code, at + " brings " + rules.total_name + " to " +
                                           std::to_string(total) + " bytes, over this worker's " +
                                           rules.limit_key + " of " +
                                           std::to_string(rules.max_bytes)};
    }
    out->push_back(std::move(file));
  }
  return std::nullopt;
}

std::optional<Problem> parseOutputs(const Value& list, std::vector<std::string>* out) {
  const auto invalid = [](std::string message) {
    return Problem{"INVALID_OUTPUTS", std::move(message)};
  };
  if (!list.IsArray()) return invalid("runtime.outputs must be an array of paths");
  if (list.Size() > JobRequestParser::kMaxOutputs) {
    return invalid("runtime.outputs has " + std::to_string(list.Size()) + " paths; at most " +
                   std::to_string(JobRequestParser::kMaxOutputs) + " are accepted");
  }
  PathSet paths([](size_t i) { return "runtime.outputs[" + std::to_string(i) + "]"; });
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const std::string at = "runtime.outputs[" + std::to_string(i) + "]";
    if (!list[i].IsString()) return invalid(at + " must be a string");
    std::string path(view(list[i]));
    if (std::string why = pathProblem(path); !why.empty()) {
      return invalid(std::string(at).append(" ").append(why));
    }
    if (std::string clash = paths.add(path, i); !clash.empty()) return invalid(clash);
    out->push_back(std::move(path));
  }
  return std::nullopt;
}

}  // namespace wa::api::request
