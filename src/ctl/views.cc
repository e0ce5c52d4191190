#include "ctl/views.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace wa::ctl {
namespace {

const rapidjson::Value* member(const rapidjson::Value* object, const char* name) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  const auto it = object->FindMember(name);
  return it == object->MemberEnd() ? nullptr : &it->value;
}

std::string text(const rapidjson::Value* object, const char* name, std::string fallback = "-") {
  const rapidjson::Value* v = member(object, name);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength())
                                       : std::move(fallback);
}

// An integer member as text, or fallback when missing or null.
std::string integer(const rapidjson::Value* object, const char* name, std::string fallback = "-") {
  const rapidjson::Value* v = member(object, name);
  return v != nullptr && v->IsInt64() ? std::to_string(v->GetInt64()) : std::move(fallback);
}

int64_t count(const rapidjson::Value* object, const char* name) {
  const rapidjson::Value* v = member(object, name);
  return v != nullptr && v->IsInt64() ? v->GetInt64() : 0;
}

bool flag(const rapidjson::Value* object, const char* name) {
  const rapidjson::Value* v = member(object, name);
  return v != nullptr && v->IsBool() && v->GetBool();
}

std::string decimal(double value, int places) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", places, value);
  return buffer;
}

std::string line(const std::string& label, const std::string& value) {
  std::string out = label;
  out.resize(std::max<size_t>(label.size() + 2, 16), ' ');
  return out + value + "\n";
}

}  // namespace

