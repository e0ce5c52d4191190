#include "api/output_streamer.h"

#include <array>
#include <deque>
#include <memory>
#include <string_view>

#include "core/log.h"

namespace wa::api {
namespace {

// Streams one job's output to one client: the bytes the record holds when the stream
// starts (stdout, then stderr), then the chunks the feed publishes, in capture order,
// until the job ends. Memory stays bounded: the record's bytes are written from the
// record itself, a piece at a time as the client reads (onDrain); only live chunks that
// arrive while the client is behind are copied, up to kMaxBacklog.
//
// Owned by its callbacks: the writer's hooks and the feed subscription. Whichever way the
// stream ends (the job ends and the body is complete, the client leaves, the record
// disappears) the subscription is dropped and the writer releases its hooks, which frees
// this object.
class OutputStreamer : public std::enable_shared_from_this<OutputStreamer> {
 public:
  // Pieces written from the record at a time.
  static constexpr size_t kPiece = size_t{64} * 1024;
  // Live output held for a client that does not keep up; past it the client is cut off
  // (the same bound as the HTTP layer's buffer for a client that does not read).
  static constexpr size_t kMaxBacklog = size_t{1024} * 1024;

  OutputStreamer(const jobs::JobStore& store, jobs::OutputFeed* feed, std::string job_id,
                 bool want_stdout, bool want_stderr, http::StreamWriterPtr writer)
      : store_(store),
        feed_(feed),
        job_id_(std::move(job_id)),
        wanted_{want_stdout, want_stderr},
        writer_(std::move(writer)) {}

  // Takes the record's current output as the first part of the body and, unless the job
  // has ended, follows the feed (the caller checked that there is one).
  void start() {
    const jobs::Job* job = store_.find(job_id_);
    if (job == nullptr) {  // cannot happen: the handler found it within this event
      writer_->end();
      return;
    }
    for (jobs::OutputStream stream : kStreams) {
      if (wants(stream)) record_[index(stream)].end = output(*job, stream).size();
    }
    if (jobs::isTerminal(job->state)) {
      job_ended_ = true;
    } else {
      auto self = shared_from_this();
      subscription_ = feed_->subscribe(
          job_id_,
          [self](jobs::OutputStream stream, std::string_view chunk) {
            self->onOutput(stream, chunk);
          },
          [self] { self->onEnd(); });
    }
    auto self = shared_from_this();
    writer_->onClose([self] { self->stop(); });
    writer_->onDrain([self] { self->pump(); });
    pump();
  }

 private:
  static constexpr std::array<jobs::OutputStream, 2> kStreams = {jobs::OutputStream::kStdout,
                                                                 jobs::OutputStream::kStderr};
  static size_t index(jobs::OutputStream stream) {
    return stream == jobs::OutputStream::kStdout ? 0 : 1;
  }
  static const std::string& output(const jobs::Job& job, jobs::OutputStream stream) {
    return stream == jobs::OutputStream::kStdout ? job.stdout_output.data : job.stderr_output.data;
  }
  bool wants(jobs::OutputStream stream) const { return wanted_[index(stream)]; }

  void onOutput(jobs::OutputStream stream, std::string_view chunk) {
    if (!wants(stream) || chunk.empty()) return;
    if (backlog_bytes_ + chunk.size() > kMaxBacklog) {
      core::logWarning("job output stream: the client is not keeping up; closing it job_id=",
                       job_id_);
      finish(false);
      return;
    }
    backlog_.emplace_back(chunk);
    backlog_bytes_ += chunk.size();
    pump();
  }

  void onEnd() {
    subscription_ = 0;  // the feed has dropped it
    job_ended_ = true;
    // The store may drop the record from now on: copy what is still to be sent from it
    // (bounded by the output cap), ahead of the live chunks.
    if (const jobs::Job* job = store_.find(job_id_)) {
      for (auto stream = kStreams.rbegin(); stream != kStreams.rend(); ++stream) {
        Range& range = record_[index(*stream)];
        if (range.next < range.end) {
          backlog_.emplace_front(output(*job, *stream).substr(range.next, range.end - range.next));
          backlog_bytes_ += range.end - range.next;
          range.next = range.end;
        }
      }
    }
    pump();
  }

  // Writes until the client has enough waiting, then waits for onDrain. Completes the
  // body once the job has ended and everything is written.
  void pump() {
    while (writer_->isOpen() && writer_->buffered() < http::StreamWriter::kDrainMark) {
      if (!writeNextPiece()) break;
    }
    if (writer_->isOpen() && job_ended_ && !pending()) finish(true);
  }

  bool pending() const {
    return !backlog_.empty() || record_[0].next < record_[0].end ||
           record_[1].next < record_[1].end;
  }

  // False when there is nothing to write, or the stream is over.
  bool writeNextPiece() {
    for (jobs::OutputStream stream : kStreams) {
      Range& range = record_[index(stream)];
      if (range.next == range.end) continue;
      const jobs::Job* job = store_.find(job_id_);
      if (job == nullptr || output(*job, stream).size() < range.end) {
        // Dropped by retention while an ended job's output was still going out.
        core::logInfo("job output stream: the job record is gone; closing job_id=", job_id_);
        finish(false);
        return false;
      }
      const size_t n = std::min(kPiece, range.end - range.next);
      const std::string_view piece = std::string_view(output(*job, stream)).substr(range.next, n);
      range.next += n;
      return writer_->write(piece);
    }
    if (backlog_.empty()) return false;
    const std::string& front = backlog_.front();
    const size_t n = std::min(kPiece, front.size() - backlog_offset_);
    // The writer copies: front may go right after.
    const bool written = writer_->write(std::string_view(front).substr(backlog_offset_, n));
    backlog_offset_ += n;
    backlog_bytes_ -= n;
    if (backlog_offset_ == front.size()) {
      backlog_.pop_front();
      backlog_offset_ = 0;
    }
    return written;
  }

  // Completes the body (complete) or cuts it short, and lets go of the feed.
  void finish(bool complete) {
    stop();
    if (complete) {
      writer_->end();
    } else {
      writer_->abort();
    }
  }

  // The stream is over for us: leave the feed and drop what is queued.
  void stop() {
    if (subscription_ != 0) feed_->unsubscribe(subscription_);
    subscription_ = 0;
    backlog_.clear();
    backlog_offset_ = 0;
    backlog_bytes_ = 0;
    record_ = {};
  }

  struct Range {
    size_t next = 0;  // the next record byte to send
    size_t end = 0;   // where the record stood when the stream started
  };

  const jobs::JobStore& store_;
  jobs::OutputFeed* feed_;
  const std::string job_id_;
  const std::array<bool, 2> wanted_;  // by index(stream)
  const http::StreamWriterPtr writer_;
  std::array<Range, 2> record_{};    // the record's output, by index(stream)
  std::deque<std::string> backlog_;  // live chunks (and, once ended, the record's rest)
  size_t backlog_offset_ = 0;        // of backlog_.front(), already written
  size_t backlog_bytes_ = 0;
  bool job_ended_ = false;
  uint64_t subscription_ = 0;
};

}  // namespace

void streamJobOutput(const jobs::JobStore& store, jobs::OutputFeed* feed, std::string job_id,
                     bool want_stdout, bool want_stderr, http::StreamWriterPtr writer) {
  std::make_shared<OutputStreamer>(store, feed, std::move(job_id), want_stdout, want_stderr,
                                   std::move(writer))
      ->start();
}

}  // namespace wa::api
