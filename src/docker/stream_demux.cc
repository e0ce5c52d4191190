#include "docker/stream_demux.h"

#include <algorithm>

namespace wa::docker {

bool StreamDemux::feed(std::string_view data) {
  if (failed_) return false;
  while (!data.empty()) {
    if (payload_left_ == 0 && header_have_ < sizeof header_) {
      const size_t take = std::min(sizeof header_ - header_have_, data.size());
      std::copy_n(data.data(), take, header_ + header_have_);
      header_have_ += take;
      data.remove_prefix(take);
      if (header_have_ < sizeof header_) return true;
      // Type 0 (stdin) is never sent by the engine; it is accepted as stdout, like the CLI.
      if (header_[0] > 2 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        failed_ = true;
        return false;
      }
      kind_ = header_[0] == 2 ? StreamKind::kStderr : StreamKind::kStdout;
      payload_left_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) |
                      (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
      // A zero-length frame carries nothing: the next byte starts a new header.
      if (payload_left_ == 0) header_have_ = 0;
      continue;
    }
    const size_t take = std::min<size_t>(payload_left_, data.size());
    payload_left_ -= static_cast<uint32_t>(take);
    if (payload_left_ == 0) header_have_ = 0;
    const std::string_view chunk = data.substr(0, take);
    data.remove_prefix(take);
    if (sink_) sink_(kind_, chunk);
  }
  return true;
}

bool StreamDemux::atFrameBoundary() const {
  return !failed_ && header_have_ == 0 && payload_left_ == 0;
}

}  // namespace wa::docker
