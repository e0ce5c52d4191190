#include "api/job_request_parser.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

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

  const Value* image = field(*runtime, "image");
  if (image == nullptr || !image->IsString() || image->GetStringLength() == 0) {
    return fail("MISSING_IMAGE", "runtime.image must be a non-empty string");
  }
  spec.image = std::string(view(*image));
  if (hasControlOrNul(spec.image) || spec.image.find(' ') != std::string::npos) {
    return fail("MISSING_IMAGE", "runtime.image is not a valid image reference");
  }
  if (!images_.allows(spec.image)) {
    return fail("IMAGE_NOT_ALLOWED",
                "runtime.image \"" + spec.image + "\" is not in this worker's allowed_images");
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
  }

  if (duplicate) {
    return fail("INVALID_BODY", "the job names a field twice; every key must be unique");
  }
  spec.job_json = std::string(body);
  result.spec = std::move(spec);
  return result;
}

}  // namespace wa::api
