// A TCP listener on 127.0.0.1, on a port the kernel picked (bind 0, read it
// back). On its own it never accepts: connections complete in the kernel's
// backlog and then hear nothing (a black hole), and Connected() tells whether
// anyone connected. A test that serves connections calls Accept() itself.
#pragma once

namespace gc::test {

class LoopbackListener {
 public:
  // Throws std::runtime_error if no socket can be bound.
  explicit LoopbackListener(int backlog = 128);
  // Closes the socket (a blocked Accept() returns -1 after Shutdown()).
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  int port() const { return port_; }
  // True if a connection is waiting to be accepted (does not wait).
  bool Connected() const;
  // Blocks until a connection arrives; its socket (the caller closes it), or
  // -1 once Shutdown() was called or on error.
  int Accept();
  // Wakes a thread blocked in Accept() and refuses new connections.
  void Shutdown();

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace gc::test
