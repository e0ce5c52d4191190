#include "jobs/docker_job_runner.h"

#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "core/log.h"
#include "docker/engine_json.h"
#include "docker/tar_archive.h"
#include "jobs/output_recovery.h"

namespace wa::jobs {

using docker::DockerError;
using docker::Result;
using docker::StreamKind;
using docker::Unit;

namespace {
// Leads the message of a job whose engine stopped (or crashed) under it.
constexpr std::string_view kEngineLost = "the Docker engine went away while the job ran; ";
constexpr int kNotFound = 404;
// How long after an inspect without OOMKilled a likely OOM kill is asked about again.
constexpr core::Millis kOomRecheckDelay{250};
}  // namespace

// One job's trip through the engine. It owns the attach stream and the runtime timer;
// the runner owns it and frees it after completion, outside its own callbacks.
class DockerJobRunner::Run : public std::enable_shared_from_this<Run> {
 public:
  Run(DockerJobRunner& owner, Job& job, Completion done)
      : owner_(owner), job_(job), done_(std::move(done)), options_(owner.options_) {}

  void begin() {
    recordSettings();
    supply();
  }

  void cancel() {
    if (cancelled_ || ending_) return;
    cancelled_ = true;
    core::Log::write(core::LogLevel::kInfo, "job cancel requested", fields());
    if (!supplied_) {
      // Waiting for its image: nothing of the job exists in the engine yet. Completions
      // never run inside the call that caused them, so this one waits for the loop.
      ending_ = true;
      owner_.loop_.post([weak = weak_from_this()] {
        if (auto self = weak.lock()) self->complete();
      });
      return;
    }
    // Before the container exists onCreated() sees the flag; once it runs, kill it.
    if (started_) killContainer();
  }

 private:
  void supply() {
    // The pull or build may outlive this run (a cancel), and serves other jobs too.
    owner_.images_.supply(job_.spec, [weak = weak_from_this()](std::optional<SuppliedImage> image,
                                                               std::optional<JobError> error) {
      if (auto self = weak.lock()) self->onImage(std::move(image), std::move(error));
    });
  }

  bool usesVolume() const { return !job_.spec.files.empty() || !job_.spec.outputs.empty(); }

  void recordSettings() {
    const IsolationOptions& iso = options_.isolation;
    RunSettings& settings = job_.run_settings;
    settings.network = job_.spec.network ? "bridge" : "none";
    settings.pids_limit = iso.pids_limit;
    settings.read_only_rootfs = iso.read_only_rootfs;
    settings.user = iso.user;
    settings.container_runtime = iso.container_runtime;
    settings.workspace = iso.workspace_path;
  }

  // The owner of the workspace and of the files put there: the job's user, or root.
  std::pair<uint32_t, uint32_t> workspaceOwner() const {
    unsigned uid = 0;
    unsigned gid = 0;
    if (std::sscanf(options_.isolation.user.c_str(), "%u:%u", &uid, &gid) != 2) return {0, 0};
    return {uid, gid};
  }

  docker::ContainerSpec containerSpec() const {
    const IsolationOptions& iso = options_.isolation;
    docker::ContainerSpec spec;
    spec.image = engine_image_;
    spec.cmd = job_.spec.cmd;
    for (const auto& [key, value] : job_.spec.env) {
      std::string entry = key;
      entry += '=';
      entry += value;
      spec.env.push_back(std::move(entry));
    }
    // Set last, so that they win over a runtime.env entry of the same name.
    spec.env.push_back("JOB_ID=" + job_.spec.job_id);
    spec.env.push_back("TASK_TYPE=" + job_.spec.task_type);
    spec.labels[kWorkerLabel] = options_.worker_id;
    spec.labels[kJobLabel] = job_.spec.job_id;
    spec.memory_bytes = job_.spec.limits.memory_mb * 1024 * 1024;
    spec.nano_cpus = job_.spec.limits.nano_cpus;
    spec.network_mode = job_.run_settings.network;
    spec.open_stdin = true;
    spec.pids_limit = iso.pids_limit;
    spec.cap_drop_all = true;
    spec.no_new_privileges = true;
    spec.read_only_rootfs = iso.read_only_rootfs;
    spec.user = iso.user;
    spec.working_dir = iso.workspace_path;
    spec.runtime = iso.container_runtime;
    if (options_.podman) {
      // Kept so that output the attach stream loses can be taken from the log
      // (recoverFromLog). Bounded: conmon starts the file afresh past max-size.
      spec.log_driver = "k8s-file";
      spec.log_max_size = std::to_string(podmanLogMaxBytes(options_.output_limit_bytes));
    } else {
      spec.log_driver = "none";
    }
    // exec: jobs compile and run programs in both places; nosuid and nodev stay.
    // A tmpfs takes the mode of the directory it covers (mode= is not applied), so the
    // job's user owns its writable places.
    const auto [uid, gid] = workspaceOwner();
    const std::string owner = options_.podman
                                  ? std::string(",U")
                                  : ",uid=" + std::to_string(uid) + ",gid=" + std::to_string(gid);
    spec.tmpfs["/tmp"] =
        "rw,nosuid,nodev,exec,size=" + std::to_string(iso.tmp_size_mb) + "m" + owner;
    if (usesVolume()) {
      // Files must be in place before start and outputs read after exit, which a tmpfs
      // (mounted at start, gone at stop) cannot do; an anonymous volume can, and goes
      // with the container.
      spec.anonymous_volumes.push_back(iso.workspace_path);
    } else {
      spec.tmpfs[iso.workspace_path] =
          "rw,nosuid,nodev,exec,size=" + std::to_string(iso.workspace_size_mb) + "m" + owner;
    }
    return spec;
  }

