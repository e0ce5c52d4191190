#include "jobs/job_codec.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/text.h"

namespace wa::jobs {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using rapidjson::Value;

void put(Writer& w, const char* name, std::string_view text) {
  w.Key(name);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}
void put(Writer& w, const char* name, int64_t n) {
  w.Key(name);
  w.Int64(n);
}
void putBool(Writer& w, const char* name, bool b) {
  w.Key(name);
  w.Bool(b);
}
void putOptional(Writer& w, const char* name, const std::optional<int64_t>& n) {
  w.Key(name);
  if (n) {
    w.Int64(*n);
  } else {
    w.Null();
  }
}
void putOptionalCount(Writer& w, const char* name, const std::optional<uint64_t>& n) {
  w.Key(name);
  if (n) {
    w.Uint64(*n);
  } else {
    w.Null();
  }
}
// Bytes (file contents, which need not be text) as base64.
void putBytes(Writer& w, const char* name, std::string_view bytes) {
  put(w, name, core::base64Encode(bytes));
}

void putFiles(Writer& w, const char* name, const std::vector<JobFile>& files) {
  w.Key(name);
  w.StartArray();
  for (const JobFile& file : files) {
    w.StartObject();
    put(w, "path", file.path);
    putBytes(w, "content", file.content);
    put(w, "mode", static_cast<int64_t>(file.mode));
    w.EndObject();
  }
  w.EndArray();
}

// Readers that fail (return false) on a missing member or one of another type.
class Reader {
 public:
  explicit Reader(std::string* error) : error_(error) {}

  bool fail(const std::string& why) {
    *error_ = why;
    return false;
  }
  const Value* get(const Value& object, const char* name) {
    auto it = object.FindMember(name);
    return it == object.MemberEnd() ? nullptr : &it->value;
  }
  bool string(const Value& object, const char* name, std::string* out) {
    const Value* v = get(object, name);
    if (v == nullptr || !v->IsString()) return fail(std::string(name) + " is not a string");
    out->assign(v->GetString(), v->GetStringLength());
    return true;
  }
  bool bytes(const Value& object, const char* name, std::string* out) {
    std::string text;
    if (!string(object, name, &text)) return false;
    std::optional<std::string> decoded = core::base64Decode(text);
    if (!decoded) return fail(std::string(name) + " is not base64");
    *out = std::move(*decoded);
    return true;
  }
  bool integer(const Value& object, const char* name, int64_t* out) {
    const Value* v = get(object, name);
    if (v == nullptr || !v->IsInt64()) return fail(std::string(name) + " is not an integer");
    *out = v->GetInt64();
    return true;
  }
  bool optional(const Value& object, const char* name, std::optional<int64_t>* out) {
    const Value* v = get(object, name);
    if (v == nullptr) return fail(std::string(name) + " is missing");
    if (v->IsNull()) {
      out->reset();
      return true;
    }
    if (!v->IsInt64()) return fail(std::string(name) + " is not an integer");
    *out = v->GetInt64();
    return true;
  }
  // A count (null: unknown); a missing member is unknown too.
  bool count(const Value& object, const char* name, std::optional<uint64_t>* out) {
    const Value* v = get(object, name);
    if (v == nullptr || v->IsNull()) {
      out->reset();
      return true;
    }
    if (!v->IsUint64()) return fail(std::string(name) + " is not a count");
    *out = v->GetUint64();
    return true;
  }
  bool boolean(const Value& object, const char* name, bool* out) {
    const Value* v = get(object, name);
    if (v == nullptr || !v->IsBool()) return fail(std::string(name) + " is not a boolean");
    *out = v->GetBool();
    return true;
  }
  bool files(const Value& object, const char* name, std::vector<JobFile>* out) {
    const Value* list = get(object, name);
    if (list == nullptr || !list->IsArray()) return fail(std::string(name) + " is not a list");
    for (const Value& item : list->GetArray()) {
      if (!item.IsObject()) return fail(std::string(name) + " holds a non-object");
      JobFile file;
      int64_t mode = 0;
      if (!string(item, "path", &file.path) || !bytes(item, "content", &file.content) ||
          !integer(item, "mode", &mode)) {
        return false;
      }
      file.mode = static_cast<uint32_t>(mode);
      out->push_back(std::move(file));
    }
    return true;
  }
  bool strings(const Value& object, const char* name, std::vector<std::string>* out) {
    const Value* list = get(object, name);
    if (list == nullptr || !list->IsArray()) return fail(std::string(name) + " is not a list");
    for (const Value& item : list->GetArray()) {
      if (!item.IsString()) return fail(std::string(name) + " holds a non-string");
      out->emplace_back(item.GetString(), item.GetStringLength());
    }
    return true;
  }

