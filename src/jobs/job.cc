#include "jobs/job.h"

namespace wa::jobs {

const char* stateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kFinished:
      return "finished";
    case JobState::kFailed:
      return "failed";
  }
  return "unknown";
}

bool parseState(std::string_view text, JobState* out) {
  for (JobState s :
       {JobState::kQueued, JobState::kRunning, JobState::kFinished, JobState::kFailed}) {
    if (text == stateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace wa::jobs
