#include "ctl/ctl_options.h"

#include <charconv>
#include <cstdint>
#include <utility>

namespace wa::ctl {

const char* const kCtlUsage =
    "usage: worker-agent ctl [OPTIONS] COMMAND [ARGUMENTS]\n"
    "\n"
    "Commands:\n"
    "  status                the worker's state: jobs, slots, drain, engine, health\n"
    "  jobs [--state STATE] [--limit N]\n"
    "                        the jobs the worker holds, oldest first\n"
    "  cancel JOB_ID         cancel one job\n"
    "  cancel --all          cancel every queued and running job\n"
    "  drain [--wait [--wait-timeout SECONDS]]\n"
    "                        take no new jobs (POST /jobs answers 503 DRAINING) and let\n"
    "                        the queued and running ones finish; --wait returns when none\n"
    "                        is left\n"
    "  resume                take new jobs again\n"
    "  reload [--pid PID]    reload the configuration and say what changed; exits 1 when\n"
    "                        the worker rejects it (then nothing changed)\n"
    "  check                 check the configuration, the engine's socket, its permissions\n"
    "                        and API version, and the listen address; say what to fix\n"
    "\n"
    "Options:\n"
    "  --config FILE         the worker's configuration (default:\n"
    "                        /etc/worker-agent/worker-agent.yaml, if it exists)\n"
    "  --socket PATH         reach the worker on this unix socket (default: listen_unix)\n"
    "  --url URL             reach the worker at http://HOST:PORT instead\n"
    "  --token-file FILE     the bearer token (default: the configuration's token)\n"
    "  --json                print the worker's JSON instead of tables\n"
    "  --timeout SECONDS     give up on one request after SECONDS (default 10)\n"
    "  --user USER           check: the user the service runs as (default worker-agent)\n"
    "  -h, --help            print this help\n"
    "\n"
    "Exit status: 0 done; 1 refused, failed, or check found a problem; 2 usage;\n"
    "3 the worker could not be reached; 4 no such job. See worker-agent-ctl(8).\n";

namespace {

bool parseWhole(std::string_view text, int64_t min, int64_t max, int64_t* out) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

bool commandNamed(std::string_view word, Command* command) {
  static constexpr std::pair<std::string_view, Command> kCommands[] = {
      {"status", Command::kStatus}, {"jobs", Command::kJobs},     {"cancel", Command::kCancel},
      {"drain", Command::kDrain},   {"resume", Command::kResume}, {"reload", Command::kReload},
      {"check", Command::kCheck}};
  for (const auto& [name, value] : kCommands) {
    if (word == name) {
      *command = value;
      return true;
    }
  }
  return false;
}

}  // namespace

ParsedCommandLine parseCommandLine(const std::vector<std::string_view>& args) {
  ParsedCommandLine result;
  CtlOptions options;
  std::optional<Command> command;
  std::vector<std::string_view> operands;
  // Which command each command option belongs to, checked once the command is known.
  std::vector<std::pair<std::string_view, Command>> command_options;
  const auto fail = [&result](std::string why) {
    result.error = std::move(why);
    return result;
  };

  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view value;
    bool has_inline_value = false;
    if (arg.starts_with("--")) {
      if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    const auto takeValue = [&](std::string_view* out) {
      if (has_inline_value) {
        *out = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    const auto flag = [&](bool* out) {
      if (has_inline_value) return false;
      *out = true;
      return true;
    };
    std::string_view v;
    int64_t number = 0;
    if (arg == "-h" || arg == "--help") {
      result.help = true;
      return result;
    } else if (arg == "--config") {
      if (!takeValue(&v) || v.empty()) return fail("--config needs a file");
      options.config_path = std::string(v);
    } else if (arg == "--socket") {
      if (!takeValue(&v) || v.empty() || v.front() != '/')
        return fail("--socket needs an absolute path");
      options.socket_path = std::string(v);
    } else if (arg == "--url") {
      if (!takeValue(&v) || !v.starts_with("http://") || v.size() <= 7)
        return fail("--url needs http://HOST:PORT");
      while (v.ends_with('/')) v.remove_suffix(1);
      options.url = std::string(v);
    } else if (arg == "--token-file") {
      if (!takeValue(&v) || v.empty()) return fail("--token-file needs a file");
      options.token_file = std::string(v);
    } else if (arg == "--json") {
      if (!flag(&options.json)) return fail("--json takes no value");
    } else if (arg == "--timeout") {
      if (!takeValue(&v) || !parseWhole(v, 1, 3600, &number))
        return fail("--timeout needs a whole number of seconds from 1 to 3600");
      options.timeout = std::chrono::seconds(number);
    } else if (arg == "--user") {
      if (!takeValue(&v) || v.empty()) return fail("--user needs a user name");
      options.user = std::string(v);
      command_options.emplace_back("--user", Command::kCheck);
    } else if (arg == "--state") {
      if (!takeValue(&v) || (v != "queued" && v != "running" && v != "finished" && v != "failed"))
        return fail("--state must be queued, running, finished or failed");
      options.state = std::string(v);
      command_options.emplace_back("--state", Command::kJobs);
    } else if (arg == "--limit") {
      if (!takeValue(&v) || !parseWhole(v, 1, 10000, &number))
        return fail("--limit needs a whole number from 1 to 10000");
      options.limit = static_cast<int>(number);
      command_options.emplace_back("--limit", Command::kJobs);
    } else if (arg == "--all") {
      if (!flag(&options.all)) return fail("--all takes no value");
      command_options.emplace_back("--all", Command::kCancel);
    } else if (arg == "--wait") {
      if (!flag(&options.wait)) return fail("--wait takes no value");
      command_options.emplace_back("--wait", Command::kDrain);
    } else if (arg == "--wait-timeout") {
      if (!takeValue(&v) || !parseWhole(v, 1, int64_t{7} * 86400, &number))
        return fail("--wait-timeout needs a whole number of seconds from 1 to 604800");
      options.wait_timeout = std::chrono::seconds(number);
      command_options.emplace_back("--wait-timeout", Command::kDrain);
    } else if (arg == "--pid") {
      if (!takeValue(&v) || !parseWhole(v, 2, INT32_MAX, &number))
        return fail("--pid needs a process id");
      options.pid = static_cast<int>(number);
      command_options.emplace_back("--pid", Command::kReload);
    } else if (arg.starts_with("-") && arg.size() > 1) {
      return fail("unknown option " + std::string(arg));
    } else if (!command) {
      Command named{};
      if (!commandNamed(arg, &named)) return fail("unknown command \"" + std::string(arg) + "\"");
      command = named;
    } else {
      operands.push_back(arg);
    }
  }

  if (!command) return fail("no command given");
  options.command = *command;
  for (const auto& [name, owner] : command_options) {
    if (owner != options.command) {
      return fail(std::string(name) + " does not go with this command");
    }
  }
  if (options.command == Command::kCancel) {
    if (options.all == !operands.empty() || operands.size() > 1) {
      return fail("cancel takes one job id, or --all");
    }
    if (!operands.empty()) {
      if (operands.front().empty()) return fail("cancel needs a non-empty job id");
      options.job_id = std::string(operands.front());
    }
  } else if (!operands.empty()) {
    return fail("unexpected argument \"" + std::string(operands.front()) + "\"");
  }
  if (options.wait_timeout.count() > 0 && !options.wait) {
    return fail("--wait-timeout goes with --wait");
  }
  if (!options.socket_path.empty() && !options.url.empty()) {
    return fail("give --socket or --url, not both");
  }
  result.options = std::move(options);
  return result;
}

}  // namespace wa::ctl
