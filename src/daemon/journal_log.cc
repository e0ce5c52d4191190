#include "daemon/journal_log.h"

#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <vector>

#include "core/journal_stream.h"
#include "core/log.h"

namespace wa::daemon {
namespace {

std::string g_worker_id;

int priority(core::LogLevel level) {
  switch (level) {
    case core::LogLevel::kDebug:
      return 7;  // LOG_DEBUG
    case core::LogLevel::kInfo:
      return 6;  // LOG_INFO
    case core::LogLevel::kWarning:
      return 4;  // LOG_WARNING
    case core::LogLevel::kError:
      return 3;  // LOG_ERR
  }
  return 6;
}

void journalSink(core::LogLevel level, std::string_view message, const core::LogFields& fields) {
  // The MESSAGE keeps the key=value text, so `journalctl` without -o verbose shows it all.
  const std::string line = core::Log::formatLine(level, message, fields);
  std::vector<std::string> entries;
  entries.reserve(fields.size() + 4);
  entries.push_back("MESSAGE=" + line.substr(line.find(' ') + 1));
  entries.push_back("PRIORITY=" + std::to_string(priority(level)));
  entries.push_back("SYSLOG_IDENTIFIER=worker-agent");
  if (!g_worker_id.empty()) entries.push_back("WORKER_ID=" + g_worker_id);
  for (const auto& [key, value] : fields)
    entries.push_back(core::journalFieldName(key) + "=" + value);
  std::vector<iovec> iov;
  iov.reserve(entries.size());
  for (std::string& e : entries) iov.push_back(iovec{e.data(), e.size()});
  if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0) {
    // No journal socket (or it is full): the event still goes somewhere people look.
    const std::string out = line + "\n";
    std::fwrite(out.data(), 1, out.size(), stderr);
  }
}

}  // namespace

void useJournal(std::string worker_id) {
  g_worker_id = std::move(worker_id);
  core::Log::setSink(&journalSink);
}

}  // namespace wa::daemon
