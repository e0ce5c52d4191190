// What a job's output stream missed, recovered from the container's log: after Podman's
// attach error, and for a container adopted after a restart (its log replayed).
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

#include <cstdint>
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

// Joins the replay of one stream's whole log (the attach with logs=1 that follows a
// container adopted after a restart) to what was held of that stream before: the replay's
// first bytes are those already held, checked where they were kept and dropped; what
// comes after them is new.
class ReplayJoin {
 public:
  // held: the stream as the journal gave it back; it may grow (by what next() yields)
  // while the join lives, and must outlive it.
  explicit ReplayJoin(const CapturedOutput& held) : held_(held), held_total_(held.total_bytes) {}
  // The new part of the next replayed chunk (maybe empty); nullopt once the replay
  // disagrees with what was held (the log no longer starts where the stream did).
  std::optional<std::string_view> next(std::string_view chunk);

 private:
  const CapturedOutput& held_;
  const uint64_t held_total_;  // the stream's bytes before the restart
  uint64_t replayed_ = 0;
  bool diverged_ = false;
};

}  // namespace wa::jobs