  void onImage(std::optional<SuppliedImage> image, std::optional<JobError> error) {
    if (ending_) return;
    supplied_ = true;
    if (!image) {
      error_ = std::move(error);
      ending_ = true;
      complete();
      return;
    }
    engine_image_ = image->reference;
    image_id_ = image->image_id;
    // The record names the image as the master did; a built image by its tag.
    job_.image_ref = job_.spec.build ? image->reference : job_.spec.image;
    job_.image_pulled = image->pulled;
    job_.image_built = image->built;
    create_sent_ = owner_.loop_.clock().now();
    owner_.docker_.createContainer(containerSpec(), "",
                                   [this](const Result<std::string>& r) { onCreated(r); });
  }

  void onCreated(const Result<std::string>& r) {
    if (!r.ok() && r.error().http_status == kNotFound && !image_id_.empty() && !create_retried_ &&
        !cancelled_) {
      // The image the supplier found (now, or remembered from an earlier inspect) is gone:
      // the supplier asks the engine again (inspect, then pull or refuse as the pull policy
      // says), and create is tried once more.
      core::LogFields f = fields();
      f.emplace_back("image_id", image_id_);
      core::Log::write(core::LogLevel::kInfo, "image gone, supplying it again", f);
      create_retried_ = true;
      owner_.images_.forgetImage(image_id_);
      supplied_ = false;
      supply();
      return;
    }
    if (!r.ok()) {
      failWith("DOCKER_ERROR", "creating the container failed: " + describe(r.error()));
      // Nothing took the request, so no container exists: the job may run once the engine
      // is back. A connection that broke may have made one, so that job ends as before.
      if (error_ && r.error().connect_failed) error_->engine_unreached = true;
      ending_ = true;
      complete();
      return;
    }
    container_id_ = r.value();
    job_.container_id = container_id_;
    core::Log::write(core::LogLevel::kDebug, "container created", fields());
    if (cancelled_) {
      finalize();
      return;
    }
    if (!usesVolume()) {
      attach();
      return;
    }
    // The workspace root first: it makes the volume the job user's own.
    const auto [uid, gid] = workspaceOwner();
    docker::TarWriter tar;
    tar.addExtractionRoot(0755, uid, gid);
    // Parent directories too, or the engine makes them root's and the job cannot write there.
    std::set<std::string_view> directories;
    for (const JobFile& file : job_.spec.files) {
      for (size_t slash = file.path.find('/'); slash != std::string::npos;
           slash = file.path.find('/', slash + 1)) {
        directories.insert(std::string_view(file.path).substr(0, slash));
      }
    }
    for (std::string_view directory : directories) tar.addDirectory(directory, 0755, uid, gid);
    for (const JobFile& file : job_.spec.files) {
      tar.addFile(file.path, file.content, file.mode, uid, gid);
    }
    owner_.docker_.putArchive(
        container_id_, options_.isolation.workspace_path, tar.finish(),
        [this](const Result<Unit>& put) {
          if (!put.ok()) {
            failWith("DOCKER_ERROR",
                     "placing runtime.files in the workspace failed: " + describe(put.error()));
            finalize();
            return;
          }
          if (cancelled_) {
            finalize();
            return;
          }
          attach();
        });
  }

