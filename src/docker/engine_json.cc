#include "docker/engine_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <utility>

namespace wa::docker {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void writeString(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void writeKey(Writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void writeStringArray(Writer& w, const std::vector<std::string>& items) {
  w.StartArray();
  for (const std::string& item : items) writeString(w, item);
  w.EndArray();
}

DockerError malformed(std::string_view what, std::string_view why) {
  return DockerError{
      0, "the engine sent a malformed " + std::string(what) + " response: " + std::string(why)};
}

// Parses body into doc; on failure returns the error text.
bool parseJson(std::string_view body, rapidjson::Document& doc, std::string* error) {
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) {
    *error = std::string(rapidjson::GetParseError_En(doc.GetParseError())) + " at offset " +
             std::to_string(doc.GetErrorOffset());
    return false;
  }
  return true;
}

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// The string member name, or "" when absent or null; false when present with another type.
bool optionalString(const rapidjson::Value& object, const char* name, std::string* out) {
  const rapidjson::Value* v = member(object, name);
  if (v == nullptr || v->IsNull()) {
    out->clear();
    return true;
  }
  if (!v->IsString()) return false;
  out->assign(v->GetString(), v->GetStringLength());
  return true;
}

// The end of a growing text, bounded while it grows; tail() gives its last lines.
class LogTail {
 public:
  void append(std::string_view text) {
    text_.append(text);
    // Only the last kLogTailBytes can be shown; a margin keeps trailing newlines in reach.
    if (text_.size() > 4 * kLogTailBytes) text_.erase(0, text_.size() - 2 * kLogTailBytes);
  }

  // The last kLogTailLines lines, at most kLogTailBytes, without the final newlines.
  std::string tail() const {
    std::string_view t = text_;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
    size_t newlines = 0;
    for (size_t i = t.size(); i-- > 0;) {
      if (t[i] == '\n' && ++newlines == kLogTailLines) {
        t.remove_prefix(i + 1);
        break;
      }
    }
    if (t.size() > kLogTailBytes) {
      t.remove_prefix(t.size() - kLogTailBytes);
      // Start at a line when one begins in the window, else at a UTF-8 character.
      const size_t newline = t.find('\n');
      if (newline != std::string_view::npos && newline + 1 < t.size()) {
        t.remove_prefix(newline + 1);
      } else {
        while (!t.empty() && (static_cast<unsigned char>(t.front()) & 0xC0) == 0x80)
          t.remove_prefix(1);
      }
    }
    return std::string(t);
  }

 private:
  std::string text_;
};

// A progress message's failure, if it is one: errorDetail.message, else "error" (API 1.48
// deprecates "error", to be left empty or omitted in a later version).
std::optional<std::string> progressError(const rapidjson::Value& message) {
  const rapidjson::Value* error = member(message, "error");
  const rapidjson::Value* detail = member(message, "errorDetail");
  const bool has_error = error != nullptr && !error->IsNull();
  const bool has_detail = detail != nullptr && detail->IsObject();
  if (!has_error && !has_detail) return std::nullopt;
  std::string text;
  if (has_detail && !optionalString(*detail, "message", &text)) text.clear();
  if (text.empty() && has_error && error->IsString())
    text.assign(error->GetString(), error->GetStringLength());
  // An error the engine did not describe is still an error.
  if (text.empty()) text = "the engine reported an error without a message";
  return text;
}

}  // namespace

std::string buildCreateContainerBody(const ContainerSpec& spec) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  writeKey(w, "Image");
  writeString(w, spec.image);
  if (!spec.entrypoint.empty()) {
    writeKey(w, "Entrypoint");
    writeStringArray(w, spec.entrypoint);
  }
  if (!spec.cmd.empty()) {
    writeKey(w, "Cmd");
    writeStringArray(w, spec.cmd);
  }
  writeKey(w, "Env");
  writeStringArray(w, spec.env);
  writeKey(w, "Labels");
  w.StartObject();
  for (const auto& [key, value] : spec.labels) {
    writeKey(w, key);
    writeString(w, value);
  }
  w.EndObject();
  writeKey(w, "AttachStdin");
  w.Bool(spec.open_stdin);
  writeKey(w, "AttachStdout");
  w.Bool(true);
  writeKey(w, "AttachStderr");
  w.Bool(true);
  // StdinOnce: the engine closes the container's stdin when the attached client half-closes.
  writeKey(w, "OpenStdin");
  w.Bool(spec.open_stdin);
  writeKey(w, "StdinOnce");
  w.Bool(spec.open_stdin);
  writeKey(w, "Tty");
  w.Bool(false);  // without a TTY the attach stream is multiplexed (stdout and stderr apart)
  if (!spec.user.empty()) {
    writeKey(w, "User");
    writeString(w, spec.user);
  }
  if (!spec.working_dir.empty()) {
    writeKey(w, "WorkingDir");
    writeString(w, spec.working_dir);
  }
  writeKey(w, "HostConfig");
  w.StartObject();
  if (spec.memory_bytes > 0) {
    writeKey(w, "Memory");
    w.Int64(spec.memory_bytes);
    writeKey(w, "MemorySwap");  // equal to Memory: no swap beyond the memory limit
    w.Int64(spec.memory_bytes);
  }
  if (spec.nano_cpus > 0) {
    writeKey(w, "NanoCpus");
    w.Int64(spec.nano_cpus);
  }
  if (spec.pids_limit > 0) {
    writeKey(w, "PidsLimit");
    w.Int64(spec.pids_limit);
  }
  writeKey(w, "NetworkMode");
  writeString(w, spec.network_mode);
  if (spec.cap_drop_all) {
    writeKey(w, "CapDrop");
    writeStringArray(w, {"ALL"});
  }
  if (spec.no_new_privileges) {
    writeKey(w, "SecurityOpt");
    writeStringArray(w, {"no-new-privileges"});
  }
  if (spec.read_only_rootfs) {
    writeKey(w, "ReadonlyRootfs");
    w.Bool(true);
  }
  if (!spec.tmpfs.empty()) {
    writeKey(w, "Tmpfs");
    w.StartObject();
    for (const auto& [mount_point, options] : spec.tmpfs) {
      writeKey(w, mount_point);
      writeString(w, options);
    }
    w.EndObject();
  }
  if (!spec.anonymous_volumes.empty()) {
    // No Source: the engine creates a fresh volume, removed with the container (v=1).
    writeKey(w, "Mounts");
    w.StartArray();
    for (const std::string& target : spec.anonymous_volumes) {
      w.StartObject();
      writeKey(w, "Type");
      writeString(w, "volume");
      writeKey(w, "Target");
      writeString(w, target);
      if (!spec.anonymous_volume_options.empty()) {
        writeKey(w, "VolumeOptions");
        w.StartObject();
        writeKey(w, "DriverConfig");
        w.StartObject();
        writeKey(w, "Name");
        writeString(w, "local");
        writeKey(w, "Options");
        w.StartObject();
        for (const auto& [name, value] : spec.anonymous_volume_options) {
          writeKey(w, name);
          writeString(w, value);
        }
        w.EndObject();
        w.EndObject();
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  if (!spec.volumes_from.empty()) {
    writeKey(w, "VolumesFrom");
    writeStringArray(w, spec.volumes_from);
  }
  if (!spec.cgroup_parent.empty()) {
    writeKey(w, "CgroupParent");
    writeString(w, spec.cgroup_parent);
  }
  if (!spec.runtime.empty()) {
    writeKey(w, "Runtime");
    writeString(w, spec.runtime);
  }
  if (!spec.log_driver.empty()) {
    writeKey(w, "LogConfig");
    w.StartObject();
    writeKey(w, "Type");
    writeString(w, spec.log_driver);
    writeKey(w, "Config");
    w.StartObject();
    if (!spec.log_max_size.empty()) {
      writeKey(w, "max-size");
      writeString(w, spec.log_max_size);
    }
    if (!spec.log_max_file.empty()) {
      writeKey(w, "max-file");
      writeString(w, spec.log_max_file);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string buildLabelFilter(const std::string& label) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  writeKey(w, "label");
  writeStringArray(w, {label});
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string urlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_' || u == '.' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

PullArguments splitPullReference(std::string_view reference) {
  PullArguments out;
  if (reference.find('@') != std::string_view::npos) {
    out.from_image = std::string(reference);
    return out;
  }
  const size_t slash = reference.rfind('/');
  const size_t colon = reference.rfind(':');
  // A ':' before the last '/' is a registry's port ("localhost:5000/app"), not a tag.
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    out.from_image = std::string(reference.substr(0, colon));
    out.tag = std::string(reference.substr(colon + 1));
  } else {
    out.from_image = std::string(reference);
  }
  if (out.tag.empty()) out.tag = "latest";
  return out;
}

std::string errorMessageFromBody(std::string_view body, long http_status) {
  rapidjson::Document doc;
  std::string ignored;
  if (parseJson(body, doc, &ignored)) {
    std::string message;
    if (optionalString(doc, "message", &message) && !message.empty()) return message;
  }
  // Not the documented shape (a proxy, a plain-text error): show the start of the body.
  constexpr size_t kMaxShown = 200;
  std::string_view text = body;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  if (text.empty()) return "HTTP " + std::to_string(http_status);
  if (text.size() > kMaxShown) return std::string(text.substr(0, kMaxShown)) + "...";
  return std::string(text);
}

Result<std::string> parseCreateResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("create", error);
  std::string id;
  if (!optionalString(doc, "Id", &id) || id.empty()) return malformed("create", "no Id");
  return id;
}

Result<EngineVersion> parseVersionResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("version", error);
  if (!doc.IsObject()) return malformed("version", "not an object");
  EngineVersion version;
  if (!optionalString(doc, "Version", &version.version) ||
      !optionalString(doc, "ApiVersion", &version.api_version) ||
      !optionalString(doc, "MinAPIVersion", &version.min_api_version) ||
      !optionalString(doc, "Os", &version.os) || !optionalString(doc, "Arch", &version.arch))
    return malformed("version", "a field is not a string");
  if (const rapidjson::Value* components = member(doc, "Components");
      components != nullptr && components->IsArray()) {
    for (const rapidjson::Value& component : components->GetArray()) {
      std::string name;
      if (optionalString(component, "Name", &name) && name == "Podman Engine")
        version.podman = true;
    }
  }
  return version;
}

Result<EngineInfo> parseInfoResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("info", error);
  if (!doc.IsObject()) return malformed("info", "not an object");
  EngineInfo info;
  if (!optionalString(doc, "DockerRootDir", &info.docker_root_dir) ||
      !optionalString(doc, "CgroupVersion", &info.cgroup_version) ||
      !optionalString(doc, "CgroupDriver", &info.cgroup_driver))
    return malformed("info", "a field is not a string");
  // Podman 4.3 says so in a field of its own and leaves SecurityOptions as on root.
  if (const rapidjson::Value* rootless = member(doc, "Rootless");
      rootless != nullptr && rootless->IsBool())
    info.rootless = rootless->GetBool();
  if (const rapidjson::Value* options = member(doc, "SecurityOptions");
      options != nullptr && options->IsArray()) {
    for (const rapidjson::Value& option : options->GetArray()) {
      if (!option.IsString()) continue;
      // "name=rootless", possibly with ",key=value" settings after it.
      const std::string_view text(option.GetString(), option.GetStringLength());
      constexpr std::string_view kRootless = "name=rootless";
      if (text.substr(0, kRootless.size()) == kRootless &&
          (text.size() == kRootless.size() || text[kRootless.size()] == ','))
        info.rootless = true;
    }
  }
  return info;
}

std::string limitsUnenforcedReason(const EngineInfo& info) {
  if (!info.rootless || info.cgroup_version != "1") return "";
  return "the engine runs rootless on cgroup v1, where it ignores the memory, CPU and pids "
         "limits of containers; jobs are refused until it runs as root or on cgroup v2 with "
         "the controllers delegated";
}

Result<int64_t> parseWaitResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("wait", error);
  if (const rapidjson::Value* err = member(doc, "Error"); err != nullptr && err->IsObject()) {
    std::string message;
    if (optionalString(*err, "Message", &message) && !message.empty())
      return DockerError{200, "waiting for the container failed: " + message};
  }
  const rapidjson::Value* status = member(doc, "StatusCode");
  if (status == nullptr || !status->IsInt64()) return malformed("wait", "no integer StatusCode");
  return status->GetInt64();
}

Result<ContainerState> parseInspectResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("inspect", error);
  const rapidjson::Value* state = member(doc, "State");
  if (state == nullptr || !state->IsObject()) return malformed("inspect", "no State object");
  ContainerState out;
  const rapidjson::Value* running = member(*state, "Running");
  if (running == nullptr || !running->IsBool()) return malformed("inspect", "no State.Running");
  out.running = running->GetBool();
  if (const rapidjson::Value* oom = member(*state, "OOMKilled"); oom != nullptr && oom->IsBool())
    out.oom_killed = oom->GetBool();
  std::string& status = out.status;
  if (!optionalString(*state, "Error", &out.error) || !optionalString(*state, "Status", &status) ||
      !optionalString(doc, "Image", &out.image_id) ||
      !optionalString(*state, "StartedAt", &out.started_at) ||
      !optionalString(*state, "FinishedAt", &out.finished_at))
    return malformed("inspect", "a field is not a string");
  // ExitCode is 0 both for "exited 0" and for "never ran": only a stopped container has one.
  const rapidjson::Value* exit_code = member(*state, "ExitCode");
  if (!out.running && status != "created" && exit_code != nullptr && exit_code->IsInt64())
    out.exit_code = exit_code->GetInt64();
  return out;
}

