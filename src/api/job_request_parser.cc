#include "api/job_request_parser.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "core/image_reference.h"
#include "core/text.h"

namespace wa::api {
namespace {

using rapidjson::Value;

Rejection reject(std::string code, std::string message, int status = 400) {
  return Rejection{status, std::move(code), std::move(message), std::nullopt};
}

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

// A rejection found by a helper: the code and the message naming the field.
struct Problem {
  std::string code;
  std::string message;
};

// Members of runtime that would set how the container is confined. The worker sets all
// of that itself; a job that tries is refused rather than half-obeyed.
constexpr const char* kForbiddenRuntimeFields[] = {
    "privileged",  "cap_add",      "devices", "volumes",      "binds", "mounts",
    "host_config", "security_opt", "user",    "network_mode", "ipc",   "pid",
};

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

}  // namespace

ParsedJob JobRequestParser::parse(std::string_view body) const {
  ParsedJob result;
  // JSON exchanged between systems carries no byte order mark (RFC 8259); some parsers
  // skip one and some refuse it, so a master and this worker could disagree.
  if (body.starts_with("\xEF\xBB\xBF")) {
    result.rejection = reject("INVALID_BODY", "body must not start with a byte order mark");
    return result;
  }
  rapidjson::Document doc;
  // Iterative parsing: deeply nested input cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                    body.size());
  if (doc.HasParseError()) {
    result.rejection =
        reject("INVALID_BODY", std::string("body is not valid JSON: ") +
                                   rapidjson::GetParseError_En(doc.GetParseError()) +
                                   " at offset " + std::to_string(doc.GetErrorOffset()));
    return result;
  }
  if (!doc.IsObject()) {
    result.rejection = reject("INVALID_BODY", "body must be a JSON object (the job)");
    return result;
  }
  bool duplicate = false;
  auto field = [&](const Value& object, const char* name) {
    return member(object, name, &duplicate);
  };

  // job_id first, so that later rejections can echo it back.
  const Value* job_id = field(doc, "job_id");
  std::optional<std::string> echo_id;
  if (job_id && job_id->IsString() && job_id->GetStringLength() > 0 &&
      job_id->GetStringLength() <= kMaxJobIdBytes && !hasControlOrNul(view(*job_id))) {
    echo_id = std::string(view(*job_id));
  }
  auto fail = [&](std::string code, std::string message, int status = 400) {
    result.rejection = reject(std::move(code), std::move(message), status);
    result.rejection.job_id = echo_id;
    return result;
  };

  const Value* version = field(doc, "protocol_version");
  if (version == nullptr) {
    return fail("UNSUPPORTED_PROTOCOL_VERSION", "protocol_version is required and must be 1");
  }
  if (!version->IsNumber() || wholeNumber(*version) != 1) {
    return fail("UNSUPPORTED_PROTOCOL_VERSION", "protocol_version must be the integer 1");
  }

  if (job_id == nullptr || job_id->IsNull()) return fail("MISSING_JOB_ID", "job_id is required");
  if (!job_id->IsString()) return fail("MISSING_JOB_ID", "job_id must be a string");
  if (job_id->GetStringLength() == 0) return fail("MISSING_JOB_ID", "job_id must not be empty");
  if (job_id->GetStringLength() > kMaxJobIdBytes) {
    return fail("INVALID_JOB_ID", "job_id is longer than 256 bytes");
  }
  if (hasControlOrNul(view(*job_id))) {
    return fail("INVALID_JOB_ID", "job_id must not contain control characters");
  }

  jobs::JobSpec spec;
  spec.job_id = std::string(view(*job_id));

  const Value* task = field(doc, "task");
  if (task == nullptr || task->IsNull()) return fail("MISSING_TASK", "task is required");
  if (!task->IsObject()) return fail("INVALID_TASK", "task must be an object");
  const Value* task_type = field(*task, "type");
  if (task_type == nullptr || !task_type->IsString() || task_type->GetStringLength() == 0) {
    return fail("INVALID_TASK", "task.type must be a non-empty string");
  }
  spec.task_type = std::string(view(*task_type));

  const Value* runtime = field(doc, "runtime");
  if (runtime == nullptr || runtime->IsNull())
    return fail("MISSING_RUNTIME", "runtime is required");
  if (!runtime->IsObject()) return fail("MISSING_RUNTIME", "runtime must be an object");
  for (const char* name : kForbiddenRuntimeFields) {
    if (runtime->HasMember(name)) {
      return fail("FORBIDDEN_FIELD", std::string("runtime.") + name +
                                         " is not accepted: the worker alone sets how a job's "
                                         "container is isolated");
    }
  }

  const Value* mode = field(*runtime, "mode");
  if (mode == nullptr || !mode->IsString()) {
    return fail("BAD_RUNTIME_MODE", "runtime.mode must be \"image\" or \"build\"");
  }
  const std::string mode_name(view(*mode));
  if (mode_name != "image" && mode_name != "build") {
    return fail("BAD_RUNTIME_MODE", "runtime.mode \"" + core::toValidUtf8(mode_name) +
                                        "\" is not \"image\" or \"build\"");
  }
  const auto listed = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), mode_name) != list.end();
  };
  if (!listed(policy_.allowed_runtime_modes) || !listed(policy_.implemented_runtime_modes)) {
    return fail("RUNTIME_NOT_SUPPORTED",
                "runtime.mode \"" + mode_name + "\" is not supported by this worker");
  }

  spec.runtime_mode = mode_name;

  const Value* image = field(*runtime, "image");
  const Value* build = field(*runtime, "build");
  const bool has_image = image != nullptr && !image->IsNull();
  const bool has_build = build != nullptr && !build->IsNull();
  if (mode_name == "image") {
    if (!has_image || !image->IsString() || image->GetStringLength() == 0) {
      return fail("MISSING_IMAGE", "runtime.image must be a non-empty string");
    }
    spec.image = std::string(view(*image));
    if (hasControlOrNul(spec.image)) {
      return fail("MISSING_IMAGE", "runtime.image is not a valid image reference");
    }
    core::ImageReference reference;
    std::string why;
    if (!core::parseImageReference(spec.image, &reference, &why)) {
      return fail("MISSING_IMAGE", "runtime.image is not a valid image reference: " + why);
    }
    if (!images_.allows(reference)) {
      return fail("IMAGE_NOT_ALLOWED",
                  "runtime.image \"" + spec.image + "\" is not in this worker's allowed_images");
    }
    if (has_build) {
      return fail("INVALID_BUILD", "runtime.build is only for runtime.mode \"build\"");
    }
  } else {
    // allowed_images does not apply: the Dockerfile's FROM is the engine's business, and
    // allowing build mode is the operator's decision to let jobs choose their base.
    if (has_image) {
      return fail("INVALID_BUILD",
                  "runtime.image must not be given with runtime.mode \"build\"; the Dockerfile "
                  "in runtime.build names the base image");
    }
    if (!has_build) {
      return fail("INVALID_BUILD", "runtime.build is required with runtime.mode \"build\"");
    }
    if (!build->IsObject()) return fail("INVALID_BUILD", "runtime.build must be an object");
    const Value* dockerfile = field(*build, "dockerfile");
    if (dockerfile == nullptr || !dockerfile->IsString() || dockerfile->GetStringLength() == 0) {
      return fail("INVALID_BUILD", "runtime.build.dockerfile must be a non-empty string");
    }
    jobs::BuildSpec build_spec;
    build_spec.dockerfile = std::string(view(*dockerfile));
    const auto dockerfile_bytes = static_cast<int64_t>(build_spec.dockerfile.size());
    if (dockerfile_bytes > policy_.max_build_context_bytes) {
      return fail("INVALID_BUILD", "runtime.build.dockerfile is " +
                                       std::to_string(dockerfile_bytes) +
                                       " bytes, over this worker's max_build_context_bytes of " +
                                       std::to_string(policy_.max_build_context_bytes));
    }
    if (const Value* context = field(*build, "context"); context != nullptr && !context->IsNull()) {
      const FileListRules rules{
          "runtime.build.context",   dockerfile_bytes, policy_.max_build_context_bytes,
          "max_build_context_bytes", "INVALID_BUILD",  "the Dockerfile and context"};
      if (std::optional<Problem> problem =
              parseFiles(*context, rules, &duplicate, &build_spec.context)) {
        return fail(std::move(problem->code), std::move(problem->message));
      }
      // The worker writes runtime.build.dockerfile as "Dockerfile" at the context's root.
      for (size_t i = 0; i < build_spec.context.size(); ++i) {
        const std::string& path = build_spec.context[i].path;
        if (path == "Dockerfile" || path.starts_with("Dockerfile/")) {
          return fail("INVALID_BUILD", "runtime.build.context[" + std::to_string(i) + "].path " +
                                           quoted(path) +
                                           " is taken: the Dockerfile is runtime.build.dockerfile");
        }
      }
    }
    spec.build = std::move(build_spec);
  }

  if (const Value* cmd = field(*runtime, "cmd"); cmd != nullptr && !cmd->IsNull()) {
    if (!cmd->IsArray()) return fail("INVALID_CMD", "runtime.cmd must be an array of strings");
    for (const Value& arg : cmd->GetArray()) {
      if (!arg.IsString()) return fail("INVALID_CMD", "runtime.cmd must contain only strings");
      if (hasNul(view(arg))) return fail("INVALID_CMD", "runtime.cmd must not contain NUL bytes");
      spec.cmd.emplace_back(view(arg));
    }
  }

  if (const Value* env = field(*runtime, "env"); env != nullptr && !env->IsNull()) {
    if (!env->IsObject()) return fail("INVALID_ENV", "runtime.env must be an object");
    std::set<std::string_view> seen;
    for (auto it = env->MemberBegin(); it != env->MemberEnd(); ++it) {
      const std::string_view key = view(it->name);
      if (key.empty() || key.find('=') != std::string_view::npos || hasNul(key)) {
        return fail("INVALID_ENV", "runtime.env keys must be non-empty and contain no '=' or NUL");
      }
      if (!seen.insert(key).second) {
        return fail("INVALID_ENV", "runtime.env names \"" + std::string(key) + "\" twice");
      }
      const Value& value = it->value;
      if (!(value.IsString() || value.IsNumber() || value.IsBool())) {
        return fail("INVALID_ENV",
                    "runtime.env." + std::string(key) + " must be a string, number or boolean");
      }
      std::string text = scalarToString(value);
      if (hasNul(text))
        return fail("INVALID_ENV", "runtime.env." + std::string(key) + " contains NUL");
      spec.env.emplace_back(std::string(key), std::move(text));
    }
  }

  spec.limits.memory_mb = policy_.default_memory_mb;
  spec.limits.max_runtime_seconds = policy_.default_max_runtime_seconds;
  if (policy_.default_cpus > 0) {
    spec.limits.nano_cpus =
        std::llround((policy_.max_cpus > 0 ? std::min(policy_.default_cpus, policy_.max_cpus)
                                           : policy_.default_cpus) *
                     1e9);
  }
  if (const Value* limits = field(*runtime, "limits"); limits != nullptr && !limits->IsNull()) {
    if (!limits->IsObject()) return fail("INVALID_LIMITS", "runtime.limits must be an object");
    struct Limit {
      const char* name;
      int64_t* target;
      int64_t minimum;
      int64_t ceiling;
      const char* ceiling_key;
    };
    const Limit known[] = {
        {"memory_mb", &spec.limits.memory_mb, kMinMemoryMb, policy_.max_memory_mb, "max_memory_mb"},
        {"max_runtime_seconds", &spec.limits.max_runtime_seconds, 1, policy_.max_runtime_seconds,
         "max_runtime_seconds"},
    };
    for (const Limit& limit : known) {
      const Value* v = field(*limits, limit.name);
      if (v == nullptr || v->IsNull()) continue;
      const std::string name = std::string("runtime.limits.") + limit.name;
      const std::optional<int64_t> n = v->IsNumber() ? wholeNumber(*v) : std::optional<int64_t>();
      if (!n.has_value()) return fail("INVALID_LIMITS", name + " must be a whole number");
      if (*n < limit.minimum) {
        return fail("INVALID_LIMITS", name + " must be at least " + std::to_string(limit.minimum));
      }
      if (*n > limit.ceiling) {
        return fail("LIMIT_EXCEEDED", name + " " + std::to_string(*n) + " exceeds this worker's " +
                                          limit.ceiling_key + " of " +
                                          std::to_string(limit.ceiling));
      }
      *limit.target = *n;
    }
    if (const Value* cpus = field(*limits, "cpus"); cpus != nullptr && !cpus->IsNull()) {
      if (!cpus->IsNumber()) return fail("INVALID_LIMITS", "runtime.limits.cpus must be a number");
      const double requested = cpus->GetDouble();
      const auto exceeded = [&] {
        return fail("LIMIT_EXCEEDED", "runtime.limits.cpus " + scalarToString(*cpus) +
                                          " exceeds this worker's max_cpus of " +
                                          numberText(policy_.max_cpus));
      };
      // Far above any ceiling, and where billionths would overflow.
      if (requested > 1e6) return exceeded();
      // Compared in billionths, as the engine takes them, so that the ceiling itself passes.
      const int64_t nano_cpus = requested < 0 ? -1 : std::llround(requested * 1e9);
      if (nano_cpus < std::llround(kMinCpus * 1e9)) {
        return fail("INVALID_LIMITS",
                    "runtime.limits.cpus must be at least " + numberText(kMinCpus));
      }
      if (nano_cpus > std::llround(policy_.max_cpus * 1e9)) return exceeded();
      spec.limits.nano_cpus = nano_cpus;
    }
  }

  if (const Value* network = field(*runtime, "network"); network != nullptr && !network->IsNull()) {
    const std::string_view name = network->IsString() ? view(*network) : "";
    if (name == "bridge") {
      if (!policy_.allow_network) {
        return fail("NETWORK_NOT_ALLOWED",
                    "runtime.network \"bridge\" is not allowed on this worker (allow_network is "
                    "off)");
      }
      spec.network = true;
    } else if (name != "none") {
      return fail("INVALID_NETWORK", "runtime.network must be \"none\" or \"bridge\"");
    }
  }

  if (const Value* files = field(*runtime, "files"); files != nullptr && !files->IsNull()) {
    const FileListRules rules{
        "runtime.files", 0, policy_.max_job_files_bytes, "max_job_files_bytes", "INVALID_FILES",
        "runtime.files"};
    if (std::optional<Problem> problem = parseFiles(*files, rules, &duplicate, &spec.files)) {
      return fail(std::move(problem->code), std::move(problem->message));
    }
  }

  if (const Value* outputs = field(*runtime, "outputs"); outputs != nullptr && !outputs->IsNull()) {
    if (std::optional<Problem> problem = parseOutputs(*outputs, &spec.outputs)) {
      return fail(std::move(problem->code), std::move(problem->message));
    }
  }

  if (duplicate) {
    return fail("INVALID_BODY", "the job names a field twice; every key must be unique");
  }
  spec.job_json = std::string(body);
  result.spec = std::move(spec);
  return result;
}

}  // namespace wa::api