  void attach() {
    docker::AttachStream::Callbacks callbacks;
    callbacks.on_attached = [this] { onAttached(); };
    callbacks.on_output = [this](StreamKind kind, std::string_view data) {
      if (options_.podman && kind == StreamKind::kStderr && docker::isPodmanAttachError(data)) {
        // Podman ended the stream here, dropping output still queued: the log has it.
        attach_failed_ = true;
        core::LogFields f = fields();
        f.emplace_back("message", data.substr(0, data.size() - 1));
        core::Log::write(core::LogLevel::kDebug, "dropped Podman's attach error from stderr", f);
        return;
      }
      capture(kind, data);
      // After the exit the grace is for a stream that stalls, not for one still draining:
      // a large output read by a slow or busy worker may take longer than the grace.
      if (grace_timer_ && grace_timer_->enabled()) {
        grace_timer_->enableAfter(owner_.options_.output_drain_grace);
      }
    };
    callbacks.on_closed = [this](const std::optional<DockerError>& error) {
      onStreamClosed(error);
    };
    attach_ = owner_.docker_.attach(container_id_, std::move(callbacks));
    // The engine buffers nothing for us: stdin goes out once attached, then is closed.
    attach_->writeStdinAndClose(job_.spec.job_json);
  }

  void capture(StreamKind kind, std::string_view data) {
    CapturedOutput& out = kind == StreamKind::kStderr ? job_.stderr_output : job_.stdout_output;
    const size_t kept = out.append(data, options_.output_limit_bytes);
    if (kept > 0 && owner_.on_output_) owner_.on_output_(job_, kind, data.substr(0, kept));
  }

  void onAttached() {
    if (cancelled_) {
      finalize();
      return;
    }
    owner_.docker_.start(container_id_, [this](const Result<Unit>& r) { onStarted(r); });
  }

  void onStarted(const Result<Unit>& r) {
    if (!r.ok()) {
      failWith("DOCKER_ERROR", "starting the container failed: " + describe(r.error()));
      finalize();
      return;
    }
    started_ = true;
    core::Log::write(core::LogLevel::kInfo, "container started", fields());
    if (owner_.on_container_started_) {
      owner_.on_container_started_(job_, std::chrono::duration_cast<std::chrono::microseconds>(
                                             owner_.loop_.clock().now() - create_sent_));
    }
    runtime_timer_ = owner_.loop_.createTimer([this] { onRuntimeExceeded(); });
    runtime_timer_->enableAfter(std::chrono::seconds(job_.spec.limits.max_runtime_seconds));
    if (cancelled_) killContainer();
    owner_.docker_.wait(container_id_, [this](const Result<int64_t>& r) { onWaited(r); });
  }

  void onRuntimeExceeded() {
    if (ending_) return;
    timed_out_ = true;
    core::LogFields f = fields();
    f.emplace_back("limit_seconds", std::to_string(job_.spec.limits.max_runtime_seconds));
    core::Log::write(core::LogLevel::kInfo, "job timed out", f);
    killContainer();
  }

  void killContainer() {
    // The answer may come after this Run is gone: the callback holds copies, not this.
    owner_.docker_.kill(container_id_, [job_id = job_.spec.job_id](const Result<Unit>& r) {
      if (!r.ok()) {
        core::logWarning("killing container failed job_id=", job_id,
                         " error=", describe(r.error()));
      }
    });
    // If the engine never reports the container stopped, the slot must not be held for
    // ever: give up waiting and go on to inspect and (force) remove.
    if (!kill_deadline_) {
      kill_deadline_ = owner_.loop_.createTimer([this] {
        failWith("DOCKER_ERROR", "the engine did not stop the container after it was killed");
        finalize();
      });
      kill_deadline_->enableAfter(owner_.options_.kill_grace);
    }
  }

