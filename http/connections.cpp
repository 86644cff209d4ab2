#include "http/connections.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

namespace riposte::http {

connection_watch::connection_watch(int fd)
  : fd_(fd)
  , active_at_(clock::now().time_since_epoch().count()) {}

void connection_watch::closing() noexcept {
  std::lock_guard guard{mutex_};
  fd_ = -1;
}

void connection_watch::touch() noexcept {
  active_at_.store(clock::now().time_since_epoch().count(), std::memory_order_release);
}

void connection_watch::read_done(std::size_t bytes) noexcept {
  if (bytes > 0)
    reads_.fetch_add(1, std::memory_order_acq_rel);
  reading_.store(false, std::memory_order_release);
  touch();
}

void connection_watch::write_done() noexcept {
  writing_.store(false, std::memory_order_release);
  touch();
}

void connection_watch::request_began() noexcept {
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
  // Everything read so far belongs to requests now being handled.
  reads_at_request_.store(reads_.load(std::memory_order_acquire), std::memory_order_release);
  touch();
}

void connection_watch::request_ended() noexcept {
  touch();
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
}

bool connection_watch::idle() const noexcept {
  return !pinned_.load(std::memory_order_relaxed) &&
         in_flight_.load(std::memory_order_acquire) == 0 &&
         reading_.load(std::memory_order_acquire) && !writing_.load(std::memory_order_acquire) &&
         reads_.load(std::memory_order_acquire) ==
             reads_at_request_.load(std::memory_order_acquire);
}

std::optional<connection_watch::clock::time_point> connection_watch::idle_since() const noexcept {
  if (!idle())
    return std::nullopt;
  return clock::time_point{clock::duration{active_at_.load(std::memory_order_acquire)}};
}

bool connection_watch::close_if_idle(clock::time_point now, clock::duration min_idle) noexcept {
  std::lock_guard guard{mutex_};
  auto since = idle_since();
  if (fd_ < 0 || closed_by_us_ || !since || now - *since < min_idle)
    return false;
  int unread = 0;
  if (::ioctl(fd_, FIONREAD, &unread) != 0 || unread > 0)
    return false; // a next request is arriving
  if (::shutdown(fd_, SHUT_RDWR) != 0)
    return false;
  closed_by_us_ = true;
  return true;
}

void connection_registry::enroll(std::uint64_t id, std::shared_ptr<connection_watch> watch) {
  std::lock_guard guard{mutex_};
  watches_[id] = std::move(watch);
}

void connection_registry::forget(std::uint64_t id) noexcept {
  std::lock_guard guard{mutex_};
  watches_.erase(id);
}

std::shared_ptr<connection_watch> connection_registry::find(std::uint64_t id) const {
  std::lock_guard guard{mutex_};
  auto it = watches_.find(id);
  return it == watches_.end() ? nullptr : it->second;
}

std::size_t connection_registry::size() const {
  std::lock_guard guard{mutex_};
  return watches_.size();
}

std::size_t connection_registry::close_idle(std::size_t n,
                                            connection_watch::clock::duration min_idle,
                                            connection_watch::clock::time_point now) {
  if (n == 0)
    return 0;
  std::vector<std::pair<connection_watch::clock::time_point, std::shared_ptr<connection_watch>>>
      idle;
  {
    std::lock_guard guard{mutex_};
    for (const auto& [id, watch] : watches_)
      if (auto since = watch->idle_since(); since && now - *since >= min_idle)
        idle.emplace_back(*since, watch);
  }
  std::sort(idle.begin(), idle.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t closed = 0;
  for (auto& [since, watch] : idle) {
    if (closed == n)
      break;
    closed += watch->close_if_idle(now, min_idle) ? 1 : 0;
  }
  return closed;
}

flight_ticket::flight_ticket(std::shared_ptr<connection_watch> watch)
  : watch_(std::move(watch)) {
  if (watch_)
    watch_->request_began();
}

flight_ticket& flight_ticket::operator=(flight_ticket&& other) noexcept {
  if (this != &other) {
    release();
    watch_ = std::move(other.watch_);
  }
  return *this;
}

void flight_ticket::release() noexcept {
  if (auto watch = std::move(watch_))
    watch->request_ended();
}

std::size_t accept_queue_length(int listen_fd) noexcept {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (listen_fd < 0 || ::getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0)
    return 0;
  return info.tcpi_unacked; // for a listener: connections waiting to be accepted
}

} // namespace riposte::http
