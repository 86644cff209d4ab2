// Child processes and a small curl client for integration tests.
#include "tests/support/process.hpp"

#include <curl/curl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <stdexcept>

extern char** environ;

namespace riposte::tests {

child_process::child_process(std::vector<std::string> argv) {
  int out[2];
  if (::pipe(out) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  fd_ = out[0];
  if (rc != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot start " + argv[0]);
  }
  reader_ = std::thread([this] { drain(); });
}

child_process::~child_process() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  // The pipe reaches end of file once the child is gone; should a grandchild
  // still hold it open, the reader stops at its next poll.
  {
    std::lock_guard lock{mutex_};
    stop_ = true;
  }
  if (reader_.joinable())
    reader_.join();
  if (fd_ >= 0)
    ::close(fd_);
}

void child_process::drain() {
  char buf[4096];
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready == 0 || (ready < 0 && errno == EINTR)) {
      std::lock_guard lock{mutex_};
      if (stop_) {
        eof_ = true;
        grew_.notify_all();
        return;
      }
      continue;
    }
    auto n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    std::lock_guard lock{mutex_};
    if (n <= 0) {
      eof_ = true;
      grew_.notify_all();
      return;
    }
    output_.append(buf, static_cast<std::size_t>(n));
    grew_.notify_all();
  }
}

std::string child_process::output() const {
  std::lock_guard lock{mutex_};
  return output_;
}

std::string child_process::wait_for_line(const std::string& needle,
                                         std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock{mutex_};
  for (;;) {
    auto pos = output_.find(needle, scanned_);
    if (pos != std::string::npos) {
      auto begin = output_.rfind('\n', pos);
      begin = begin == std::string::npos ? 0 : begin + 1;
      auto end = output_.find('\n', pos);
      if (end != std::string::npos) {
        scanned_ = end + 1;
        return output_.substr(begin, end - begin);
      }
      if (eof_) {
        scanned_ = output_.size();
        return output_.substr(begin);
      }
    }
    if (eof_)
      return {};
    if (grew_.wait_until(lock, deadline) == std::cv_status::timeout)
      return {};
  }
}

int child_process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exited_) {
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
      exited_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    // The last words of the child: wait briefly for the pipe to close.
    std::unique_lock lock{mutex_};
    grew_.wait_for(lock, std::chrono::milliseconds(500), [&] { return eof_; });
  }
  if (WIFEXITED(status_))
    return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

void child_process::signal(int signo) {
  if (!exited_)
    ::kill(pid_, signo);
}

std::string http_result::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name)
      return v;
  return {};
}

namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of("\r\n \t") + 1);
    static_cast<http_result*>(user)->headers.emplace_back(name, value);
  }
  return size * n;
}

} // namespace

http_result http_call(const std::string& method, const std::string& url, const std::string& body,
                      const std::vector<std::string>& headers) {
  http_result out;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers)
    list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  if (curl_easy_perform(curl) == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return out;
}

std::string riposte_binary() {
  const char* bin = std::getenv("RIPOSTE_BIN");
  if (bin == nullptr)
    throw std::runtime_error("RIPOSTE_BIN is not set");
  return bin;
}

} // namespace riposte::tests