Result<std::vector<std::string>> parseContainerListResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("container list", error);
  if (!doc.IsArray()) return malformed("container list", "not an array");
  std::vector<std::string> ids;
  for (const rapidjson::Value& entry : doc.GetArray()) {
    std::string id;
    if (!optionalString(entry, "Id", &id) || id.empty())
      return malformed("container list", "an entry has no Id");
    ids.push_back(std::move(id));
  }
  return ids;
}

Result<std::vector<ContainerSummary>> parseContainerSummaries(std::string_view body,
                                                              std::string_view job_label) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("container list", error);
  if (!doc.IsArray()) return malformed("container list", "not an array");
  std::vector<ContainerSummary> containers;
  for (const rapidjson::Value& entry : doc.GetArray()) {
    ContainerSummary c;
    if (!optionalString(entry, "Id", &c.id) || c.id.empty())
      return malformed("container list", "an entry has no Id");
    if (!optionalString(entry, "State", &c.state))
      return malformed("container list", "an entry's State is not a string");
    if (const rapidjson::Value* labels = member(entry, "Labels");
        labels != nullptr && labels->IsObject()) {
      const std::string name(job_label);
      if (!optionalString(*labels, name.c_str(), &c.job_id))
        return malformed("container list", "an entry's job label is not a string");
      for (auto it = labels->MemberBegin(); it != labels->MemberEnd(); ++it) {
        if (!it->value.IsString()) continue;
        c.labels.emplace(std::string(it->name.GetString(), it->name.GetStringLength()),
                         std::string(it->value.GetString(), it->value.GetStringLength()));
      }
    }
    containers.push_back(std::move(c));
  }
  return containers;
}

