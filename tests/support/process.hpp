// Test support: start the real riposte binary (or any program) as a child
// process, read what it prints, and talk HTTP to it over loopback with curl.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
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

} // namespace riposte::tests
