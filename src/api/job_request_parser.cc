#include "api/job_request_parser.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "api/job_request_fields.h"
#include "core/text.h"
#include "docker/image_reference.h"

namespace wa::api {
namespace {

using namespace request;

// Members of runtime that would set how the container is confined. The worker sets all
// of that itself; a job that tries is refused rather than half-obeyed.
constexpr const char* kForbiddenRuntimeFields[] = {
    "privileged",  "cap_add",      "devices", "volumes",      "binds", "mounts",
    "host_config", "security_opt", "user",    "network_mode", "ipc",   "pid",
};

// Reads members, remembering whether any object named one twice (refused at the end,
// once the job_id is known to echo back).
struct Fields {
  bool duplicate = false;
  const Value* operator()(const Value& object, const char* name) {
    return member(object, name, &duplicate);
  }
  // The member when it is present and not null.
  const Value* optional(const Value& object, const char* name) {
    const Value* v = member(object, name, &duplicate);
    return v != nullptr && !v->IsNull() ? v : nullptr;
  }
};

std::optional<Problem> problem(std::string code, std::string message) {
  return Problem{std::move(code), std::move(message)};
}

// protocol_version and job_id.
std::optional<Problem> parseEnvelope(const Value& doc, Fields& field, jobs::JobSpec* spec) {
  const Value* version = field(doc, "protocol_version");
  if (version == nullptr) {
    return problem("UNSUPPORTED_PROTOCOL_VERSION", "protocol_version is required and must be 1");
  }
  if (!version->IsNumber() || wholeNumber(*version) != 1) {
    return problem("UNSUPPORTED_PROTOCOL_VERSION", "protocol_version must be the integer 1");
  }
  const Value* job_id = field(doc, "job_id");
  if (job_id == nullptr || job_id->IsNull()) return problem("MISSING_JOB_ID", "job_id is required");
  if (!job_id->IsString()) return problem("MISSING_JOB_ID", "job_id must be a string");
  if (job_id->GetStringLength() == 0) return problem("MISSING_JOB_ID", "job_id must not be empty");
  if (job_id->GetStringLength() > JobRequestParser::kMaxJobIdBytes) {
    return problem("INVALID_JOB_ID", "job_id is longer than 256 bytes");
  }
  if (hasControlOrNul(view(*job_id))) {
    return problem("INVALID_JOB_ID", "job_id must not contain control characters");
  }
  spec->job_id = std::string(view(*job_id));
  return std::nullopt;
}

std::optional<Problem> parseTask(const Value& doc, Fields& field, jobs::JobSpec* spec) {
  const Value* task = field(doc, "task");
  if (task == nullptr || task->IsNull()) return problem("MISSING_TASK", "task is required");
  if (!task->IsObject()) return problem("INVALID_TASK", "task must be an object");
  const Value* task_type = field(*task, "type");
  if (task_type == nullptr || !task_type->IsString() || task_type->GetStringLength() == 0) {
    return problem("INVALID_TASK", "task.type must be a non-empty string");
  }
  spec->task_type = std::string(view(*task_type));
  return std::nullopt;
}

// runtime itself, the fields no job may set, and runtime.mode against the policy.
std::optional<Problem> parseMode(const Value* runtime, Fields& field, const JobPolicy& policy,
                                 jobs::JobSpec* spec) {
  if (runtime == nullptr || runtime->IsNull()) {
    return problem("MISSING_RUNTIME", "runtime is required");
  }
  if (!runtime->IsObject()) return problem("MISSING_RUNTIME", "runtime must be an object");
  for (const char* name : kForbiddenRuntimeFields) {
    if (runtime->HasMember(name)) {
      return problem("FORBIDDEN_FIELD", std::string("runtime.") + name +
                                            " is not accepted: the worker alone sets how a "
                                            "job's container is isolated");
    }
  }
  const Value* mode = field(*runtime, "mode");
  if (mode == nullptr || !mode->IsString()) {
    return problem("BAD_RUNTIME_MODE", "runtime.mode must be \"image\" or \"build\"");
  }
  const std::string mode_name(view(*mode));
  if (mode_name != "image" && mode_name != "build") {
    return problem("BAD_RUNTIME_MODE", "runtime.mode \"" + core::toValidUtf8(mode_name) +
                                           "\" is not \"image\" or \"build\"");
  }
  const auto listed = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), mode_name) != list.end();
  };
  if (!listed(policy.allowed_runtime_modes) || !listed(policy.implemented_runtime_modes)) {
    return problem("RUNTIME_NOT_SUPPORTED",
                   "runtime.mode \"" + mode_name + "\" is not supported by this worker");
  }
  spec->runtime_mode = mode_name;
  return std::nullopt;
}

