// Test support: start the real riposte binary (or any program) as a child
// process, read what it prints, and talk HTTP to it over loopback with curl.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace riposte::tests {

class child_process {
public:
  // Starts `argv[0]` with `argv`; stdout and stderr are captured together by
  // a thread that always drains the pipe, so a chatty child never blocks on
  // a full pipe while a test is busy elsewhere.
  explicit child_process(std::vector<std::string> argv);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Reads output until a line contains `needle`; returns that line, or "" on
  // timeout or exit.
  std::string wait_for_line(const std::string& needle, std::chrono::milliseconds timeout);
  // Waits for the exit status (signal: 128 + signo); -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout);
  void signal(int signo);
  // Everything read so far.
  std::string output() const;
  pid_t pid() const { return pid_; }

private:
  void drain();
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  int status_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable grew_;
  std::string output_;
  bool eof_ = false;
  bool stop_ = false;
  std::size_t scanned_ = 0;
  std::thread reader_;
};

struct http_result {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; // names lower-cased
  std::string header(const std::string& lower_name) const;
};

http_result http_call(const std::string& method, const std::string& url,
                      const std::string& body = "", const std::vector<std::string>& headers = {});

// The riposte binary under test (RIPOSTE_BIN, set by CTest).
std::string riposte_binary();

// One HTTP/1.1 reply read off a raw connection.
struct raw_response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers; // names lower-cased
  std::string body;                                         // de-chunked
  std::string header(const std::string& lower_name) const;
};

// A plain TCP connection to 127.0.0.1:port, for what curl will not do: bytes
// that are not quite HTTP, requests sent slowly or back to back, connections
// held open and idle, replies never read.
class raw_connection {
public:
  // Connects (a connection waiting in the listener's backlog counts as
  // connected); throws if it cannot. `receive_buffer` > 0 fixes the socket's
  // receive buffer (no autotuning), for a client that must stall a sender.
  explicit raw_connection(std::uint16_t port, int receive_buffer = 0);
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  // Sends everything; false once the peer has closed or reset the connection.
  bool send(std::string_view bytes);
  // The next reply (Content-Length, chunked, or closed-delimited body), or
  // nullopt if no whole reply came within `timeout`.
  std::optional<raw_response> read_response(std::chrono::milliseconds timeout);
  // Reads until the peer closes (end of file or reset): true if it did
  // within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);
  // Every byte received so far.
  const std::string& received() const { return all_; }
  bool closed() const { return closed_; }
  void close();
  int fd() const { return fd_; }

private:
  // Reads what is there within `timeout`; false on timeout.
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  bool closed_ = false;
  std::string buf_; // received, not yet consumed by read_response
  std::string all_;
};

// A TCP connection to 127.0.0.1:port (TCP_NODELAY; `receive_buffer` > 0
// fixes the receive buffer); throws if it cannot connect.
int connect_loopback(std::uint16_t port, int receive_buffer = 0);
// Appends what arrives on `fd` before `deadline` to `into`: true if bytes
// came; false on timeout, or with `closed` set at end of file or reset.
bool receive_some(int fd, std::string& into, std::chrono::steady_clock::time_point deadline,
                  bool& closed);

// An HTTP/1.1 request as bytes: Host, Content-Length (with a body, or for
// POST) and `headers` ("Name: value") as given.
std::string request_bytes(const std::string& method, const std::string& target,
                          const std::string& body = "",
                          const std::vector<std::string>& headers = {});

// The resident set of a process in KiB (VmRSS in /proc/PID/status); -1 if gone.
long vm_rss_kib(pid_t pid);
// Whether the process still runs (not exited, not a zombie).
bool process_alive(pid_t pid);

} // namespace riposte::tests
