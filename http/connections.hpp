// The server's view of its open connections, for one decision: when every
// connection slot is taken and clients wait in the backlog, which connections
// can be closed without losing anything. A connection is idle when it has no
// request in flight, nothing being written, nothing read of a next request
// (in riposte's buffer or the kernel's) and a read waiting: a keep-alive
// connection between requests, or a new one that never sent a byte. Those
// idle longest are closed first, as nginx reuses its keep-alive connections
// when it runs out. RESTinio-free, so the policy is tested on its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace riposte::http {

class connection_watch {
public:
  using clock = std::chrono::steady_clock;

  explicit connection_watch(int fd);

  // The socket is about to close: nothing may touch its descriptor after.
  void closing() noexcept;
  // A WebSocket: never idle in this sense (it has its own pings).
  void pin() noexcept { pinned_.store(true, std::memory_order_relaxed); }

  // Called by the socket as its reads and writes start and end.
  void read_started() noexcept { reading_.store(true, std::memory_order_release); }
  void read_done(std::size_t bytes) noexcept;
  void write_started() noexcept { writing_.store(true, std::memory_order_release); }
  void write_done() noexcept;

  // A request began to be handled (all of it has been read) and ended
  // (its last byte was handed to the connection).
  void request_began() noexcept;
  void request_ended() noexcept;

  // Since when the connection has been idle, if it is.
  std::optional<clock::time_point> idle_since() const noexcept;
  // Shuts the connection down (both ways: the peer sees it closed, the
  // server's pending read ends and closes it) if it is still idle, has been
  // for `min_idle` at `now`, and no bytes wait unread in the kernel.
  bool close_if_idle(clock::time_point now, clock::duration min_idle) noexcept;

private:
  bool idle() const noexcept;
  void touch() noexcept;

  mutable std::mutex mutex_; // guards fd_ against a close while it is shut down
  int fd_;
  bool closed_by_us_ = false;
  std::atomic<bool> pinned_{false};
  std::atomic<bool> reading_{false};
  std::atomic<bool> writing_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<std::uint64_t> reads_{0};
  std::atomic<std::uint64_t> reads_at_request_{0};
  std::atomic<clock::rep> active_at_;
};

// Every connection of one server, by the server's connection id.
class connection_registry {
public:
  void enroll(std::uint64_t id, std::shared_ptr<connection_watch> watch);
  void forget(std::uint64_t id) noexcept;
  std::shared_ptr<connection_watch> find(std::uint64_t id) const;
  std::size_t size() const;

  // Closes up to `n` connections idle for at least `min_idle`, the longest
  // idle first. Returns how many it closed.
  std::size_t close_idle(std::size_t n, connection_watch::clock::duration min_idle,
                         connection_watch::clock::time_point now = connection_watch::clock::now());

private:
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<connection_watch>> watches_;
};

// Holds a request in flight on its connection until released or destroyed.
class flight_ticket {
public:
  flight_ticket() = default;
  explicit flight_ticket(std::shared_ptr<connection_watch> watch);
  flight_ticket(flight_ticket&&) noexcept = default;
  flight_ticket& operator=(flight_ticket&& other) noexcept;
  flight_ticket(const flight_ticket&) = delete;
  flight_ticket& operator=(const flight_ticket&) = delete;
  ~flight_ticket() { release(); }
  void release() noexcept;

private:
  std::shared_ptr<connection_watch> watch_;
};

// How many connections wait in a listening socket's accept queue (Linux
// reports it for a listener in TCP_INFO); 0 when it cannot say.
std::size_t accept_queue_length(int listen_fd) noexcept;

} // namespace riposte::http