 private:
  std::string* error_;
};

bool parseObject(std::string_view text, rapidjson::Document* doc, std::string* error) {
  doc->Parse(text.data(), text.size());
  if (doc->HasParseError() || !doc->IsObject()) {
    *error = "not a JSON object";
    return false;
  }
  return true;
}

std::string finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string encodeSpec(const JobSpec& spec) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  put(w, "job_id", spec.job_id);
  put(w, "task_type", spec.task_type);
  put(w, "image", spec.image);
  w.Key("cmd");
  w.StartArray();
  for (const std::string& arg : spec.cmd) w.String(arg.data(), static_cast<unsigned>(arg.size()));
  w.EndArray();
  w.Key("env");
  w.StartArray();
  for (const auto& [key, value] : spec.env) {
    w.StartArray();
    w.String(key.data(), static_cast<unsigned>(key.size()));
    w.String(value.data(), static_cast<unsigned>(value.size()));
    w.EndArray();
  }
  w.EndArray();
  put(w, "memory_mb", spec.limits.memory_mb);
  put(w, "max_runtime_seconds", spec.limits.max_runtime_seconds);
  put(w, "nano_cpus", spec.limits.nano_cpus);
  put(w, "runtime_mode", spec.runtime_mode);
  w.Key("build");
  if (spec.build) {
    w.StartObject();
    putBytes(w, "dockerfile", spec.build->dockerfile);
    putFiles(w, "context", spec.build->context);
    w.EndObject();
  } else {
    w.Null();
  }
  putFiles(w, "files", spec.files);
  w.Key("outputs");
  w.StartArray();
  for (const std::string& path : spec.outputs) {
    w.String(path.data(), static_cast<unsigned>(path.size()));
  }
  w.EndArray();
  putBool(w, "network", spec.network);
  w.EndObject();
  return finish(buffer);
}

bool decodeSpec(std::string_view text, JobSpec* spec, std::string* error) {
  rapidjson::Document doc;
  if (!parseObject(text, &doc, error)) return false;
  Reader r(error);
  if (!r.string(doc, "job_id", &spec->job_id) || !r.string(doc, "task_type", &spec->task_type) ||
      !r.string(doc, "image", &spec->image) || !r.strings(doc, "cmd", &spec->cmd) ||
      !r.integer(doc, "memory_mb", &spec->limits.memory_mb) ||
      !r.integer(doc, "max_runtime_seconds", &spec->limits.max_runtime_seconds) ||
      !r.integer(doc, "nano_cpus", &spec->limits.nano_cpus) ||
      !r.string(doc, "runtime_mode", &spec->runtime_mode) || !r.files(doc, "files", &spec->files) ||
      !r.strings(doc, "outputs", &spec->outputs) || !r.boolean(doc, "network", &spec->network)) {
    return false;
  }
  const Value* env = r.get(doc, "env");
  if (env == nullptr || !env->IsArray()) return r.fail("env is not a list");
  for (const Value& pair : env->GetArray()) {
    if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsString() || !pair[1].IsString()) {
      return r.fail("env holds something other than [name, value]");
    }
    spec->env.emplace_back(std::string(pair[0].GetString(), pair[0].GetStringLength()),
                           std::string(pair[1].GetString(), pair[1].GetStringLength()));
  }
  const Value* build = r.get(doc, "build");
  if (build == nullptr) return r.fail("build is missing");
  if (build->IsObject()) {
    BuildSpec b;
    if (!r.bytes(*build, "dockerfile", &b.dockerfile) || !r.files(*build, "context", &b.context)) {
      return false;
    }
    spec->build = std::move(b);
  } else if (!build->IsNull()) {
    return r.fail("build is neither an object nor null");
  }
  return true;
}