  void onWaited(const Result<int64_t>& r) {
    waited_ = true;
    if (runtime_timer_) runtime_timer_->disable();
    if (!r.ok()) {
      // A 200 carrying an error is the engine's own account of the wait, already worded.
      failWith("DOCKER_ERROR", r.error().http_status == 200
                                   ? r.error().message
                                   : "waiting for the container failed: " + describe(r.error()));
      finalize();
      return;
    }
    exit_code_ = r.value();
    if (stream_closed_) {
      finalize();
    } else {
      // The process is gone; its last output may still be in flight on the stream. Each
      // chunk that arrives re-arms the grace (on_output), so only a stalled stream ends it.
      grace_timer_ = owner_.loop_.createTimer([this] { onDrainGraceOver(); });
      grace_timer_->enableAfter(owner_.options_.output_drain_grace);
    }
  }

  void onDrainGraceOver() {
    // The grace is measured on the worker's clock: after a long turn of the loop (a large
    // record rendered on a slow machine) it can be due with the rest of the output waiting
    // unread. Only a stream with nothing to read has stalled.
    if (attach_ && attach_->hasUnreadOutput()) {
      grace_timer_->enableAfter(owner_.options_.output_drain_grace);
      return;
    }
    finalize();
  }

  void onStreamClosed(const std::optional<DockerError>& error) {
    stream_closed_ = true;
    if (error) {
      core::LogFields f = fields();
      f.emplace_back("error", describe(*error));
      core::Log::write(core::LogLevel::kWarning, "output stream failed", f);
      // Before start, a failed attach means the job cannot get its stdin: give up.
      if (!started_ && !ending_) {
        failWith("DOCKER_ERROR", "attaching to the container failed: " + describe(*error));
        finalize();
        return;
      }
    }
    if (waited_) finalize();
  }

  // Collects the final state and removes the container. Runs once.
  void finalize() {
    if (ending_) return;
    ending_ = true;
    if (runtime_timer_) runtime_timer_->disable();
    if (grace_timer_) grace_timer_->disable();
    if (kill_deadline_) kill_deadline_->disable();
    // finalize() may run inside an attach callback: free the stream after this batch.
    if (attach_) owner_.loop_.deferredDelete(std::move(attach_));
    if (container_id_.empty()) {
      complete();
      return;
    }
    if (attach_failed_ && waited_) {
      owner_.docker_.containerLogs(container_id_, [this](const Result<std::string>& r) {
        recoverFromLog(r);
        inspectAndCollect();
      });
      return;
    }
    inspectAndCollect();
  }

  // After Podman's attach error: appends to each stream what its log has beyond what the
  // stream delivered (nothing twice: missedByAttach), or leaves the stream as it is.
  void recoverFromLog(const Result<std::string>& r) {
    core::LogFields f = fields();
    std::optional<LoggedOutput> logged;
    if (!r.ok()) {
      f.emplace_back("error", describe(r.error()));
    } else if (logged = splitLoggedOutput(r.value()); !logged) {
      f.emplace_back("error", "malformed log");
    }
    if (!logged) {
      core::Log::write(core::LogLevel::kWarning,
                       "reading the job's log after Podman's attach error failed", f);
      return;
    }
    size_t recovered = 0;
    for (const auto& [kind, out, log] :
         {std::tuple{StreamKind::kStdout, &job_.stdout_output, &logged->stdout_data},
          std::tuple{StreamKind::kStderr, &job_.stderr_output, &logged->stderr_data}}) {
      const char* name = kind == StreamKind::kStdout ? "stdout_bytes" : "stderr_bytes";
      const std::optional<std::string_view> missed = missedByAttach(*out, *log);
      if (!missed) {
        f.emplace_back(name, "log does not continue the stream (" + std::to_string(log->size()) +
                                 " logged, " + std::to_string(out->total_bytes) + " received)");
        continue;
      }
      f.emplace_back(name, std::to_string(missed->size()));
      recovered += missed->size();
      if (!missed->empty()) capture(kind, *missed);
    }
    // Most resets come after the stream had everything: worth a line only when it had not.
    core::Log::write(recovered > 0 ? core::LogLevel::kInfo : core::LogLevel::kDebug,
                     "output lost by Podman's attach taken from the log", f);
  }

