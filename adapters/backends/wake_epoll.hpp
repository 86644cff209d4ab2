// A backend client's loop thread and the epoll set it waits on, with an
// eventfd that other threads ring when they hand it work (start, abort,
// stop).
#pragma once

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace riposte::adapters::backends {

class wake_epoll {
public:
  // The eventfd's epoll data; sockets are registered under other values.
  static constexpr std::uint64_t wake_tag = ~std::uint64_t{0};

  wake_epoll()
    : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC))
    , wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = wake_tag;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }
  ~wake_epoll() {
    stop();
    ::close(wake_fd_);
    ::close(epoll_fd_);
  }
  wake_epoll(const wake_epoll&) = delete;
  wake_epoll& operator=(const wake_epoll&) = delete;

  int fd() const { return epoll_fd_; }
  // Runs `loop` on a thread named riposte.backend; it returns once
  // stopping() says so.
  template <class Loop>
  void start(Loop loop) {
    thread_ = std::thread{[loop] {
      pthread_setname_np(pthread_self(), "riposte.backend");
      loop();
    }};
  }
  bool stopping() const { return stopping_; }
  // Ends the thread (idempotent); what it left is the owner's to finish.
  void stop() {
    stopping_ = true;
    wake();
    if (thread_.joinable())
      thread_.join();
  }
  // Any thread.
  void wake() const {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  // The loop thread, when epoll reports wake_tag.
  void drain() const {
    std::uint64_t count = 0;
    [[maybe_unused]] auto n = ::read(wake_fd_, &count, sizeof count);
  }

private:
  int epoll_fd_;
  int wake_fd_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Work handed to the loop thread from any thread: new transfers, and the
// ids of transfers to abort. Each hand-over rings the loop.
template <class Work>
class inbox {
public:
  explicit inbox(const wake_epoll& poll)
    : poll_(poll) {}

  void post(Work work) {
    {
      std::lock_guard guard{mutex_};
      fresh_.push_back(std::move(work));
    }
    poll_.wake();
  }
  void cancel(std::uint64_t id) {
    {
      std::lock_guard guard{mutex_};
      cancelled_.push_back(id);
    }
    poll_.wake();
  }
  // The loop thread: what came since it last looked.
  void take(std::vector<Work>& fresh, std::vector<std::uint64_t>& cancelled) {
    std::lock_guard guard{mutex_};
    fresh.swap(fresh_);
    cancelled.swap(cancelled_);
  }

private:
  const wake_epoll& poll_;
  std::mutex mutex_;
  std::vector<Work> fresh_;
  std::vector<std::uint64_t> cancelled_;
};

} // namespace riposte::adapters::backends