std::string encodeRecord(const Job& job, const JobOutcome* outcome) {
  const std::optional<int64_t>& exit_code = outcome ? outcome->exit_code : job.exit_code;
  const std::optional<JobError>& error = outcome ? outcome->error : job.error;
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  put(w, "state", stateName(job.state));
  put(w, "created_at_ms", job.created_at_ms);
  putOptional(w, "started_at_ms", job.started_at_ms);
  putOptional(w, "finished_at_ms", job.finished_at_ms);
  putOptional(w, "exit_code", exit_code);
  putBool(w, "oom_killed", outcome ? outcome->oom_killed : job.oom_killed);
  w.Key("error");
  if (error) {
    w.StartObject();
    put(w, "code", error->code);
    put(w, "message", error->message);
    // Only in a run's provisional outcome: the job did not run and goes back to the queue.
    if (error->engine_unreached) putBool(w, "requeue", true);
    w.EndObject();
  } else {
    w.Null();
  }
  for (const auto& [name, out] :
       {std::pair{"stdout", &job.stdout_output}, std::pair{"stderr", &job.stderr_output}}) {
    w.Key(name);
    w.StartObject();
    putBool(w, "truncated", out->truncated);
    put(w, "total_bytes", static_cast<int64_t>(out->total_bytes));
    w.EndObject();
  }
  put(w, "image_id", job.image_id);
  put(w, "image_ref", job.image_ref);
  putBool(w, "image_pulled", job.image_pulled);
  putBool(w, "image_built", job.image_built);
  w.Key("output_files");
  w.StartArray();
  for (const OutputFile& file : job.output_files) {
    w.StartObject();
    put(w, "path", file.path);
    putBytes(w, "data", file.data);
    putBool(w, "truncated", file.truncated);
    putBool(w, "found", file.found);
    put(w, "size", static_cast<int64_t>(file.size));
    w.EndObject();
  }
  w.EndArray();
  const RunSettings& run = job.run_settings;
  w.Key("run_settings");
  w.StartObject();
  put(w, "network", run.network);
  put(w, "pids_limit", run.pids_limit);
  putBool(w, "read_only_rootfs", run.read_only_rootfs);
  put(w, "user", run.user);
  put(w, "container_runtime", run.container_runtime);
  put(w, "workspace", run.workspace);
  w.EndObject();
  put(w, "engine_requeues", static_cast<int64_t>(job.engine_requeues));
  w.Key("usage");
  if (const std::optional<JobUsage>& usage = job.usage) {
    w.StartObject();
    w.Key("cpu_seconds");
    if (usage->cpu_seconds) {
      w.Double(*usage->cpu_seconds);
    } else {
      w.Null();
    }
    putOptionalCount(w, "memory_peak_bytes", usage->memory_peak_bytes);
    putOptionalCount(w, "io_read_bytes", usage->io_read_bytes);
    putOptionalCount(w, "io_write_bytes", usage->io_write_bytes);
    putOptionalCount(w, "pids_peak", usage->pids_peak);
    put(w, "source", usage->source);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  return finish(buffer);
}

bool decodeRecord(std::string_view text, Job* job, std::string* error) {
  rapidjson::Document doc;
  if (!parseObject(text, &doc, error)) return false;
  Reader r(error);
  std::string state;
  if (!r.string(doc, "state", &state)) return false;
  if (!parseState(state, &job->state)) return r.fail("state \"" + state + "\" is unknown");
  int64_t requeues = 0;
  if (!r.integer(doc, "created_at_ms", &job->created_at_ms) ||
      !r.optional(doc, "started_at_ms", &job->started_at_ms) ||
      !r.optional(doc, "finished_at_ms", &job->finished_at_ms) ||
      !r.optional(doc, "exit_code", &job->exit_code) ||
      !r.boolean(doc, "oom_killed", &job->oom_killed) ||
      !r.string(doc, "image_id", &job->image_id) || !r.string(doc, "image_ref", &job->image_ref) ||
      !r.boolean(doc, "image_pulled", &job->image_pulled) ||
      !r.boolean(doc, "image_built", &job->image_built) ||
      !r.integer(doc, "engine_requeues", &requeues)) {
    return false;
  }
  job->engine_requeues = static_cast<uint32_t>(requeues);
  const Value* err = r.get(doc, "error");
  if (err == nullptr) return r.fail("error is missing");
  if (err->IsObject()) {
    JobError e;
    if (!r.string(*err, "code", &e.code) || !r.string(*err, "message", &e.message)) return false;
    if (r.get(*err, "requeue") != nullptr && !r.boolean(*err, "requeue", &e.engine_unreached)) {
      return false;
    }
    job->error = std::move(e);
  } else if (!err->IsNull()) {
    return r.fail("error is neither an object nor null");
  }
  for (const auto& [name, out] :
       {std::pair{"stdout", &job->stdout_output}, std::pair{"stderr", &job->stderr_output}}) {
    const Value* o = r.get(doc, name);
    int64_t total = 0;
    if (o == nullptr || !o->IsObject() || !r.boolean(*o, "truncated", &out->truncated) ||
        !r.integer(*o, "total_bytes", &total)) {
      return r.fail(std::string(name) + " is not an output summary");
    }
    out->total_bytes = static_cast<uint64_t>(total);
  }
  const Value* files = r.get(doc, "output_files");
  if (files == nullptr || !files->IsArray()) return r.fail("output_files is not a list");
  for (const Value& item : files->GetArray()) {
    OutputFile file;
    int64_t size = 0;
    if (!item.IsObject() || !r.string(item, "path", &file.path) ||
        !r.bytes(item, "data", &file.data) || !r.boolean(item, "truncated", &file.truncated) ||
        !r.boolean(item, "found", &file.found) || !r.integer(item, "size", &size)) {
      return r.fail("output_files holds a malformed file");
    }
    file.size = static_cast<uint64_t>(size);
    job->output_files.push_back(std::move(file));
  }
  // Records written before usage existed have none.
  if (const Value* usage = r.get(doc, "usage"); usage != nullptr && !usage->IsNull()) {
    if (!usage->IsObject()) return r.fail("usage is neither an object nor null");
    JobUsage u;
    const Value* cpu = r.get(*usage, "cpu_seconds");
    if (cpu != nullptr && !cpu->IsNull()) {
      if (!cpu->IsNumber()) return r.fail("cpu_seconds is not a number");
      u.cpu_seconds = cpu->GetDouble();
    }
    if (!r.count(*usage, "memory_peak_bytes", &u.memory_peak_bytes) ||
        !r.count(*usage, "io_read_bytes", &u.io_read_bytes) ||
        !r.count(*usage, "io_write_bytes", &u.io_write_bytes) ||
        !r.count(*usage, "pids_peak", &u.pids_peak) || !r.string(*usage, "source", &u.source)) {
      return false;
    }
    job->usage = std::move(u);
  }
  const Value* run = r.get(doc, "run_settings");
  if (run == nullptr || !run->IsObject()) return r.fail("run_settings is not an object");
  RunSettings& s = job->run_settings;
  return r.string(*run, "network", &s.network) && r.integer(*run, "pids_limit", &s.pids_limit) &&
         r.boolean(*run, "read_only_rootfs", &s.read_only_rootfs) &&
         r.string(*run, "user", &s.user) &&
         r.string(*run, "container_runtime", &s.container_runtime) &&
         r.string(*run, "workspace", &s.workspace);
}

}  // namespace wa::jobs