  void inspectAndCollect() {
    // Inspect tells State.OOMKilled (also for a job that exits 0: an OOM kill may have hit
    // another of its processes) and the id of the image that ran. After an exit 0 nobody
    // forced, it goes on the kept-alive connection; after anything else on a new one,
    // whose refusal shows an engine that went away under the job.
    const bool fresh_connection = !exitedUnforced();
    owner_.docker_.inspect(
        container_id_, fresh_connection, [this](const Result<docker::ContainerState>& r) {
          if (r.ok() && oomMayBeUnreported(r.value())) {
            // Docker records an OOM kill from an event of its own that can come after the
            // container's exit: asked once more, a moment later.
            oom_rechecked_ = true;
            oom_recheck_timer_ = owner_.loop_.createTimer([this] { inspectAndCollect(); });
            oom_recheck_timer_->enableAfter(kOomRecheckDelay);
            return;
          }
          if (r.ok()) {
            oom_killed_ = r.value().oom_killed;
            if (!exit_code_ && !r.value().running) exit_code_ = r.value().exit_code;
            job_.image_id = r.value().image_id;
          } else if (started_ && r.error().connect_failed) {
            // Inspect comes on a new connection: nothing listening means the engine is going
            // or gone, and a stopping engine stops its containers, so whatever the wait said
            // (137 after its grace, or a cut connection), the engine ended this job.
            error_ = JobError{"DOCKER_ERROR", std::string(kEngineLost) +
                                                  (error_ ? error_->message
                                                          : "inspecting the container failed: " +
                                                                describe(r.error()))};
          } else if (!error_) {
            failWith("DOCKER_ERROR", "inspecting the container failed: " + describe(r.error()));
          }
          afterInspect();
        });
  }

  // A memory-limited container that ended by SIGKILL (137) nobody sent, on Docker, whose
  // inspect does not say OOM yet: the kernel's OOM killer is the likely sender.
  bool oomMayBeUnreported(const docker::ContainerState& state) const {
    return !state.oom_killed && !oom_rechecked_ && !options_.podman &&
           job_.spec.limits.memory_mb > 0 && !cancelled_ && !timed_out_ && !kill_deadline_ &&
           (exit_code_ ? exit_code_ : state.exit_code) == 137;
  }

  // The wait reported exit code 0 for a container nobody killed.
  bool exitedUnforced() const {
    return waited_ && exit_code_ == 0 && !error_ && !cancelled_ && !timed_out_ && !kill_deadline_;
  }

  void afterInspect() {
    if (started_ && !cancelled_ && !job_.spec.outputs.empty()) {
      collectOutput(0);
    } else {
      removeContainer();
    }
  }

  // Reads runtime.outputs[index] from the stopped container's workspace, then the next;
  // after the last, removes the container.
  void collectOutput(size_t index) {
    if (index == job_.spec.outputs.size()) {
      removeContainer();
      return;
    }
    const std::string& path = job_.spec.outputs[index];
    owner_.docker_.getArchive(
        container_id_, options_.isolation.workspace_path + "/" + path,
        [this, index, path](const Result<std::string>& r) {
          OutputFile file;
          file.path = path;
          std::vector<docker::TarEntry> entries;
          std::string tar_error;
          if (r.ok() &&
              docker::readTar(r.value(), options_.output_file_limit_bytes, &entries, &tar_error) &&
              !entries.empty() && entries.front().type == docker::TarEntry::Type::kFile) {
            file.found = true;
            file.size = entries.front().size;
            file.data = std::move(entries.front().content);
            file.truncated = file.size > file.data.size();
          } else if (!r.ok() && r.error().http_status != 404) {
            core::LogFields f = fields();
            f.emplace_back("path", path);
            f.emplace_back("error", describe(r.error()));
            core::Log::write(core::LogLevel::kWarning, "collecting an output failed", f);
          }
          job_.output_files.push_back(std::move(file));
          collectOutput(index + 1);
        });
  }

  void removeContainer() {
    owner_.docker_.remove(container_id_, [this](const Result<Unit>& removed) {
      if (!removed.ok()) {
        core::logWarning("removing container failed, will retry container_id=", container_id_,
                         " error=", describe(removed.error()));
        owner_.removeLater(container_id_);
      }
      complete();
    });
  }

  void complete() {
    JobOutcome outcome;
    outcome.oom_killed = oom_killed_;
    if (cancelled_) {
      outcome.error = JobError{"CANCELLED", "cancelled while running; the container was killed"};
    } else if (timed_out_) {
      outcome.error = JobError{"TIMEOUT", "the job exceeded max_runtime_seconds (" +
                                              std::to_string(job_.spec.limits.max_runtime_seconds) +
                                              " s) and its container was killed"};
    } else {
      outcome.exit_code = exit_code_;
      outcome.error = error_;
    }
    job_.container_id.clear();
    Completion done = std::move(done_);
    Job& job = job_;
    owner_.runEnded(this);  // frees this Run after the current batch
    done(job, std::move(outcome));
  }

