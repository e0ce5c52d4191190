// CtlOptions: the command line of `worker-agent ctl`, the operator's command, parsed
// without touching anything (a pure function, for the unit tests).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wa::ctl {

// The exit statuses of `worker-agent ctl` (worker-agent-ctl(8), EXIT STATUS).
enum ExitStatus : int {
  kExitOk = 0,
  kExitFailed = 1,       // the worker refused or the operation failed; check found a problem
  kExitUsage = 2,        // a bad command line
  kExitUnreachable = 3,  // the worker could not be reached, or refused the credentials
  kExitNotFound = 4,     // cancel: no such job
};

enum class Command { kStatus, kJobs, kCancel, kDrain, kResume, kReload, kCheck };

// Where the packaged service keeps its configuration; read when --config is not given
// and the file exists.
inline constexpr const char* kDefaultConfigPath = "/etc/worker-agent/worker-agent.yaml";

struct CtlOptions {
  Command command = Command::kStatus;
  std::optional<std::string> config_path;  // --config
  std::string socket_path;                 // --socket
  std::string url;                         // --url, "http://host:port"
  std::string token_file;                  // --token-file
  bool json = false;
  std::chrono::seconds timeout{10};
  // jobs
  std::string state;  // "" = every state
  int limit = 100;
  // cancel
  std::string job_id;
  bool all = false;
  // drain
  bool wait = false;
  std::chrono::seconds wait_timeout{0};  // 0 = no limit
  // reload: the daemon to send SIGHUP to when it has no operator socket ($MAINPID)
  int pid = 0;
  // check: the user the service runs as ("" = worker-agent when it exists, else the caller)
  std::string user;
};

struct ParsedCommandLine {
  std::optional<CtlOptions> options;  // set on success
  bool help = false;                  // -h/--help: print usage, exit 0
  std::string error;                  // why the command line is wrong
};

// args excludes the program name and the word "ctl".
ParsedCommandLine parseCommandLine(const std::vector<std::string_view>& args);

// The usage text printed for --help and after a command-line error.
extern const char* const kCtlUsage;

}  // namespace wa::ctl
