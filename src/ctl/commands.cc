#include "ctl/commands.h"

#include <cerrno>
#include <cstdio>
#include <thread>

#include "ctl/ctl_options.h"
#include "ctl/views.h"

namespace wa::ctl {
namespace {

// How often drain --wait asks the worker whether jobs are left.
constexpr std::chrono::milliseconds kDrainPoll{1000};

std::string percentEncode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char escape[4];
      std::snprintf(escape, sizeof escape, "%%%02X", c);
      out += escape;
    }
  }
  return out;
}

std::string joined(const rapidjson::Value& object, const char* name) {
  std::string text;
  if (!object.IsObject() || !object.HasMember(name) || !object[name].IsArray()) return text;
  for (const auto& item : object[name].GetArray()) {
    if (item.IsString()) text += (text.empty() ? "" : ", ") + std::string(item.GetString());
  }
  return text;
}

std::string jobCounts(const rapidjson::Value& state) {
  return std::to_string(memberInt(state, "running_jobs")) + " running and " +
         std::to_string(memberInt(state, "queued_jobs")) + " queued";
}

}  // namespace

Failure describeFailure(const HttpReply& reply, const std::string& where) {
  if (!reply.error.empty()) {
    std::string hint;
    switch (reply.os_errno) {
      case ENOENT:
        hint = " (no socket there: is the worker running, with listen_unix set?)";
        break;
      case EACCES:
        hint = " (permission denied: run it as root, or as a member of the worker's group)";
        break;
      case ECONNREFUSED:
        hint = " (nothing listens there: is the worker running? `systemctl status worker-agent`)";
        break;
      default:
        break;
    }
    return {kExitUnreachable, "cannot reach the worker at " + where + ": " + reply.error + hint};
  }
  rapidjson::Document doc;
  doc.Parse(reply.body.c_str(), reply.body.size());
  const bool parsed = !doc.HasParseError() && doc.IsObject();
  if (reply.status == 401) {
    return {kExitUnreachable,
            "the worker at " + where +
                " wants its bearer token: give it with --token-file FILE, or run this where the "
                "configuration's auth_token_file can be read"};
  }
  if (parsed && memberString(doc, "state") == "not_found") {
    return {kExitNotFound, "no job " + memberString(doc, "job_id") + " on this worker"};
  }
  if (parsed && doc.HasMember("error") && doc["error"].IsObject()) {
    const std::string code = memberString(doc["error"], "code");
    std::string message = code + ": " + memberString(doc["error"], "message");
    if (code == "UNIX_SOCKET_ONLY") {
      message += "; reach the worker on its unix socket (listen_unix, or --socket PATH)";
    }
    return {kExitFailed, message};
  }
  return {kExitFailed, "the worker at " + where + " answered " + std::to_string(reply.status) +
                           (reply.body.empty() ? "" : ": " + reply.body.substr(0, 200))};
}

Commands::Commands(HttpTransport& worker, std::ostream& out, std::ostream& err, bool json)
    : worker_(worker),
      out_(out),
      err_(err),
      json_(json),
      now_([] { return std::chrono::steady_clock::now(); }),
      sleep_([](std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); }) {}

std::optional<rapidjson::Document> Commands::call(std::string_view method, const std::string& path,
                                                  std::initializer_list<int> ok, int* exit_status) {
  const HttpReply reply = worker_.request(method, path);
  bool wanted = reply.error.empty();
  if (wanted) {
    wanted = false;
    for (int status : ok) wanted = wanted || reply.status == status;
  }
  if (!wanted) {
    const Failure failure = describeFailure(reply, worker_.where());
    err_ << "worker-agent ctl: " << failure.message << "\n";
    *exit_status = failure.exit_status;
    return std::nullopt;
  }
  rapidjson::Document doc;
  doc.Parse(reply.body.c_str(), reply.body.size());
  if (doc.HasParseError()) {
    err_ << "worker-agent ctl: the worker at " << worker_.where()
         << " answered something that is not JSON\n";
    *exit_status = kExitFailed;
    return std::nullopt;
  }
  if (json_) printJson(reply.body);
  *exit_status = kExitOk;
  return doc;
}

void Commands::printJson(const std::string& body) { out_ << body << "\n"; }

int Commands::status() {
  const HttpReply health_reply = worker_.request("GET", "/health");
  rapidjson::Document health;
  if (!health_reply.error.empty() || health_reply.status != 200 ||
      health.Parse(health_reply.body.c_str(), health_reply.body.size()).HasParseError()) {
    const Failure failure = describeFailure(health_reply, worker_.where());
    err_ << "worker-agent ctl: " << failure.message << "\n";
    return failure.exit_status;
  }
  // /info may need the token where /health does not: status says what it can without it.
  const HttpReply info_reply = worker_.request("GET", "/info");
  rapidjson::Document info;
  const bool have_info =
      info_reply.status == 200 &&
      !info.Parse(info_reply.body.c_str(), info_reply.body.size()).HasParseError();
  if (json_) {
    out_ << "{\"health\":" << health_reply.body
         << ",\"info\":" << (have_info ? info_reply.body : "null") << "}\n";
  } else {
    out_ << formatStatus(health, have_info ? &info : nullptr);
  }
  return kExitOk;
}

