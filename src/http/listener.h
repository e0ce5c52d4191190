// Listener: the server's listening sockets (TCP, and optionally a unix stream socket) on
// the loop. It accepts without blocking and hands each connection to its owner; it rides
// out running short of descriptors or memory (a spare descriptor to answer one pending
// connection with 503, or a pause of accepting) rather than spin on a listening socket
// that stays readable.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/event_loop.h"
#include "core/unique_fd.h"

namespace wa::http {

// What a Listener needs from the server it serves.
class ListenerOwner {
 public:
  virtual ~ListenerOwner() = default;
  // A new connection (non-blocking, close-on-exec); tcp: a TCP one, not a unix one.
  virtual void onAccepted(core::UniqueFd fd, bool tcp) = 0;
  // A connection the server cannot serve (descriptors ran out): answer 503 and close.
  virtual void shed(core::UniqueFd fd, const std::string& message) = 0;
  // Connections open now (for log lines).
  virtual size_t openConnections() const = 0;
};

class Listener {
 public:
  Listener(core::EventLoop& loop, ListenerOwner& owner);
  // Closes the sockets and removes the unix socket's file if it is still ours.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and listens (IPv4 or IPv6 literal address; port 0 = any). Returns "" on
  // success, else a message naming the address and the errno text.
  std::string listen(const std::string& address, uint16_t port);
  // The bound port (useful after listen(..., 0)).
  uint16_t port() const { return port_; }
  // Listens on a unix stream socket at path as well, the file getting mode (whatever the
  // umask). A socket file already there is replaced only if nobody answers on it (left by
  // a process that died); any other file is left alone and is an error. Returns "" on
  // success, else a message naming the path and the errno text.
  std::string listenUnix(const std::string& path, mode_t mode);
  // Stops accepting and closes the sockets; removes the unix socket's file, if it is
  // still the one listenUnix created.
  void stop();

 private:
  // Accepts what listener's backlog holds; tcp: the connections are TCP.
  void onAcceptable(const core::UniqueFd& listener, bool tcp);
  // Stops accepting for a moment (memory exhausted, or descriptors with no spare left):
  // level-triggered epoll would otherwise report the pending connection again at once,
  // forever.
  void pauseAccepting();
  void resumeAccepting();
  // Out of descriptors (EMFILE, ENFILE): closes the spare descriptor to accept one
  // connection pending on listener, has the owner shed it, then takes the spare back.
  // False if there was no spare or no connection could be accepted with it.
  bool shedWithSpareDescriptor(const core::UniqueFd& listener);
  // Closes the unix listener and removes its file if that is still the socket we bound.
  void closeUnixListener();

  core::EventLoop& loop_;
  ListenerOwner& owner_;
  core::UniqueFd listen_fd_;
  std::unique_ptr<core::FileEvent> listen_event_;
  uint16_t port_ = 0;
  // The unix listener; its file is identified by device and inode, so that stopping
  // never removes a socket another process has bound at the same path since.
  core::UniqueFd unix_fd_;
  std::unique_ptr<core::FileEvent> unix_event_;
  std::string unix_path_;
  dev_t unix_device_ = 0;
  ino_t unix_inode_ = 0;
  std::unique_ptr<core::Timer> accept_resume_timer_;
  // Held open so that running out of descriptors still leaves one to accept a pending
  // connection with and answer it, rather than leave it waiting in the backlog.
  core::UniqueFd spare_fd_;
  bool accept_failure_logged_ = false;  // one warning per episode, not one per connection
};

}  // namespace wa::http