std::string memberString(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return "";
  const auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

int64_t memberInt(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return 0;
  const auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

std::string formatUptime(int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + " s";
  const int64_t minutes = seconds / 60;
  if (minutes < 60) return std::to_string(minutes) + " min";
  const int64_t hours = minutes / 60;
  char buffer[48];
  if (hours < 24) {
    std::snprintf(buffer, sizeof buffer, "%lld h %02lld min", static_cast<long long>(hours),
                  static_cast<long long>(minutes % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld d %lld h", static_cast<long long>(hours / 24),
                  static_cast<long long>(hours % 24));
  }
  return buffer;
}

std::string formatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string formatStatus(const rapidjson::Value& health, const rapidjson::Value* info) {
  const rapidjson::Value* h = &health;
  std::string out;
  std::string who = info != nullptr ? text(info, "worker_id") : "-";
  if (info != nullptr) who += " (worker-agent " + text(info, "version") + ")";
  out += line("worker", who + ", up " + formatUptime(count(h, "uptime_seconds")));

  const int64_t running = count(h, "running_jobs");
  const int64_t queued = count(h, "queued_jobs");
  std::string accepting;
  if (flag(h, "accepting_jobs")) {
    accepting = "yes";
  } else if (flag(h, "draining")) {
    accepting = "no: draining (" + std::to_string(running) + " running and " +
                std::to_string(queued) + " queued still to finish; `worker-agent ctl resume`)";
  } else {
    accepting = "no";
  }
  out += line("accepting jobs", accepting);
  const rapidjson::Value* jobs = member(h, "jobs");
  out += line("jobs", std::to_string(running) + " running, " + std::to_string(queued) +
                          " queued, " + integer(h, "max_concurrent_jobs") + " slots; since start " +
                          integer(jobs, "accepted_total", "0") + " accepted, " +
                          integer(jobs, "finished_total", "0") + " finished, " +
                          integer(jobs, "failed_total", "0") + " failed");
  std::string state = text(h, "status");
  if (const rapidjson::Value* reasons = member(h, "reasons"); reasons && reasons->IsArray()) {
    std::string joined;
    for (const auto& reason : reasons->GetArray()) {
      if (reason.IsString())
        joined += (joined.empty() ? "" : "; ") + std::string(reason.GetString());
    }
    if (!joined.empty()) state += ": " + joined;
  }
  out += line("health", state);

  const rapidjson::Value* docker = member(h, "docker");
  std::string engine = flag(docker, "reachable") ? "reachable" : "unreachable";
  if (const rapidjson::Value* version = member(info, "docker"); version && version->IsObject()) {
    engine += ", " + text(version, "server_version");
    const std::string spoken = text(version, "negotiated_api_version", "");
    const std::string min = text(version, "min_api_version", "");
    const std::string range =
        (min.empty() ? "up to " : min + " to ") + text(version, "api_version");
    engine += spoken.empty()
                  ? " (Engine API " + range + ", none spoken)"
                  : " (Engine API " + spoken + " spoken; the engine speaks " + range + ")";
  }
  if (const rapidjson::Value* ping = member(docker, "ping_ms"); ping && ping->IsNumber()) {
    engine += ", ping " + decimal(ping->GetDouble(), 2) + " ms";
  }
  if (const std::string error = text(docker, "error", ""); !error.empty()) engine += ": " + error;
  out += line("engine", engine);

  std::string host;
  if (const rapidjson::Value* load = member(h, "load_average"); load && load->IsArray()) {
    host = "load";
    for (const auto& v : load->GetArray()) {
      if (v.IsNumber()) host += " " + decimal(v.GetDouble(), 2);
    }
    host += ", ";
  }
  host += "memory " + integer(h, "memory_available_mb") + " of " + integer(h, "memory_total_mb") +
          " MiB available";
  out += line("host", host);
  out += line("disks",
              "jobs_path " + text(h, "jobs_path") + " " + integer(h, "jobs_disk_available_mb") +
                  " of " + integer(h, "jobs_disk_total_mb") + " MiB free; engine " +
                  text(h, "docker_root_dir") + " " + integer(h, "docker_disk_available_mb") +
                  " of " + integer(h, "docker_disk_total_mb") + " MiB free");
  return out;
}

std::string formatJobs(const rapidjson::Value& list) {
  std::vector<std::vector<std::string>> rows = {
      {"JOB ID", "STATE", "CREATED", "DURATION", "IMAGE", "RESULT"}};
  const rapidjson::Value* jobs = member(&list, "jobs");
  if (jobs != nullptr && jobs->IsArray()) {
    for (const auto& job : jobs->GetArray()) {
      const rapidjson::Value* j = &job;
      std::string duration = "-";
      if (const rapidjson::Value* ms = member(j, "duration_ms"); ms && ms->IsInt64()) {
        duration = decimal(static_cast<double>(ms->GetInt64()) / 1000.0, 1) + " s";
      }
      const std::string state = text(j, "state");
      std::string result;
      if (const rapidjson::Value* error = member(j, "error"); error && error->IsObject()) {
        result = text(error, "code");
      }
      if (const rapidjson::Value* exit = member(j, "exit_code"); exit && exit->IsInt64()) {
        result +=
            (result.empty() ? "" : ", ") + std::string("exit ") + std::to_string(exit->GetInt64());
      }
      rows.push_back({text(j, "job_id"), state, text(j, "created_at"), duration, text(j, "image"),
                      result.empty() ? "-" : result});
    }
  }
  std::string out = formatTable(rows);
  const size_t shown = rows.size() - 1;
  out += std::to_string(shown) + (shown == 1 ? " job\n" : " jobs\n");
  return out;
}

std::string formatChecks(const std::vector<CheckItem>& items) {
  std::vector<std::vector<std::string>> rows = {{"CHECK", "RESULT", "DETAIL"}};
  size_t failures = 0;
  size_t warnings = 0;
  for (const CheckItem& item : items) {
    rows.push_back({item.name, std::string(levelName(item.level)), item.detail});
    if (item.level != CheckLevel::kOk && !item.fix.empty()) {
      rows.push_back({"", "", "fix: " + item.fix});
    }
    failures += item.level == CheckLevel::kFail ? 1 : 0;
    warnings += item.level == CheckLevel::kWarn ? 1 : 0;
  }
  std::string out = formatTable(rows);
  if (failures > 0) {
    out += std::to_string(failures) + (failures == 1 ? " problem" : " problems") + " to fix";
  } else {
    out += "no problem found";
  }
  if (warnings > 0)
    out += ", " + std::to_string(warnings) + (warnings == 1 ? " warning" : " warnings");
  return out + "\n";
}

}  // namespace wa::ctl
