#include "metrics/job_cgroups.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <utility>

#include "metrics/proc_files.h"

namespace wa::metrics {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using Dir = std::unique_ptr<DIR, DirCloser>;

bool isDirectory(const std::string& path, bool follow_links = true) {
  struct stat st {};
  const int rc = follow_links ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  return rc == 0 && S_ISDIR(st.st_mode);
}

// The subdirectories of dir (not symbolic links to them), by name.
std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  Dir d(::opendir(dir.c_str()));
  if (!d) return names;
  while (const dirent* entry = ::readdir(d.get())) {
    const std::string name(entry->d_name);
    if (name == "." || name == "..") continue;
    std::string path = dir;
    path += '/';
    path += name;
    if (isDirectory(path, /*follow_links=*/false)) names.push_back(name);
  }
  return names;
}

// mkdir -p below existing, one level at a time; EEXIST is success.
bool makeDirectories(const std::string& existing, const std::string& relative, std::string* why) {
  std::string path = existing;
  size_t start = 0;
  while (start < relative.size()) {
    size_t slash = relative.find('/', start);
    if (slash == std::string::npos) slash = relative.size();
    if (slash > start) {
      path += "/" + relative.substr(start, slash - start);
      if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        *why = "mkdir " + path + ": " + std::strerror(errno);
        return false;
      }
    }
    start = slash + 1;
  }
  return true;
}

bool plainName(std::string_view key) {
  if (key.empty() || key == "." || key == "..") return false;
  for (char c : key) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    if (!plain) return false;
  }
  return true;
}

}  // namespace

JobCgroups::JobCgroups(std::string root, std::string base)
    : root_(std::move(root)),
      base_(std::move(base)),
      cgroup_fs_(rootedPath(root_, "/sys/fs/cgroup")),
      version_(detectCgroupVersion(root_)) {}

bool JobCgroups::probe(std::string* why) {
  usable_ = false;
  version_ = detectCgroupVersion(root_);
  if (version_ == CgroupVersion::kNone) {
    *why = "no cgroup hierarchy under " + cgroup_fs_;
    return false;
  }
  if (base_.empty() || base_.front() != '/' || base_.find("..") != std::string::npos) {
    *why = "the cgroup path \"" + base_ + "\" is not absolute";
    return false;
  }
  // Docker creates a container's parent in every hierarchy it joins; one is enough to
  // learn whether the worker may create and remove cgroups there.
  const std::string hierarchy =
      version_ == CgroupVersion::kV2 ? cgroup_fs_ : cgroup_fs_ + "/memory";
  if (!makeDirectories(hierarchy, base_.substr(1), why)) return false;
  const std::string probe = hierarchy + base_ + "/probe-" + std::to_string(::getpid());
  if (::mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) {
    *why = "mkdir " + probe + ": " + std::strerror(errno);
    return false;
  }
  if (::rmdir(probe.c_str()) != 0) {
    *why = "rmdir " + probe + ": " + std::strerror(errno);
    return false;
  }
  usable_ = true;
  return true;
}

std::string JobCgroups::pathFor(std::string_view key) const {
  return plainName(key) ? base_ + "/" + std::string(key) : std::string();
}

CgroupUsage JobCgroups::read(const std::string& path) const {
  if (path.empty() || path.front() != '/' || path.find("..") != std::string::npos) return {};
  if (version_ == CgroupVersion::kV2) return readCgroupV2(cgroup_fs_ + path);
  if (version_ == CgroupVersion::kV1) {
    const auto under = [&](const char* controller) { return cgroup_fs_ + "/" + controller + path; };
    // The memory, cpuacct and pids figures of a v1 parent count its children already.
    return readCgroupV1(
        {under("memory"), under("cpuacct"), under("pids"), under("blkio"), /*recursive_io=*/true});
  }
  return {};
}

std::vector<std::string> JobCgroups::placesOf(const std::string& path) const {
  if (version_ == CgroupVersion::kV2) return {cgroup_fs_ + path};
  // Every mount (cpu and cpuacct are links to "cpu,cpuacct"): the engine creates the
  // parent in each hierarchy it joins, the cgroup2 one of a hybrid host included.
  std::vector<std::string> places;
  for (const std::string& hierarchy : subdirectories(cgroup_fs_)) {
    std::string place = cgroup_fs_;
    place += '/';
    place += hierarchy;
    place += path;
    places.push_back(std::move(place));
  }
  return places;
}

bool JobCgroups::remove(const std::string& path) const {
  if (path.empty() || path.front() != '/' || path.find("..") != std::string::npos) return true;
  bool gone = true;
  for (const std::string& place : placesOf(path)) {
    if (::rmdir(place.c_str()) != 0 && errno != ENOENT) gone = false;
  }
  return gone;
}

void JobCgroups::removeBase() const {
  if (base_.empty() || base_.front() != '/' || base_.find("..") != std::string::npos) return;
  for (std::string path = base_; path.size() > 1; path = path.substr(0, path.rfind('/'))) {
    for (const std::string& place : placesOf(path)) ::rmdir(place.c_str());
  }
}

std::vector<std::string> JobCgroups::keys() const {
  // Every hierarchy's: a removal that failed half-way leaves the key in some only.
  std::set<std::string> keys;
  for (const std::string& place : placesOf(base_)) {
    for (std::string& key : subdirectories(place)) keys.insert(std::move(key));
  }
  return {keys.begin(), keys.end()};
}

}  // namespace wa::metrics
