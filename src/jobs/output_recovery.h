// What a job's attach stream missed, recovered from the container's log (Podman only).
//
// Podman 4.3 passes a container's output on from conmon's SOCK_SEQPACKET attach socket,
// and ends the whole attach session at the first error of that socket, writing its own
// error frame in place of what was still queued: "read: connection reset by peer" (conmon
// exited with bytes unread, such as the job's stdin, and the kernel reports that reset to
// a SEQPACKET reader before the records queued for it), or "write: broken pipe" (a busy
// Podman passed the stdin on only after conmon had gone). A job that exits at once can
// so lose all of its output. The container's log holds it: the worker takes from there
// what the stream did not deliver (docs/ENGINES.md).
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