// runtime.image for mode "image", against allowed_images.
std::optional<Problem> parseImage(const Value& runtime, Fields& field,
                                  const jobs::ImagePolicy& images, jobs::JobSpec* spec) {
  const Value* image = field.optional(runtime, "image");
  if (image == nullptr || !image->IsString() || image->GetStringLength() == 0) {
    return problem("MISSING_IMAGE", "runtime.image must be a non-empty string");
  }
  spec->image = std::string(view(*image));
  if (hasControlOrNul(spec->image)) {
    return problem("MISSING_IMAGE", "runtime.image is not a valid image reference");
  }
  docker::ImageReference reference;
  std::string why;
  if (!docker::parseImageReference(spec->image, &reference, &why)) {
    return problem("MISSING_IMAGE", "runtime.image is not a valid image reference: " + why);
  }
  if (!images.allows(reference)) {
    return problem("IMAGE_NOT_ALLOWED",
                   "runtime.image \"" + spec->image + "\" is not in this worker's allowed_images");
  }
  if (field.optional(runtime, "build") != nullptr) {
    return problem("INVALID_BUILD", "runtime.build is only for runtime.mode \"build\"");
  }
  return std::nullopt;
}

// runtime.build for mode "build": the Dockerfile and its context, within
// max_build_context_bytes. allowed_images does not apply: the Dockerfile's FROM is the
// engine's business, and allowing build mode is the operator's decision to let jobs
// choose their base.
std::optional<Problem> parseBuild(const Value& runtime, Fields& field, const JobPolicy& policy,
                                  jobs::JobSpec* spec) {
  if (field.optional(runtime, "image") != nullptr) {
    return problem("INVALID_BUILD",
                   "runtime.image must not be given with runtime.mode \"build\"; the Dockerfile "
                   "in runtime.build names the base image");
  }
  const Value* build = field.optional(runtime, "build");
  if (build == nullptr) {
    return problem("INVALID_BUILD", "runtime.build is required with runtime.mode \"build\"");
  }
  if (!build->IsObject()) return problem("INVALID_BUILD", "runtime.build must be an object");
  const Value* dockerfile = field(*build, "dockerfile");
  if (dockerfile == nullptr || !dockerfile->IsString() || dockerfile->GetStringLength() == 0) {
    return problem("INVALID_BUILD", "runtime.build.dockerfile must be a non-empty string");
  }
  jobs::BuildSpec build_spec;
  build_spec.dockerfile = std::string(view(*dockerfile));
  const auto dockerfile_bytes = static_cast<int64_t>(build_spec.dockerfile.size());
  if (dockerfile_bytes > policy.max_build_context_bytes) {
    return problem("INVALID_BUILD", "runtime.build.dockerfile is " +
                                        std::to_string(dockerfile_bytes) +
                                        " bytes, over this worker's max_build_context_bytes of " +
                                        std::to_string(policy.max_build_context_bytes));
  }
  if (const Value* context = field.optional(*build, "context")) {
    const FileListRules rules{
        "runtime.build.context",   dockerfile_bytes, policy.max_build_context_bytes,
        "max_build_context_bytes", "INVALID_BUILD",  "the Dockerfile and context"};
    if (auto found = parseFiles(*context, rules, &field.duplicate, &build_spec.context)) {
      return found;
    }
    // The worker writes runtime.build.dockerfile as "Dockerfile" at the context's root.
    for (size_t i = 0; i < build_spec.context.size(); ++i) {
      const std::string& path = build_spec.context[i].path;
      if (path == "Dockerfile" || path.starts_with("Dockerfile/")) {
        return problem("INVALID_BUILD",
                       "runtime.build.context[" + std::to_string(i) + "].path " + quoted(path) +
                           " is taken: the Dockerfile is runtime.build.dockerfile");
      }
    }
  }
  spec->build = std::move(build_spec);
  return std::nullopt;
}