// The strings of array member name (absent or null: none), but the engine's "<none>"
// placeholders; false if it is not an array of strings.
static bool imageNames(const rapidjson::Value& entry, const char* name,
                       std::vector<std::string>* out) {
  const rapidjson::Value* names = member(entry, name);
  if (names == nullptr || names->IsNull()) return true;
  if (!names->IsArray()) return false;
  for (const rapidjson::Value& value : names->GetArray()) {
    if (!value.IsString()) return false;
    std::string text(value.GetString(), value.GetStringLength());
    if (text.rfind("<none>", 0) == 0) continue;
    out->push_back(std::move(text));
  }
  return true;
}

Result<std::vector<ImageSummary>> parseImageList(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("image list", error);
  if (!doc.IsArray()) return malformed("image list", "not an array");
  std::vector<ImageSummary> images;
  for (const rapidjson::Value& entry : doc.GetArray()) {
    if (!entry.IsObject()) return malformed("image list", "an entry is not an object");
    ImageSummary image;
    if (!optionalString(entry, "Id", &image.id) || image.id.empty())
      return malformed("image list", "an entry has no Id");
    if (!imageNames(entry, "RepoTags", &image.repo_tags) ||
        !imageNames(entry, "RepoDigests", &image.repo_digests))
      return malformed("image list", "an entry's RepoTags or RepoDigests");
    if (const rapidjson::Value* size = member(entry, "Size"); size != nullptr) {
      if (!size->IsInt64()) return malformed("image list", "an entry's Size is not a number");
      image.size = size->GetInt64();
    }
    images.push_back(std::move(image));
  }
  return images;
}

