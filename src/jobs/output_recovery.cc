#include "jobs/output_recovery.h"

#include <algorithm>

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

std::optional<std::string_view> ReplayJoin::next(std::string_view chunk) {
  if (diverged_) return std::nullopt;
  const uint64_t overlap =
      replayed_ < held_total_ ? std::min<uint64_t>(chunk.size(), held_total_ - replayed_) : 0;
  // Of the bytes held again, only those under the cap were kept and can be compared.
  const uint64_t kept = held_.data.size();
  if (replayed_ < kept) {
    const uint64_t n = std::min(overlap, kept - replayed_);
    if (chunk.substr(0, n) != std::string_view(held_.data).substr(replayed_, n)) {
      diverged_ = true;
      return std::nullopt;
    }
  }
  replayed_ += chunk.size();
  return chunk.substr(overlap);
}

}  // namespace wa::jobs
