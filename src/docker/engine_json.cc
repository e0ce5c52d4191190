#include "docker/engine_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

}  // namespace

std::string buildCreateContainerBody(const ContainerSpec& spec) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  writeKey(w, "Image");
  writeString(w, spec.image);
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
  writeKey(w, "HostConfig");
  w.StartObject();
  if (spec.memory_bytes > 0) {
    writeKey(w, "Memory");
    w.Int64(spec.memory_bytes);
    writeKey(w, "MemorySwap");  // equal to Memory: no swap beyond the memory limit
    w.Int64(spec.memory_bytes);
  }
  writeKey(w, "NetworkMode");
  writeString(w, spec.network_mode);
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
      !optionalString(doc, "Os", &version.os) || !optionalString(doc, "Arch", &version.arch))
    return malformed("version", "a field is not a string");
  return version;
}

Result<EngineInfo> parseInfoResponse(std::string_view body) {
  rapidjson::Document doc;
  std::string error;
  if (!parseJson(body, doc, &error)) return malformed("info", error);
  if (!doc.IsObject()) return malformed("info", "not an object");
  EngineInfo info;
  if (!optionalString(doc, "DockerRootDir", &info.docker_root_dir))
    return malformed("info", "DockerRootDir is not a string");
  return info;
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
  std::string status;
  if (!optionalString(*state, "Error", &out.error) || !optionalString(*state, "Status", &status) ||
      !optionalString(doc, "Image", &out.image_id))
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

}  // namespace wa::docker
