// The epoll loop behind native_loop: non-blocking sockets, requests written
// whole, replies read by http_reader, connections kept per host.
#include "adapters/backends/native_http.hpp"

#include "adapters/backends/http_reader.hpp"
#include "adapters/backends/wake_epoll.hpp"
#include "events/faults.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

namespace riposte::adapters::backends {

using clock = std::chrono::steady_clock;

std::optional<native_target> native_target_of(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme)
    return std::nullopt;
  url.remove_prefix(scheme.size());
  auto slash = url.find_first_of("/?#");
  auto authority = url.substr(0, slash);
  std::string_view rest = slash == std::string_view::npos ? "" : url.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return std::nullopt; // credentials in the URL: libcurl's business
  native_target t;
  t.host_header = std::string{authority};
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return std::nullopt;
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos)
      port = authority.substr(colon + 1);
  }
  if (!port.empty()) {
    unsigned value = 0;
    for (char ch : port) {
      if (ch < '0' || ch > '9' || value > 65535)
        return std::nullopt;
      value = value * 10 + static_cast<unsigned>(ch - '0');
    }
    if (value == 0 || value > 65535)
      return std::nullopt;
    t.port = static_cast<std::uint16_t>(value);
  }
  std::string h{host};
  for (auto& ch : h)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (h == "localhost")
    h = "127.0.0.1";
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) != 1 && ::inet_pton(AF_INET6, h.c_str(), &v6) != 1)
    return std::nullopt; // a name: resolved by libcurl
  t.host = std::move(h);
  auto fragment = rest.find('#');
  rest = rest.substr(0, fragment);
  if (rest.empty() || rest.front() == '?')
    t.path = "/";
  t.path += rest;
  return t;
}

namespace {

struct transfer;

struct connection {
  std::uint64_t serial = 0; // epoll's name for it (from 1)
  int fd = -1;
  std::string key;
  bool connected = false;
  bool reused = false;
  transfer* t = nullptr;   // none while idle
  std::string head;        // the request line and headers; the body is the request's own
  std::size_t written = 0; // of head and body
  bool sent_all = false;
  std::unique_ptr<http_reader> reader;
  std::uint32_t interest = 0;
};

struct transfer {
  std::uint64_t id = 0;
  http_request req;
  native_target target;
  std::string key;
  connection* conn = nullptr;
  clock::time_point taken, deadline, timer;
  actors::generation_update::steps timing;
  bool retried = false;
  std::string threw;
};

struct host_pool {
  std::size_t open = 0;              // connections, idle ones included
  std::vector<connection*> idle;     // most recently used last
  std::deque<std::uint64_t> waiting; // transfers for a free connection
};

std::string describe_errno(int err) {
  return std::strerror(err);
}

// Whether a header the caller gives is one this loop writes itself, or
// curl's way of saying "leave this one out" ("Expect:").
bool left_out(const std::string& header) {
  auto colon = header.find(':');
  if (colon == std::string::npos)
    return true;
  std::string name = header.substr(0, colon);
  for (auto& ch : name)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto value = std::string_view{header}.substr(colon + 1);
  bool empty = value.find_first_not_of(" \t") == std::string_view::npos;
  return empty || name == "content-length" || name == "transfer-encoding" || name == "expect" ||
         name == "connection";
}

bool has_header(const std::vector<std::string>& headers, std::string_view lower_name) {
  for (const auto& h : headers) {
    if (h.size() <= lower_name.size() || h[lower_name.size()] != ':')
      continue;
    bool same = true;
    for (std::size_t i = 0; i < lower_name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(h[i])) == lower_name[i];
    if (same)
      return true;
  }
  return false;
}

} // namespace

struct native_loop::impl {
  long max_per_host;
  wake_epoll poll; // start() and abort() ring it
  inbox<std::unique_ptr<transfer>> in{poll};
  // The loop thread's own.
  std::unordered_map<std::uint64_t, std::unique_ptr<transfer>> running;
  std::unordered_map<std::string, host_pool> pools;
  std::unordered_map<std::uint64_t, std::unique_ptr<connection>> connections;
  std::uint64_t next_serial = 1;
  bool serving_waiting = false; // in next_waiting
  std::set<std::pair<clock::time_point, std::uint64_t>> timers;
  std::vector<char> buffer = std::vector<char>(64 * 1024);

  explicit impl(long max)
    : max_per_host(std::max<long>(max, 1)) {
    poll.start([this] { run(); });
  }

