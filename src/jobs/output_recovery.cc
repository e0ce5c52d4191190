#include "jobs/output_recovery.h"

#include "docker/stream_demux.h"

namespace wa::jobs {

std::optional<LoggedOutput> splitLoggedOutput(std::string_view body) {
  LoggedOutput out;
  docker::StreamDemux demux([&out](docker::StreamKind kind, std::string_view data) {
    (kind == docker::StreamKind::kStderr ? out.stderr_data : out.stdout_data).append(data);
  });
  if (!demux.feed(body) || !demux.atFrameBoundary()) return std::nullopt;
  return out;
}

std::optional<std::string_view> missedByAttach(const CapturedOutput& attached,
                                               std::string_view logged) {
  if (logged.size() < attached.total_bytes) return std::nullopt;
  // The kept bytes are the first data.size() of the stream's total_bytes.
  if (logged.substr(0, attached.data.size()) != attached.data) return std::nullopt;
  return logged.substr(attached.total_bytes);
}

}  // namespace wa::jobs