// runtime.cmd and runtime.env.
std::optional<Problem> parseCommand(const Value& runtime, Fields& field, jobs::JobSpec* spec) {
  if (const Value* cmd = field.optional(runtime, "cmd")) {
    if (!cmd->IsArray()) return problem("INVALID_CMD", "runtime.cmd must be an array of strings");
    for (const Value& arg : cmd->GetArray()) {
      if (!arg.IsString()) return problem("INVALID_CMD", "runtime.cmd must contain only strings");
      if (hasNul(view(arg))) {
        return problem("INVALID_CMD", "runtime.cmd must not contain NUL bytes");
      }
      spec->cmd.emplace_back(view(arg));
    }
  }
  const Value* env = field.optional(runtime, "env");
  if (env == nullptr) return std::nullopt;
  if (!env->IsObject()) return problem("INVALID_ENV", "runtime.env must be an object");
  std::set<std::string_view> seen;
  for (auto it = env->MemberBegin(); it != env->MemberEnd(); ++it) {
    const std::string_view key = view(it->name);
    if (key.empty() || key.find('=') != std::string_view::npos || hasNul(key)) {
      return problem("INVALID_ENV", "runtime.env keys must be non-empty and contain no '=' or NUL");
    }
    if (!seen.insert(key).second) {
      return problem("INVALID_ENV", "runtime.env names \"" + std::string(key) + "\" twice");
    }
    const Value& value = it->value;
    if (!(value.IsString() || value.IsNumber() || value.IsBool())) {
      return problem("INVALID_ENV",
                     "runtime.env." + std::string(key) + " must be a string, number or boolean");
    }
    std::string text = scalarToString(value);
    if (hasNul(text)) {
      return problem("INVALID_ENV", "runtime.env." + std::string(key) + " contains NUL");
    }
    spec->env.emplace_back(std::string(key), std::move(text));
  }
  return std::nullopt;
}

// runtime.cpus as billionths of a CPU, within kMinCpus and max_cpus.
std::optional<Problem> parseCpus(const Value& cpus, const JobPolicy& policy, int64_t* nano_cpus) {
  if (!cpus.IsNumber()) return problem("INVALID_LIMITS", "runtime.limits.cpus must be a number");
  const double requested = cpus.GetDouble();
  const auto exceeded = [&] {
    return problem("LIMIT_EXCEEDED", "runtime.limits.cpus " + scalarToString(cpus) +
                                         " exceeds this worker's max_cpus of " +
                                         numberText(policy.max_cpus));
  };
  // Far above any ceiling, and where billionths would overflow.
  if (requested > 1e6) return exceeded();
  // Compared in billionths, as the engine takes them, so that the ceiling itself passes.
  const int64_t requested_nano = requested < 0 ? -1 : std::llround(requested * 1e9);
  if (requested_nano < std::llround(JobRequestParser::kMinCpus * 1e9)) {
    return problem("INVALID_LIMITS", "runtime.limits.cpus must be at least " +
                                         numberText(JobRequestParser::kMinCpus));
  }
  if (requested_nano > std::llround(policy.max_cpus * 1e9)) return exceeded();
  *nano_cpus = requested_nano;
  return std::nullopt;
}

// runtime.limits over the policy's defaults, within its ceilings.
std::optional<Problem> parseLimits(const Value& runtime, Fields& field, const JobPolicy& policy,
                                   jobs::JobLimits* limits) {
  limits->memory_mb = policy.default_memory_mb;
  limits->max_runtime_seconds = policy.default_max_runtime_seconds;
  if (policy.default_cpus > 0) {
    limits->nano_cpus =
        std::llround((policy.max_cpus > 0 ? std::min(policy.default_cpus, policy.max_cpus)
                                          : policy.default_cpus) *
                     1e9);
  }
  const Value* given = field.optional(runtime, "limits");
  if (given == nullptr) return std::nullopt;
  if (!given->IsObject()) return problem("INVALID_LIMITS", "runtime.limits must be an object");
  struct Limit {
    const char* name;
    int64_t* target;
    int64_t minimum;
    int64_t ceiling;
    const char* ceiling_key;
  };
  const Limit known[] = {
      {"memory_mb", &limits->memory_mb, JobRequestParser::kMinMemoryMb, policy.max_memory_mb,
       "max_memory_mb"},
      {"max_runtime_seconds", &limits->max_runtime_seconds, 1, policy.max_runtime_seconds,
       "max_runtime_seconds"},
  };
  for (const Limit& limit : known) {
    const Value* v = field.optional(*given, limit.name);
    if (v == nullptr) continue;
    const std::string name = std::string("runtime.limits.") + limit.name;
    const std::optional<int64_t> n = v->IsNumber() ? wholeNumber(*v) : std::optional<int64_t>();
    if (!n.has_value()) return problem("INVALID_LIMITS", name + " must be a whole number");
    if (*n < limit.minimum) {
      return problem("INVALID_LIMITS", name + " must be at least " + std::to_string(limit.minimum));
    }
    if (*n > limit.ceiling) {
      return problem("LIMIT_EXCEEDED", name + " " + std::to_string(*n) + " exceeds this worker's " +
                                           limit.ceiling_key + " of " +
                                           std::to_string(limit.ceiling));
    }
    *limit.target = *n;
  }
  if (const Value* cpus = field.optional(*given, "cpus")) {
    return parseCpus(*cpus, policy, &limits->nano_cpus);
  }
  return std::nullopt;
}