Result<ImageInfo> parseImageInspectResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("image inspect", error);
  if (!doc.IsObject()) return malformed("image inspect", "not an object");
  ImageInfo info;
  if (!optionalString(doc, "Id", &info.id) || info.id.empty())
    return malformed("image inspect", "no Id");
  if (!imageNames(doc, "RepoDigests", &info.repo_digests))
    return malformed("image inspect", "RepoDigests is not an array of strings");
  return info;
}

Result<StreamedResult> parseProgressStream(std::string_view body, bool build) {
  const char* what = build ? "build" : "pull";
  StreamedResult result;
  LogTail log;
  rapidjson::MemoryStream stream(body.data(), body.size());
  for (;;) {
    while (stream.Tell() < body.size() && (stream.Peek() == ' ' || stream.Peek() == '\n' ||
                                           stream.Peek() == '\r' || stream.Peek() == '\t'))
      stream.Take();
    if (stream.Tell() == body.size()) break;
    // One value, then stop: the next object starts right where this one ended.
    rapidjson::Document doc;
    doc.ParseStream<rapidjson::kParseStopWhenDoneFlag>(stream);
    if (doc.HasParseError()) {
      return malformed(what, std::string(rapidjson::GetParseError_En(doc.GetParseError())) +
                                 " at offset " + std::to_string(doc.GetErrorOffset()));
    }
    if (!doc.IsObject()) return malformed(what, "a progress message is not an object");
    if (std::optional<std::string> error = progressError(doc)) {
      if (build) {
        const std::string tail = log.tail();
        if (!tail.empty()) *error += "\n" + tail;
      }
      return DockerError{200, std::move(*error)};
    }
    std::string text;
    if (optionalString(doc, "stream", &text) && !text.empty()) log.append(text);
    std::string status, progress, id;
    // Progress bars ("Downloading [==>  ]") repeat for every chunk: not worth a line. API
    // 1.48 deprecates their "progress" text (to be omitted later): a non-empty
    // progressDetail ({"current":..,"total":..}) marks them too.
    const rapidjson::Value* detail = member(doc, "progressDetail");
    const bool bar = detail != nullptr && detail->IsObject() && detail->MemberCount() > 0;
    if (optionalString(doc, "status", &status) && !status.empty() &&
        optionalString(doc, "progress", &progress) && progress.empty() && !bar) {
      if (optionalString(doc, "id", &id) && !id.empty()) log.append(id + ": ");
      log.append(status + "\n");
    }
    if (build) {
      if (const rapidjson::Value* aux = member(doc, "aux")) {
        std::string image_id;
        if (optionalString(*aux, "ID", &image_id) && !image_id.empty())
          result.image_id = std::move(image_id);
      }
    }
  }
  result.log_tail = log.tail();
  return result;
}

bool isPodmanAttachError(std::string_view frame) {
  if (frame.size() > 200 || frame.find('\n') != frame.size() - 1) return false;
  // Its read of the output, or its write of the stdin, failed: the two ways seen.
  constexpr std::string_view kRead = "Error: read unixpacket @->";
  constexpr std::string_view kReset = "/attach: read: connection reset by peer\n";
  constexpr std::string_view kWrite = "Error: write unixpacket @->";
  constexpr std::string_view kBrokenPipe = "/attach: write: broken pipe\n";
  return (frame.starts_with(kRead) && frame.ends_with(kReset)) ||
         (frame.starts_with(kWrite) && frame.ends_with(kBrokenPipe));
}

}  // namespace wa::docker
