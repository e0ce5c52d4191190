// What a job's attach stream missed, recovered from the container's log (Podman only).
//
// Podman 4.3 reads the container's output from conmon over a SOCK_SEQPACKET socket. When
// conmon exits with bytes of that socket unread (the job's stdin, sent before the
// container started), the kernel reports the reset to Podman before the output records
// still queued for it; Podman stops at the error and writes its "Error: read unixpacket
// ...: connection reset by peer" frame instead, so the end of the output (or all of it,
// for a job that exits at once) never reaches the worker. The container's log holds all
// of it: the worker takes from there what the stream did not deliver (docs/ENGINES.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "jobs/job.h"

namespace wa::jobs {

// One container's log split by stream.
struct LoggedOutput {
  std::string stdout_data;
  std::string stderr_data;
};

// Splits the body of GET /containers/{id}/logs (frames as on the attach stream).
// nullopt: a malformed frame header, or a frame cut short.
std::optional<LoggedOutput> splitLoggedOutput(std::string_view body);

// The bytes of `logged` (one stream's whole log) that come after what `attached` received
// of that stream, for appending to it. nullopt when the log does not continue what was
// received: shorter than the stream's total, or different in the bytes kept. Never
// yields a byte the stream delivered already.
std::optional<std::string_view> missedByAttach(const CapturedOutput& attached,
                                               std::string_view logged);

}  // namespace wa::jobs
