// ImageCollector: removes the images this worker pulled or built, least recently used
// first, while they take more than a disk budget or the engine's disk runs short of free
// space. It runs on a loop timer, never on a job's path.
//
// Which images are the worker's: those a job record says the job pulled or built (its
// image_pulled / image_built, with the image_id it ran); a worker-agent-build:<hash> tag
// alone does not make an image this worker's (another worker on the same engine builds
// under the same names). It learns them from the job store at each pass and remembers
// them while the engine has them, so retention dropping a record forgets nothing; after a
// restart, the records the journal kept teach them again. An image no record ties to a
// pull or build of the worker's is never touched, whoever else runs on the engine.
// When an image was last used is the latest start or end of a job that ran it.
//
// Never removed, checked again just before each removal: an image a queued or running job
// needs (its image_id, its image reference, the tag of its build), one being pulled, one
// whose digest allowed_images pins, one matching an image_gc_keep pattern. The engine
// itself refuses (409) to remove an image a container uses; that image is skipped.
//
// Removing an image of the classic builder removes its intermediate layers (the build's
// cache) with it, unless another image shares them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "core/request_handle.h"
#include "docker/docker_types.h"
#include "docker/image_reference.h"
#include "jobs/job_store.h"

namespace wa::jobs {

// The engine calls the collector makes; the daemon binds them to DockerClient, unit tests
// to a fake. Callbacks run later, on the loop, unless the handle is dropped first.
struct ImageCollectorEngine {
  std::function<core::RequestHandle(docker::Callback<std::vector<docker::ImageSummary>>)> list;
  std::function<core::RequestHandle(const std::string& id, docker::Callback<docker::Unit>)> remove;
};

struct ImageCollectorOptions {
  core::Millis interval{300'000};           // between passes; 0: no passes
  int64_t max_bytes = 0;                    // the worker's images may take this much; 0: no budget
  int64_t min_free_percent = 0;             // of the engine's disk kept free; 0: no floor
  std::vector<std::string> keep;            // image_gc_keep patterns (allowed_images syntax)
  std::vector<std::string> allowed_images;  // only their digest pins count
};

// What the collector reads from the rest of the worker, at each pass and removal.
struct ImageCollectorSources {
  // The engine's data directory: total and available MiB (nullopt when unknown).
  std::function<std::pair<std::optional<int64_t>, std::optional<int64_t>>()> engine_disk;
  // The references being pulled now.
  std::function<std::vector<std::string>()> pulling;
};

// What the collector did since start (for /metrics).
struct ImageCollectorCounts {
  uint64_t passes = 0;
  uint64_t removed = 0;
  uint64_t removed_bytes = 0;
  uint64_t errors = 0;  // a list or a removal the engine failed
  // At the last pass: the worker's images the engine has, and their size added up.
  uint64_t owned = 0;
  uint64_t owned_bytes = 0;
};

class ImageCollector {
 public:
  ImageCollector(core::EventLoop& loop, ImageCollectorEngine engine, const JobStore& store,
                 ImageCollectorSources sources, ImageCollectorOptions options);
  ImageCollector(const ImageCollector&) = delete;
  ImageCollector& operator=(const ImageCollector&) = delete;

  // Arms the timer: the first pass after one interval.
  void start();
  // A reload: new budget, floor and patterns; a changed interval re-arms the timer.
  void setOptions(ImageCollectorOptions options);
  // Runs a pass now unless one is under way (tests, and the timer).
  void collect();
  bool collecting() const { return pass_.has_value(); }
  const ImageCollectorCounts& counts() const { return counts_; }

 private:
  struct Known {
    bool owned = false;
    int64_t last_used_ms = 0;
  };
  struct Pass {
    // Spelt out: clang cannot use default member initializers of a nested class for
    // std::optional<Pass> inside the enclosing class's definition.
    Pass() : next(0), owned_bytes(0) {}
    std::map<std::string, docker::ImageSummary> present;  // by id
    std::vector<std::string> candidates;                  // oldest first
    size_t next;
    int64_t owned_bytes;
    std::optional<int64_t> total_mb;
    std::optional<int64_t> available_mb;
    // The tags of queued build jobs, by job sequence: hashing a context once per pass.
    std::map<uint64_t, std::string> build_tags;
  };

  void arm();
  void onListed(docker::Result<std::vector<docker::ImageSummary>> listed);
  // Learns owners and last uses from the job records.
  void learn();
  // The ids of the present images nothing may remove now.
  std::set<std::string> protectedIds();
  // Whether the pass must go on freeing space.
  bool overLimits() const;
  void removeNext();
  void endPass();

  core::EventLoop& loop_;
  ImageCollectorEngine engine_;
  const JobStore& store_;
  ImageCollectorSources sources_;
  ImageCollectorOptions options_;
  std::vector<docker::ImagePattern> keep_;  // parsed keep patterns
  std::vector<docker::ImagePattern> pins_;  // allowed_images digest pins
  std::map<std::string, Known> known_;      // by image id
  std::optional<Pass> pass_;
  core::RequestHandle request_;
  std::unique_ptr<core::Timer> timer_;
  bool started_ = false;  // start() was called: a reload may arm the timer
  ImageCollectorCounts counts_;
};

}  // namespace wa::jobs