  ~impl() {
    poll.stop();
    // What came after the loop's last turn, and what still runs, is told.
    std::vector<std::unique_ptr<transfer>> fresh;
    std::vector<std::uint64_t> cancelled;
    in.take(fresh, cancelled);
    for (auto& t : fresh) {
      t->taken = clock::now();
      tell(*t, aborted_outcome());
    }
    while (!running.empty())
      fail(running.begin()->first, aborted_outcome());
    for (auto& [serial, c] : connections)
      ::close(c->fd);
  }

  // --- timers ---------------------------------------------------------------

  void arm(transfer& t, clock::time_point at) {
    timers.erase({t.timer, t.id});
    t.timer = at;
    if (at != clock::time_point::max())
      timers.insert({at, t.id});
  }

  int wait_ms() const {
    if (timers.empty())
      return 1000;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(timers.begin()->first - clock::now())
            .count();
    return static_cast<int>(std::clamp<long long>(left + 1, 0, 1000));
  }

  void expire() {
    auto now = clock::now();
    while (!timers.empty() && timers.begin()->first <= now) {
      auto id = timers.begin()->second;
      timers.erase(timers.begin());
      auto it = running.find(id);
      if (it == running.end())
        continue;
      auto& t = *it->second;
      t.timer = clock::time_point::max();
      http_outcome out;
      out.timed_out = true;
      bool sent = t.conn && t.conn->connected && t.conn->written > 0;
      out.connect_failed = !sent;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - t.taken).count();
      out.error = sent ? "Operation timed out after " + std::to_string(ms) + " milliseconds"
                       : "Connection timed out after " + std::to_string(ms) + " milliseconds";
      if (t.conn && t.conn->reader)
        out.status = t.conn->reader->status();
      fail(id, out);
    }
  }

  // --- connections ----------------------------------------------------------

  void watch(connection& c, std::uint32_t events) {
    if (c.interest == events)
      return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.serial;
    ::epoll_ctl(poll.fd(), c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
    c.interest = events;
  }

  void close_connection(connection* c) {
    auto& pool = pools[c->key];
    std::erase(pool.idle, c);
    if (pool.open > 0)
      --pool.open;
    ::epoll_ctl(poll.fd(), EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    auto serial = c->serial; // erasing destroys what the key would be read from
    connections.erase(serial);
  }

  // A new connection for `t`, connecting; false (with `err`) if the socket
  // could not even start.
  connection* open_connection(transfer& t, int& err) {
    sockaddr_storage addr{};
    socklen_t len = 0;
    int family = AF_INET;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (::inet_pton(AF_INET, t.target.host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(t.target.port);
      len = sizeof *v4;
    } else {
      family = AF_INET6;
      ::inet_pton(AF_INET6, t.target.host.c_str(), &v6->sin6_addr);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(t.target.port);
      len = sizeof *v6;
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      return nullptr;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
      err = errno;
      ::close(fd);
      return nullptr;
    }
    auto c = std::make_unique<connection>();
    c->serial = next_serial++;
    c->fd = fd;
    c->key = t.key;
    auto* raw = c.get();
    connections.emplace(raw->serial, std::move(c));
    ++pools[t.key].open;
    watch(*raw, EPOLLOUT);
    return raw;
  }

  std::string request_head(const transfer& t) const {
    const auto& r = t.req;
    std::string out;
    out.reserve(256);
    out += r.method;
    out += ' ';
    out += t.target.path;
    out += " HTTP/1.1\r\n";
    if (!has_header(r.headers, "host"))
      out += "Host: " + t.target.host_header + "\r\n";
    if (!has_header(r.headers, "accept"))
      out += "Accept: */*\r\n";
    for (const auto& h : r.headers)
      if (!left_out(h)) {
        out += h;
        out += "\r\n";
      }
    if (r.method == "POST" || !r.body.empty())
      out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out += "\r\n";
    return out;
  }

  // Gives `t` a connection: an idle one, a new one, or a place in line.
  void dispatch(transfer& t) {
    auto& pool = pools[t.key];
    if (!pool.idle.empty()) {
      auto* c = pool.idle.back();
      pool.idle.pop_back();
      c->reused = true;
      bind(t, *c);
      send_some(*c);
      return;
    }
    if (pool.open >= static_cast<std::size_t>(max_per_host)) {
      pool.waiting.push_back(t.id);
      return;
    }
    int err = 0;
    auto* c = open_connection(t, err);
    if (!c) {
      http_outcome out;
      out.connect_failed = true;
      out.error = "Failed to connect to " + t.target.host + " port " +
                  std::to_string(t.target.port) + ": " + describe_errno(err);
      fail(t.id, out);
      return;
    }
    bind(t, *c);
    auto connect_by = t.taken + std::chrono::milliseconds(t.req.connect_timeout_ms);
    if (t.req.connect_timeout_ms > 0 && connect_by < t.timer)
      arm(t, connect_by);
  }

  void bind(transfer& t, connection& c) {
    c.t = &t;
    t.conn = &c;
    c.head = request_head(t);
    c.written = 0;
    c.sent_all = false;
    c.reader = std::make_unique<http_reader>(t.req.method == "HEAD");
    c.reader->on_body = [tr = &t](long status, std::string_view bytes) {
      if (tr->req.on_data)
        tr->req.on_data(status, bytes);
    };
  }

  // The next transfer waiting for this host, if any.
  // A transfer that fails at once (no descriptor left) ends inside this
  // loop, which then goes on with the next: no recursion per waiting one.
  void next_waiting(const std::string& key) {
    if (poll.stopping() || serving_waiting)
      return;
    auto it = pools.find(key);
    if (it == pools.end())
      return;
    serving_waiting = true;
    struct reset {
      bool& flag;
      ~reset() { flag = false; }
    } done{serving_waiting};
    auto& pool = it->second;
    while (!pool.waiting.empty() &&
           (!pool.idle.empty() || pool.open < static_cast<std::size_t>(max_per_host))) {
      auto id = pool.waiting.front();
      pool.waiting.pop_front();
      auto t = running.find(id);
      if (t != running.end())
        dispatch(*t->second);
    }
  }

  // --- ending ---------------------------------------------------------------

  std::unique_ptr<transfer> detach(std::uint64_t id) {
    auto it = running.find(id);
    if (it == running.end())
      return nullptr;
    auto t = std::move(it->second);
    running.erase(it);
    timers.erase({t->timer, t->id});
    if (!t->conn) {
      auto pool = pools.find(t->key);
      if (pool != pools.end())
        std::erase(pool->second.waiting, id);
    }
    return t;
  }

  void tell(transfer& t, http_outcome out) {
    out.timing = t.timing;
    out.timing.taken = t.taken;
    out.timing.done = clock::now();
    tell_done(t.req, std::move(out), t.threw);
  }

  // Ends a transfer that failed: its connection (if any) is closed.
  void fail(std::uint64_t id, http_outcome out) {
    auto t = detach(id);
    if (!t)
      return;
    std::string key = t->key;
    if (t->conn) {
      t->conn->t = nullptr;
      t->conn->reader.reset();
      close_connection(t->conn);
    }
    tell(*t, std::move(out));
    next_waiting(key);
  }

  // Ends a transfer whose reply is complete: its connection is kept if it can be.
  void succeed(connection& c) {
    auto t = detach(c.t->id);
    // A reply that came before the whole request went out leaves the
    // connection mid-request.
    bool reusable = c.reader->reusable() && c.sent_all;
    http_outcome out;
    out.status = c.reader->status();
    c.t = nullptr;
    c.reader.reset();
    c.head.clear();
    std::string key = c.key;
    if (reusable) {
      pools[key].idle.push_back(&c);
      watch(c, EPOLLIN | EPOLLRDHUP); // a close while idle is seen
    } else {
      close_connection(&c);
    }
    tell(*t, std::move(out));
    next_waiting(key);
  }

  // A reused connection the server had closed before the request reached
  // it: the request goes again, once, on a new connection.
  bool retry(connection& c) {
    auto* t = c.t;
    if (!c.reused || t->retried || c.reader->started())
      return false;
    t->retried = true;
    t->conn = nullptr;
    c.t = nullptr;
    c.reader.reset();
    close_connection(&c);
    dispatch(*t);
    return true;
  }

  // --- I/O ------------------------------------------------------------------

  // False if the connection is gone (its transfer failed or went elsewhere).
  bool send_some(connection& c) {
    auto& t = *c.t;
    if (t.timing.sent == clock::time_point{})
      t.timing.sent = clock::now();
    const auto& body = t.req.body;
    auto total = c.head.size() + body.size();
    while (c.written < total) {
      // The head and the body in one call, without copying the body.
      std::array<iovec, 2> parts{};
      std::size_t count = 0;
      if (c.written < c.head.size())
        parts[count++] = {c.head.data() + c.written, c.head.size() - c.written};
      auto body_from = c.written > c.head.size() ? c.written - c.head.size() : 0;
      if (body_from < body.size())
        parts[count++] = {const_cast<char*>(body.data()) + body_from, body.size() - body_from};
      msghdr msg{};
      msg.msg_iov = parts.data();
      msg.msg_iovlen = count;
      auto n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
      if (n > 0) {
        c.written += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        watch(c, EPOLLIN | EPOLLOUT);
        return true;
      }
      int err = errno;
      if (retry(c))
        return false;
      http_outcome out;
      out.error = "Send failure: " + describe_errno(err);
      fail(t.id, out);
      return false;
    }
    c.sent_all = true;
    // The interest an idle connection has too: a reused connection's
    // request and reply change nothing in the epoll set.
    watch(c, EPOLLIN | EPOLLRDHUP);
    return true;
  }

  void receive(connection& c) {
    for (;;) {
      auto n = ::recv(c.fd, buffer.data(), buffer.size(), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      auto& t = *c.t;
      if (n <= 0) {
        int err = n < 0 ? errno : 0;
        if (retry(c))
          return;
        bool done = false;
        try {
          done = err == 0 && c.reader->closed();
        } catch (...) {
          t.threw = events::describe(std::current_exception());
          events::report_fault("backend", t.threw);
        }
        if (done) {
          succeed(c);
          return;
        }
        http_outcome out;
        out.status = c.reader->status();
        out.error = err != 0 ? "Recv failure: " + describe_errno(err) : c.reader->error();
        fail(t.id, out);
        return;
      }
      if (t.timing.first_byte == clock::time_point{})
        t.timing.first_byte = clock::now();
      bool ok = false;
      try {
        ok = c.reader->feed({buffer.data(), static_cast<std::size_t>(n)});
      } catch (...) {
        t.threw = events::describe(std::current_exception());
        events::report_fault("backend", t.threw);
      }
      if (!ok) {
        http_outcome out;
        out.status = c.reader->status();
        out.error = c.reader->error();
        fail(t.id, out);
        return;
      }
      if (c.reader->complete()) {
        succeed(c);
        return;
      }
      // A short read emptied the socket: the next recv would only say so
      // (EAGAIN), a syscall per streamed token. The poll is level-triggered,
      // so whatever arrives meanwhile is reported again.
      if (static_cast<std::size_t>(n) < buffer.size())
        return;
    }
  }

  void ready(connection& c, std::uint32_t events) {
    if (!c.t) { // idle: the server closed it, or sent what nobody asked for
      close_connection(&c);
      return;
    }
    if (!c.connected) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
        auto& t = *c.t;
        http_outcome out;
        out.connect_failed = true;
        out.error = "Failed to connect to " + t.target.host + " port " +
                    std::to_string(t.target.port) + ": " +
                    describe_errno(err != 0 ? err : ECONNREFUSED);
        fail(t.id, out);
        return;
      }
      c.connected = true;
      auto& t = *c.t;
      arm(t, t.deadline);
      send_some(c);
      return;
    }
    if ((events & EPOLLOUT) && !c.sent_all && !send_some(c))
      return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
      receive(c);
  }

  // --- the loop -------------------------------------------------------------

  void take_requests() {
    std::vector<std::unique_ptr<transfer>> fresh;
    std::vector<std::uint64_t> cancelled;
    in.take(fresh, cancelled);
    for (auto& t : fresh) {
      auto* raw = t.get();
      raw->taken = clock::now();
      raw->deadline = raw->req.timeout_ms > 0
                          ? raw->taken + std::chrono::milliseconds(raw->req.timeout_ms)
                          : clock::time_point::max();
      raw->timer = clock::time_point::max();
      running.emplace(raw->id, std::move(t));
      arm(*raw, raw->deadline);
      dispatch(*raw);
    }
    for (auto id : cancelled)
      fail(id, aborted_outcome());
  }

  void run() {
    while (!poll.stopping()) {
      // Nothing may leave this thread (it would end the process): a turn
      // that throws (out of memory) is reported and the loop goes on.
      try {
        turn();
      } catch (...) {
        events::report_fault("backend", events::describe(std::current_exception()));
      }
    }
  }

  void turn() {
    std::array<epoll_event, 256> events{};
    {
      take_requests();
      int n = ::epoll_wait(poll.fd(), events.data(), static_cast<int>(events.size()), wait_ms());
      for (int i = 0; i < n; ++i) {
        auto& e = events[static_cast<std::size_t>(i)];
        if (e.data.u64 == wake_epoll::wake_tag) {
          poll.drain();
          continue;
        }
        auto c = connections.find(e.data.u64);
        if (c == connections.end())
          continue; // closed by an earlier event of this turn
        ready(*c->second, e.events);
      }
      expire();
    }
  }
};

native_loop::native_loop(long max_per_host)
  : impl_(std::make_unique<impl>(max_per_host)) {}

native_loop::~native_loop() = default;

void native_loop::start(std::uint64_t id, http_request req, native_target target) {
  auto t = std::make_unique<transfer>();
  t->id = id;
  t->req = std::move(req);
  t->key = target.host + "|" + std::to_string(target.port);
  t->target = std::move(target);
  impl_->in.post(std::move(t));
}

void native_loop::abort(std::uint64_t id) {
  impl_->in.cancel(id);
}

} // namespace riposte::adapters::backends
