// JobCgroups: a cgroup of the worker's own above each job's container, so that what the
// job used can be read after it ended.
//
// The engine removes a container's own cgroup as soon as its last process exits, before
// the wait for it answers: its counters go with it. Created with CgroupParent set to a
// cgroup of this worker's, the container's cgroup is a child of it, and the kernel charges
// every child's CPU time, memory, tasks and I/O to its ancestors too; the parent keeps the
// totals and the high-water marks once the child is gone (cgroup v1 blkio only in its
// _recursive file). The worker reads the parent after the container stopped, then removes
// it (the engine creates it with the container, and never removes it).
//
// That needs the engine's cgroupfs driver (with the systemd driver a parent must be a
// systemd slice, which the worker cannot remove) and a worker allowed to create and remove
// cgroups (root, not confined by ProtectControlGroups=); probe() says whether it is.
// Every path is rooted at root ("/" on a real host, a fixture tree in tests).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "metrics/cgroup_reader.h"

namespace wa::metrics {

class JobCgroups {
 public:
  // base: the cgroup every job's gets its own under, such as "/worker-agent/<worker_id>"
  // (absolute, no ".."). Detects the hierarchy (reading only).
  JobCgroups(std::string root, std::string base);

  // Detects the hierarchy and tries to create base and a child of it and remove the
  // child, in the memory controller on v1 or the unified hierarchy on v2. false (and
  // *why) when the worker cannot.
  bool probe(std::string* why);
  // The last probe() succeeded: jobs may be given cgroups under base. Reading, removing
  // and listing work without it (what a previous run of the worker left).
  bool usable() const { return usable_; }
  CgroupVersion version() const { return version_; }
  const std::string& base() const { return base_; }

  // The cgroup path of a job, base/key; key is a plain name ([A-Za-z0-9_.-]).
  std::string pathFor(std::string_view key) const;
  // The totals and high-water marks at path (absolute, as pathFor gives), counting its
  // children, gone or not. found == false when it is not there.
  CgroupUsage read(const std::string& path) const;
  // Removes path from every hierarchy; true when it is in none any more. A cgroup that
  // still holds a child or a task stays (EBUSY): try again later.
  bool remove(const std::string& path) const;
  // The keys of the job cgroups under base.
  std::vector<std::string> keys() const;
  // Removes base, and its parent when nothing else is in it, from every hierarchy: what is
  // not empty (a job's cgroup kept for the next start) stays.
  void removeBase() const;

 private:
  // Where path is in each mounted hierarchy (on v1 one per controller mount).
  std::vector<std::string> placesOf(const std::string& path) const;

  std::string root_;
  std::string base_;
  std::string cgroup_fs_;  // root/sys/fs/cgroup
  CgroupVersion version_ = CgroupVersion::kNone;
  bool usable_ = false;
};

}  // namespace wa::metrics
