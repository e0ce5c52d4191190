// worker-agent: the worker side of the ProcessorCluster Worker protocol v1.
// main() reads the command line and the config, then hands over to Daemon; `worker-agent
// ctl ...`, the operator's command, is handed to src/ctl instead.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.h"
#include "core/log.h"
#include "ctl/ctl_main.h"
#include "daemon/daemon.h"
#include "version.h"

namespace {

constexpr const char* kUsage =
    "usage: worker-agent [--config FILE] [--check-config] [--version] [--help]\n"
    "       worker-agent ctl [OPTIONS] COMMAND   (the operator's command: ctl --help)\n"
    "\n"
    "  --config FILE    read settings from FILE (YAML); without it, defaults apply\n"
    "  --check-config   validate the configuration (file and environment), then exit\n"
    "  --version        print the version and exit\n"
    "  --help           print this help and exit\n"
    "\n"
    "Every setting can be overridden as WORKER_AGENT_<KEY>; see worker-agent(8).\n";

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "ctl") {
    return wa::ctl::runCtl(std::vector<std::string_view>(argv + 2, argv + argc));
  }
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("worker-agent %s\n", WORKER_AGENT_VERSION);
      return 0;
    }
    if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(std::strlen("--config="));
    } else {
      std::fprintf(stderr, "worker-agent: unknown or incomplete option '%s'\n\n%s", arg.c_str(),
                   kUsage);
      return 2;
    }
  }

  const auto env = wa::config::ConfigLoader::processEnvironment();
  const auto loaded = config_path.empty()
                          ? wa::config::ConfigLoader::loadDefaults(env, hostname())
                          : wa::config::ConfigLoader::loadFile(config_path, env, hostname());
  if (!loaded.config) {
    std::fprintf(stderr, "worker-agent: invalid configuration: %s\n",
                 loaded.error.format().c_str());
    return 1;
  }
  if (check_only) {
    std::printf("configuration OK%s%s\n", config_path.empty() ? "" : ": ", config_path.c_str());
    return 0;
  }
  wa::core::LogLevel level;
  if (wa::core::Log::parseLevel(loaded.config->log_level, &level)) wa::core::Log::setLevel(level);

  // SIGHUP loads the configuration again from the same places: the file, then the
  // environment (which a reload cannot change, but which must still win over the file).
  auto reload = [config_path, env] {
    return config_path.empty() ? wa::config::ConfigLoader::loadDefaults(env, hostname())
                               : wa::config::ConfigLoader::loadFile(config_path, env, hostname());
  };
  wa::daemon::Daemon daemon(*loaded.config, reload);
  return daemon.run();
}