std::optional<Problem> parseNetwork(const Value& runtime, Fields& field, const JobPolicy& policy,
                                    jobs::JobSpec* spec) {
  const Value* network = field.optional(runtime, "network");
  if (network == nullptr) return std::nullopt;
  const std::string_view name = network->IsString() ? view(*network) : "";
  if (name == "bridge") {
    if (!policy.allow_network) {
      return problem("NETWORK_NOT_ALLOWED",
                     "runtime.network \"bridge\" is not allowed on this worker (allow_network is "
                     "off)");
    }
    spec->network = true;
  } else if (name != "none") {
    return problem("INVALID_NETWORK", "runtime.network must be \"none\" or \"bridge\"");
  }
  return std::nullopt;
}

// runtime.files and runtime.outputs.
std::optional<Problem> parseWorkspace(const Value& runtime, Fields& field, const JobPolicy& policy,
                                      jobs::JobSpec* spec) {
  if (const Value* files = field.optional(runtime, "files")) {
    const FileListRules rules{
        "runtime.files", 0, policy.max_job_files_bytes, "max_job_files_bytes", "INVALID_FILES",
        "runtime.files"};
    if (auto found = parseFiles(*files, rules, &field.duplicate, &spec->files)) return found;
  }
  if (const Value* outputs = field.optional(runtime, "outputs")) {
    return parseOutputs(*outputs, &spec->outputs);
  }
  return std::nullopt;
}

}  // namespace

ParsedJob JobRequestParser::parse(std::string_view body) const {
  ParsedJob result;
  const auto reject = [&](std::string code, std::string message) {
    result.rejection = Rejection{400, std::move(code), std::move(message), std::nullopt};
    return result;
  };
  // JSON exchanged between systems carries no byte order mark (RFC 8259); some parsers
  // skip one and some refuse it, so a master and this worker could disagree.
  if (body.starts_with("\xEF\xBB\xBF")) {
    return reject("INVALID_BODY", "body must not start with a byte order mark");
  }
  rapidjson::Document doc;
  // Iterative parsing: deeply nested input cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                    body.size());
  if (doc.HasParseError()) {
    return reject("INVALID_BODY", std::string("body is not valid JSON: ") +
                                      rapidjson::GetParseError_En(doc.GetParseError()) +
                                      " at offset " + std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return reject("INVALID_BODY", "body must be a JSON object (the job)");

  Fields field;
  // A usable job_id first, so that every later rejection can echo it back.
  std::optional<std::string> echo_id;
  if (const Value* id = field(doc, "job_id"); id && id->IsString() && id->GetStringLength() > 0 &&
                                              id->GetStringLength() <= kMaxJobIdBytes &&
                                              !hasControlOrNul(view(*id))) {
    echo_id = std::string(view(*id));
  }
  jobs::JobSpec spec;
  std::optional<Problem> found = parseEnvelope(doc, field, &spec);
  if (!found) found = parseTask(doc, field, &spec);
  const Value* runtime = field(doc, "runtime");
  if (!found) found = parseMode(runtime, field, policy_, &spec);
  if (!found) {
    found = spec.runtime_mode == "image" ? parseImage(*runtime, field, images_, &spec)
                                         : parseBuild(*runtime, field, policy_, &spec);
  }
  if (!found) found = parseCommand(*runtime, field, &spec);
  if (!found) found = parseLimits(*runtime, field, policy_, &spec.limits);
  if (!found) found = parseNetwork(*runtime, field, policy_, &spec);
  if (!found) found = parseWorkspace(*runtime, field, policy_, &spec);
  if (!found && field.duplicate) {
    found = Problem{"INVALID_BODY", "the job names a field twice; every key must be unique"};
  }
  if (found) {
    reject(std::move(found->code), std::move(found->message));
    result.rejection.job_id = echo_id;
    return result;
  }
  spec.job_json = std::string(body);
  result.spec = std::move(spec);
  return result;
}

}  // namespace wa::api