int Commands::jobs(const std::string& state, int limit) {
  std::string path = "/jobs?limit=" + std::to_string(limit);
  if (!state.empty()) path += "&state=" + state;
  int exit_status = kExitOk;
  auto list = call("GET", path, {200}, &exit_status);
  if (list && !json_) out_ << formatJobs(*list);
  return exit_status;
}

int Commands::cancel(const std::string& job_id) {
  int exit_status = kExitOk;
  auto answer = call("DELETE", "/jobs/" + percentEncode(job_id), {200, 202}, &exit_status);
  if (answer && !json_) {
    out_ << job_id << ": " << memberString(*answer, "note") << " (state "
         << memberString(*answer, "state") << ")\n";
  }
  return exit_status;
}

int Commands::cancelAll() {
  int exit_status = kExitOk;
  auto answer = call("POST", "/operator/cancel-all", {200}, &exit_status);
  if (answer && !json_) {
    out_ << "cancelled " << memberInt(*answer, "cancelled") << " queued job(s); asked "
         << memberInt(*answer, "cancel_requested")
         << " running job(s) to stop (each ends failed, CANCELLED)\n";
  }
  return exit_status;
}

int Commands::drain(bool wait, std::chrono::seconds wait_timeout) {
  int exit_status = kExitOk;
  auto answer = call("POST", "/operator/drain", {200}, &exit_status);
  if (!answer) return exit_status;
  if (!json_) {
    out_ << "draining: new jobs are refused (503 DRAINING); " << jobCounts(*answer)
         << " job(s) will finish\n";
  }
  if (!wait) return kExitOk;
  const auto deadline = now_() + wait_timeout;
  std::string last;
  while (true) {
    const HttpReply reply = worker_.request("GET", "/health");
    rapidjson::Document health;
    if (!reply.error.empty() || reply.status != 200 ||
        health.Parse(reply.body.c_str(), reply.body.size()).HasParseError()) {
      err_ << "worker-agent ctl: " << describeFailure(reply, worker_.where()).message << "\n";
      return kExitUnreachable;
    }
    const int64_t left = memberInt(health, "running_jobs") + memberInt(health, "queued_jobs");
    if (left == 0) {
      err_ << "drained: no job is left\n";
      return kExitOk;
    }
    const std::string now = jobCounts(health);
    if (now != last) {
      err_ << "waiting: " << now << "\n";
      last = now;
    }
    if (wait_timeout.count() > 0 && now_() >= deadline) {
      err_ << "worker-agent ctl: still " << now << " after " << wait_timeout.count()
           << " s; the worker goes on draining\n";
      return kExitFailed;
    }
    sleep_(kDrainPoll);
  }
}

int Commands::resume() {
  int exit_status = kExitOk;
  auto answer = call("POST", "/operator/resume", {200}, &exit_status);
  if (answer && !json_) {
    const bool accepting = answer->HasMember("accepting_jobs") &&
                           (*answer)["accepting_jobs"].IsBool() &&
                           (*answer)["accepting_jobs"].GetBool();
    out_ << (accepting ? "taking new jobs again\n"
                       : "drain ended, but the worker takes no jobs yet (see `worker-agent ctl "
                         "status`)\n");
  }
  return exit_status;
}

int Commands::reload(bool* answered) {
  const HttpReply reply = worker_.request("POST", "/operator/reload");
  // No answer, a worker that has no such route, or one reached on TCP because it has no
  // unix socket (403 UNIX_SOCKET_ONLY): the caller may signal it instead.
  *answered = reply.error.empty() && reply.status != 404 && reply.status != 403;
  if (!*answered) return kExitUnreachable;
  if (reply.status != 200) {
    err_ << "worker-agent ctl: " << describeFailure(reply, worker_.where()).message << "\n";
    return reply.status == 401 ? kExitUnreachable : kExitFailed;
  }
  rapidjson::Document answer;
  if (answer.Parse(reply.body.c_str(), reply.body.size()).HasParseError()) {
    err_ << "worker-agent ctl: the worker answered something that is not JSON\n";
    return kExitFailed;
  }
  if (json_) {
    printJson(reply.body);
    return kExitOk;
  }
  const std::string applied = joined(answer, "applied");
  const std::string restart = joined(answer, "restart_needed");
  out_ << "configuration reloaded; "
       << (applied.empty() ? "no key changed" : "applied: " + applied);
  if (!restart.empty()) out_ << "; kept until a restart: " << restart;
  out_ << "\n";
  return kExitOk;
}

}  // namespace wa::ctl
