// The fixture host trees (tests/fixtures/metrics) that more than one reader test reads.
#pragma once

#include <string>

namespace wa::metrics::testing {

inline const std::string kX86 = WA_FIXTURES_DIR "/metrics/x86_host";
inline const std::string kArm = WA_FIXTURES_DIR "/metrics/arm_host";
inline const std::string kV2 = WA_FIXTURES_DIR "/metrics/cgroup_v2_host";
inline const std::string kV1 = WA_FIXTURES_DIR "/metrics/cgroup_v1_host";
// A host with no cgroup tree at all (the ARM fixture has none).
inline const std::string kNone = WA_FIXTURES_DIR "/metrics/arm_host";

}  // namespace wa::metrics::testing
