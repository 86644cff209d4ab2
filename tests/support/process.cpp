// Child processes and a small curl client for integration tests.
#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
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

std::string raw_response::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name)
      return v;
  return {};
}

int connect_loopback(std::uint16_t port, int receive_buffer) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed: " + std::to_string(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (receive_buffer > 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    auto err = errno;
    ::close(fd);
    throw std::runtime_error("connect failed: " + std::to_string(err));
  }
  return fd;
}

bool receive_some(int fd, std::string& into, std::chrono::steady_clock::time_point deadline,
                  bool& closed) {
  if (fd < 0 || closed)
    return false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left < 0)
      return false;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return false;
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) { // end of file, or reset
      closed = true;
      return false;
    }
    into.append(buf, static_cast<std::size_t>(n));
    return true;
  }
}

raw_connection::raw_connection(std::uint16_t port, int receive_buffer)
  : fd_(connect_loopback(port, receive_buffer)) {}

raw_connection::~raw_connection() {
  close();
}

void raw_connection::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool raw_connection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    if (fd_ < 0)
      return false;
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool raw_connection::fill(std::chrono::steady_clock::time_point deadline) {
  auto before = buf_.size();
  if (!receive_some(fd_, buf_, deadline, closed_))
    return false;
  all_.append(buf_, before);
  return true;
}

bool raw_connection::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_ && fd_ >= 0 && std::chrono::steady_clock::now() < deadline)
    fill(deadline);
  return closed_;
}

std::optional<raw_response> raw_connection::read_response(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Parses a whole reply from the front of buf_; how many bytes it took, or 0.
  auto parse = [this](raw_response& out, bool at_eof) -> std::size_t {
    auto head_end = buf_.find("\r\n\r\n");
    if (head_end == std::string::npos)
      return 0;
    out = raw_response{};
    std::istringstream head{buf_.substr(0, head_end)};
    std::string line;
    std::getline(head, line);
    if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12)
      return 0;
    out.status = std::stoi(line.substr(9, 3));
    long length = -1;
    bool chunked = false;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos)
        continue;
      auto name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t") + 1);
      if (name == "content-length")
        length = std::stol(value);
      if (name == "transfer-encoding" && value.find("chunked") != std::string::npos)
        chunked = true;
      out.headers.emplace_back(name, value);
    }
    auto at = head_end + 4;
    if (out.status >= 100 && out.status < 200)
      return at; // an interim reply (100 Continue) has no body
    if (chunked) {
      for (;;) {
        auto eol = buf_.find("\r\n", at);
        if (eol == std::string::npos)
          return 0;
        auto size = std::stoul(buf_.substr(at, eol - at), nullptr, 16);
        if (size == 0) {
          auto end = buf_.find("\r\n\r\n", eol);
          if (buf_.compare(eol, 4, "\r\n\r\n") == 0)
            end = eol;
          if (end == std::string::npos)
            return 0;
          return end + 4;
        }
        if (buf_.size() < eol + 2 + size + 2)
          return 0;
        out.body.append(buf_, eol + 2, size);
        at = eol + 2 + size + 2;
      }
    }
    if (length >= 0) {
      if (buf_.size() < at + static_cast<std::size_t>(length))
        return 0;
      out.body = buf_.substr(at, static_cast<std::size_t>(length));
      return at + static_cast<std::size_t>(length);
    }
    if (!at_eof)
      return 0;
    out.body = buf_.substr(at);
    return buf_.size();
  };
  for (;;) {
    raw_response out;
    if (auto used = parse(out, closed_)) {
      buf_.erase(0, used);
      return out;
    }
    if (closed_ || !fill(deadline))
      return std::nullopt;
  }
}

std::string request_bytes(const std::string& method, const std::string& target,
                          const std::string& body, const std::vector<std::string>& headers) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers)
    out += h + "\r\n";
  if (!body.empty() || method == "POST")
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

long vm_rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

bool process_alive(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat;
  if (!std::getline(in, stat))
    return false;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' &&
         stat[close + 2] != 'X';
}

} // namespace riposte::tests