  void failWith(std::string code, std::string message) {
    if (!error_) error_ = JobError{std::move(code), std::move(message)};
  }

  // job_id and, once created, container_id: the journal fields that tie a job's story together.
  core::LogFields fields() const {
    core::LogFields f = {{"job_id", job_.spec.job_id}};
    if (!container_id_.empty()) f.emplace_back("container_id", container_id_);
    return f;
  }

  static std::string describe(const DockerError& error) {
    if (error.http_status == 0) return error.message;
    return error.message + " (HTTP " + std::to_string(error.http_status) + ")";
  }

  DockerJobRunner& owner_;
  Job& job_;
  Completion done_;
  // Fixed when the run begins, so that a reload changes later jobs only.
  const RunnerOptions options_;
  std::string engine_image_;  // the reference the container is created from, fully spelled
  std::string image_id_;      // what the supplier's inspect found; "" when it did not inspect
  std::string container_id_;
  core::MonoTime create_sent_{};
  std::unique_ptr<docker::AttachStream> attach_;
  std::unique_ptr<core::Timer> runtime_timer_;
  std::unique_ptr<core::Timer> grace_timer_;
  std::unique_ptr<core::Timer> kill_deadline_;
  std::unique_ptr<core::Timer> oom_recheck_timer_;
  bool oom_rechecked_ = false;
  std::optional<int64_t> exit_code_;
  std::optional<JobError> error_;
  bool oom_killed_ = false;
  bool supplied_ = false;  // the image question is settled (available or failed)
  bool create_retried_ = false;
  bool started_ = false;
  bool waited_ = false;
  bool stream_closed_ = false;
  bool attach_failed_ = false;  // Podman ended the stream with its attach error (recoverFromLog)
  bool cancelled_ = false;
  bool timed_out_ = false;
  bool ending_ = false;
};

DockerJobRunner::DockerJobRunner(core::EventLoop& loop, docker::DockerClient& docker,
                                 ImageSupplier& images, RunnerOptions options)
    : loop_(loop), docker_(docker), images_(images), options_(std::move(options)) {
  removal_timer_ = loop_.createTimer([this] { retryRemovals(); });
}

DockerJobRunner::~DockerJobRunner() = default;

void DockerJobRunner::start(Job& job, Completion done) {
  auto run = std::make_shared<Run>(*this, job, std::move(done));
  Run* raw = run.get();
  runs_.emplace(&job, std::move(run));
  raw->begin();
}

void DockerJobRunner::cancel(Job& job) {
  auto it = runs_.find(&job);
  if (it != runs_.end()) it->second->cancel();
}

std::vector<std::string> DockerJobRunner::containerIds() const {
  std::vector<std::string> ids;
  for (const auto& [job, run] : runs_) {
    if (!job->container_id.empty()) ids.push_back(job->container_id);
  }
  return ids;
}

void DockerJobRunner::cancelAll() {
  for (auto& [job, run] : runs_) run->cancel();
}

void DockerJobRunner::runEnded(Run* run) {
  for (auto it = runs_.begin(); it != runs_.end(); ++it) {
    if (it->second.get() == run) {
      struct Ended final : core::Deletable {
        std::shared_ptr<Run> run;
      };
      auto ended = std::make_unique<Ended>();
      ended->run = std::move(it->second);
      loop_.deferredDelete(std::move(ended));
      runs_.erase(it);
      return;
    }
  }
}

void DockerJobRunner::removeLater(const std::string& container_id) {
  pending_removals_.insert(container_id);
  if (!removal_timer_->enabled()) removal_timer_->enableAfter(options_.removal_retry_interval);
}

void DockerJobRunner::retryRemovals() {
  for (const std::string& id : pending_removals_) {
    if (!removals_in_flight_.insert(id).second) continue;
    docker_.remove(id, [this, id](const Result<Unit>& r) {
      removals_in_flight_.erase(id);
      if (r.ok()) {
        pending_removals_.erase(id);
        core::logInfo("removed container left behind earlier container_id=", id);
      } else if (!removal_timer_->enabled()) {
        removal_timer_->enableAfter(options_.removal_retry_interval);
      }
    });
  }
}

}  // namespace wa::jobs
