#include "ctl/ctl_main.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "config/config_loader.h"
#include "ctl/checks.h"
#include "ctl/commands.h"
#include "ctl/ctl_options.h"
#include "ctl/host_probe.h"
#include "ctl/views.h"
#include "ctl/worker_endpoint.h"
#include "docker/api_version.h"

namespace wa::ctl {
namespace {

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

bool fileExists(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0;
}

// The token in file, without a trailing newline; false (why in *error) when unreadable.
bool readToken(const std::string& path, std::string* token, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read --token-file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *token = text.str();
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
  return true;
}

bool answersAsWorker(const HttpReply& reply) {
  // 401: /health is closed to this token, but what answered is a worker with a token.
  return reply.error.empty() && (reply.status == 200 || reply.status == 401);
}

std::string replyError(const HttpReply& reply) {
  if (!reply.error.empty()) return reply.error;
  return "answered " + std::to_string(reply.status);
}

void printChecksJson(const std::vector<CheckItem>& items) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  bool ok = true;
  w.Key("checks");
  w.StartArray();
  for (const CheckItem& item : items) {
    ok = ok && item.level != CheckLevel::kFail;
    const std::string_view level = levelName(item.level);
    w.StartObject();
    w.Key("name");
    w.String(item.name.c_str(), static_cast<rapidjson::SizeType>(item.name.size()));
    w.Key("result");
    const std::string result = item.level == CheckLevel::kFail ? "fail" : std::string(level);
    w.String(result.c_str(), static_cast<rapidjson::SizeType>(result.size()));
    w.Key("detail");
    w.String(item.detail.c_str(), static_cast<rapidjson::SizeType>(item.detail.size()));
    w.Key("fix");
    if (item.fix.empty()) {
      w.Null();
    } else {
      w.String(item.fix.c_str(), static_cast<rapidjson::SizeType>(item.fix.size()));
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("ok");
  w.Bool(ok);
  w.EndObject();
  std::cout << buffer.GetString() << "\n";
}

int runCheck(const CtlOptions& options, const std::string& config_path,
             const config::LoadResult& loaded, const std::string& token) {
  std::vector<CheckItem> items;
  items.push_back(checkConfiguration(config_path, loaded.config ? "" : loaded.error.format()));
  // Without a valid configuration the rest is checked against the defaults.
  config::Config config = loaded.config.value_or(config::Config{});

  if (config.docker_host.starts_with("unix://")) {
    items.push_back(checkEngineSocket(probeSocket(config.docker_host.substr(7)),
                                      probeServiceUser(options.user)));
  } else {
    items.push_back(checkTcpEngine(config.docker_host));
  }
  const EngineFacts engine = probeEngine(config.docker_host, options.timeout);
  items.push_back(checkEngine(engine, docker::ApiVersion::parse(config.docker_api_version)));
  if (auto limits = checkEngineLimits(engine)) items.push_back(std::move(*limits));

  const Endpoint tcp = options.url.empty() ? tcpEndpoint(config) : Endpoint{"", options.url};
  CurlTransport tcp_worker(tcp, token, options.timeout);
  const HttpReply tcp_health =
      config.port == 0 ? HttpReply{0, "", "port 0", 0} : tcp_worker.request("GET", "/health");
  ListenFacts listen;
  listen.answers = answersAsWorker(tcp_health);
  if (!listen.answers) {
    listen.answer_error = replyError(tcp_health);
    listen.bind_errno = probeBind(config.listen, config.port);
  }
  items.push_back(checkListen(config, listen));
  items.push_back(checkExposure(config));

  const std::string unix_path =
      !options.socket_path.empty() ? options.socket_path : config.listen_unix;
  HttpReply unix_health{0, "", "not set", 0};
  if (!unix_path.empty()) {
    CurlTransport unix_worker({unix_path, ""}, token, options.timeout);
    unix_health = unix_worker.request("GET", "/health");
  }
  if (!options.socket_path.empty()) config.listen_unix = options.socket_path;
  items.push_back(
      checkOperatorSocket(config, answersAsWorker(unix_health), replyError(unix_health)));

  // The worker's own view, from whichever of its addresses answered.
  for (const HttpReply* reply : {static_cast<const HttpReply*>(&unix_health), &tcp_health}) {
    if (reply->status != 200) continue;
    rapidjson::Document health;
    if (health.Parse(reply->body.c_str(), reply->body.size()).HasParseError()) continue;
    for (CheckItem& item : checkWorkerHealth(health)) items.push_back(std::move(item));
    break;
  }

  bool failed = false;
  for (const CheckItem& item : items) failed = failed || item.level == CheckLevel::kFail;
  if (options.json) {
    printChecksJson(items);
  } else {
    std::cout << formatChecks(items);
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace

int runCtl(const std::vector<std::string_view>& args) {
  const ParsedCommandLine parsed = parseCommandLine(args);
  if (parsed.help) {
    std::fputs(kCtlUsage, stdout);
    return kExitOk;
  }
  if (!parsed.options) {
    std::fprintf(stderr, "worker-agent ctl: %s\n\n%s", parsed.error.c_str(), kCtlUsage);
    return kExitUsage;
  }
  const CtlOptions& options = *parsed.options;

  // The worker's configuration, read as the worker reads it (the file, then WORKER_AGENT_*).
  std::string config_path;
  if (options.config_path) {
    config_path = *options.config_path;
  } else if (fileExists(kDefaultConfigPath)) {
    config_path = kDefaultConfigPath;
  }
  const auto env = config::ConfigLoader::processEnvironment();
  const config::LoadResult loaded =
      config_path.empty() ? config::ConfigLoader::loadDefaults(env, hostname())
                          : config::ConfigLoader::loadFile(config_path, env, hostname());

  std::string token;
  if (!options.token_file.empty()) {
    std::string error;
    if (!readToken(options.token_file, &token, &error)) {
      std::fprintf(stderr, "worker-agent ctl: %s\n", error.c_str());
      return kExitUsage;
    }
  } else if (loaded.config) {
    token = loaded.config->auth_token;
  }

  if (options.command == Command::kCheck) return runCheck(options, config_path, loaded, token);

  if (options.command == Command::kReload && !loaded.config) {
    // The worker would read the same file and environment and refuse them too.
    std::fprintf(stderr,
                 "worker-agent ctl: the configuration does not load, so nothing was reloaded: "
                 "%s\n",
                 loaded.error.format().c_str());
    return kExitFailed;
  }
  if (!loaded.config && options.socket_path.empty() && options.url.empty()) {
    std::fprintf(stderr,
                 "worker-agent ctl: cannot read the worker's configuration to find it: %s; "
                 "name the worker with --socket or --url\n",
                 loaded.error.format().c_str());
    return kExitUnreachable;
  }

  const Endpoint endpoint = workerEndpoint(options, loaded.config ? &*loaded.config : nullptr);
  CurlTransport worker(endpoint, token, options.timeout);
  Commands commands(worker, std::cout, std::cerr, options.json);
  switch (options.command) {
    case Command::kStatus:
      return commands.status();
    case Command::kJobs:
      return commands.jobs(options.state, options.limit);
    case Command::kCancel:
      return options.all ? commands.cancelAll() : commands.cancel(options.job_id);
    case Command::kDrain:
      return commands.drain(options.wait, options.wait_timeout);
    case Command::kResume:
      return commands.resume();
    case Command::kReload:
      break;
    case Command::kCheck:
      return kExitUsage;  // handled above
  }

  bool answered = false;
  const int status = commands.reload(&answered);
  if (answered) return status;
  if (options.pid <= 0) {
    std::fprintf(stderr,
                 "worker-agent ctl: the worker does not take POST /operator/reload at %s (that "
                 "needs its unix socket, listen_unix); give its process id with --pid to send "
                 "it SIGHUP instead\n",
                 worker.where().c_str());
    return kExitUnreachable;
  }
  // A worker without its operator socket: the configuration was checked above, as the
  // worker will read it; the signal applies it, and the worker's log says what changed.
  if (::kill(options.pid, SIGHUP) != 0) {
    std::fprintf(stderr, "worker-agent ctl: cannot signal process %d: %s\n", options.pid,
                 std::strerror(errno));
    return kExitFailed;
  }
  std::printf(
      "the configuration is valid; the worker does not answer at %s, so process %d was sent "
      "SIGHUP: its log says what it applied\n",
      worker.where().c_str(), options.pid);
  return kExitOk;
}

}  // namespace wa::ctl
