#include "jobs/docker_job_runner.h"

#include <optional>
#include <utility>

#include "core/log.h"

namespace wa::jobs {

using docker::DockerError;
using docker::Result;
using docker::StreamKind;
using docker::Unit;

// One job's trip through the engine. It owns the attach stream and the runtime timer;
// the runner owns it and frees it after completion, outside its own callbacks.
class DockerJobRunner::Run {
 public:
  Run(DockerJobRunner& owner, Job& job, Completion done)
      : owner_(owner),
        job_(job),
        done_(std::move(done)),
        output_limit_(owner.options_.output_limit_bytes) {}

  void begin() {
    docker::ContainerSpec spec;
    spec.image = job_.spec.image;
    spec.cmd = job_.spec.cmd;
    for (const auto& [key, value] : job_.spec.env) {
      std::string entry = key;
      entry += '=';
      entry += value;
      spec.env.push_back(std::move(entry));
    }
    spec.labels[kWorkerLabel] = owner_.options_.worker_id;
    spec.labels[kJobLabel] = job_.spec.job_id;
    spec.memory_bytes = job_.spec.limits.memory_mb * 1024 * 1024;
    spec.network_mode = "none";
    spec.open_stdin = true;
    create_sent_ = owner_.loop_.clock().now();
    owner_.docker_.createContainer(spec, "",
                                   [this](const Result<std::string>& r) { onCreated(r); });
  }

  void cancel() {
    if (cancelled_ || ending_) return;
    cancelled_ = true;
    core::Log::write(core::LogLevel::kInfo, "job cancel requested", fields());
    // Before the container exists onCreated() sees the flag; once it runs, kill it.
    if (started_) killContainer();
  }

 private:
  void onCreated(const Result<std::string>& r) {
    if (!r.ok()) {
      failWith("DOCKER_ERROR", "creating the container failed: " + describe(r.error()));
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
    docker::AttachStream::Callbacks callbacks;
    callbacks.on_attached = [this] { onAttached(); };
    callbacks.on_output = [this](StreamKind kind, std::string_view data) {
      CapturedOutput& out = kind == StreamKind::kStderr ? job_.stderr_output : job_.stdout_output;
      out.append(data, output_limit_);
    };
    callbacks.on_closed = [this](const std::optional<DockerError>& error) {
      onStreamClosed(error);
    };
    attach_ = owner_.docker_.attach(container_id_, std::move(callbacks));
    // The engine buffers nothing for us: stdin goes out once attached, then is closed.
    attach_->writeStdinAndClose(job_.spec.job_json);
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
      // The process is gone; its last output may still be in flight on the stream.
      grace_timer_ = owner_.loop_.createTimer([this] { finalize(); });
      grace_timer_->enableAfter(owner_.options_.output_drain_grace);
    }
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
    if (attach_)
      owner_.loop_.deferredDelete(std::shared_ptr<docker::AttachStream>(std::move(attach_)));
    if (container_id_.empty()) {
      complete();
      return;
    }
    owner_.docker_.inspect(container_id_, [this](const Result<docker::ContainerState>& r) {
      if (r.ok()) {
        oom_killed_ = r.value().oom_killed;
        if (!exit_code_ && !r.value().running) exit_code_ = r.value().exit_code;
        job_.image_id = r.value().image_id;
      } else if (!error_) {
        failWith("DOCKER_ERROR", "inspecting the container failed: " + describe(r.error()));
      }
      owner_.docker_.remove(container_id_, [this](const Result<Unit>& removed) {
        if (!removed.ok()) {
          core::logWarning("removing container failed, will retry container_id=", container_id_,
                           " error=", describe(removed.error()));
          owner_.removeLater(container_id_);
        }
        complete();
      });
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
  // Fixed when the run begins, so that a reload changes the cap of later jobs only.
  size_t output_limit_;
  std::string container_id_;
  core::MonoTime create_sent_{};
  std::unique_ptr<docker::AttachStream> attach_;
  std::unique_ptr<core::Timer> runtime_timer_;
  std::unique_ptr<core::Timer> grace_timer_;
  std::unique_ptr<core::Timer> kill_deadline_;
  std::optional<int64_t> exit_code_;
  std::optional<JobError> error_;
  bool oom_killed_ = false;
  bool started_ = false;
  bool waited_ = false;
  bool stream_closed_ = false;
  bool cancelled_ = false;
  bool timed_out_ = false;
  bool ending_ = false;
};

DockerJobRunner::DockerJobRunner(core::EventLoop& loop, docker::DockerClient& docker,
                                 RunnerOptions options)
    : loop_(loop), docker_(docker), options_(std::move(options)) {
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
      loop_.deferredDelete(std::move(it->second));
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
    docker_.remove(id, [this, id](const Result<Unit>& r) {
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
