// The only RESTinio translation unit: binds, reads requests into plain
// `request` values, dispatches them to routes and writes their replies.
#include "http/server.hpp"

#include "events/faults.hpp"
#include "events/json_safe.hpp"
#include "http/connections.hpp"
#include "http/errors.hpp"
#include "http/expect_continue.hpp"
#include "http/validate.hpp"
#include "http/ws_frames.hpp"

#include <poll.h>
#include <pthread.h>
#include <restinio/all.hpp>
#include <restinio/utils/base64.hpp>
#include <restinio/utils/sha1.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>

namespace riposte::http {
class accept_watch;
} // namespace riposte::http

// RESTinio's acceptor gives up on a listening slot whose accept fails (EMFILE:
// out of descriptors) and never accepts again. riposte's connection limiter
// is RESTinio's own accounting plus a way back: the server's watchdog sees a
// listening socket with connections waiting and nothing accepted, and starts
// the slot again through the limiter.
namespace riposte::http {

// The limiter's counts live apart from RESTinio's acceptor, which holds the
// limiter: a connection ends after the acceptor is gone when the server
// stops (asio destroys the pending reads that hold connections last), and its
// lifetime monitor must then find live counts and no acceptor to call.
class limiter_core {
public:
  using acceptor_iface = restinio::connection_count_limits::impl::acceptor_callback_iface_t;

  limiter_core(acceptor_iface* acceptor, std::size_t max, std::size_t slots)
    : acceptor_(acceptor)
    , max_(max) {
    pending_.reserve(slots);
  }

  void increment_parallel_connections() noexcept {
    std::lock_guard guard{mutex_};
    if (armed_ > 0)
      --armed_;
    ++connections_;
    ++accepted_;
  }

  void decrement_parallel_connections() noexcept {
    std::lock_guard guard{mutex_};
    --connections_;
    if (acceptor_ && armed_ + connections_ < max_ && !pending_.empty()) {
      auto next = pending_.back();
      pending_.pop_back();
      acceptor_->schedule_next_accept_attempt(next); // a post: nothing calls back here
    }
  }

  // Called on the acceptor's executor: after every accept, and when the
  // watchdog restarts a stalled slot.
  void accept_next(std::size_t index) noexcept {
    bool now = false;
    {
      std::lock_guard guard{mutex_};
      if (restart_ && index == 0) {
        restart_ = false; // still counted as armed: it never completed
        now = true;
      } else if (armed_ + connections_ < max_) {
        ++armed_;
        now = true;
      } else {
        pending_.push_back(index);
      }
    }
    if (now)
      acceptor_->call_accept_now(index);
  }

  // For the watchdog: (armed slots, connections, accepts so far, whether a
  // slot waits for a connection to end).
  struct snapshot {
    std::size_t armed, connections;
    std::uint64_t accepted;
    bool full;
  };
  snapshot look() {
    std::lock_guard guard{mutex_};
    return {armed_, connections_, accepted_, !pending_.empty()};
  }
  // Starts slot 0 again (the server runs one accepting slot).
  void restart() {
    std::lock_guard guard{mutex_};
    if (!acceptor_)
      return;
    restart_ = true;
    acceptor_->schedule_next_accept_attempt(0);
  }
  void acceptor_gone() {
    std::lock_guard guard{mutex_};
    acceptor_ = nullptr;
  }

private:
  std::mutex mutex_;
  acceptor_iface* acceptor_;
  std::size_t max_;
  std::size_t armed_ = 0;
  std::size_t connections_ = 0;
  std::uint64_t accepted_ = 0;
  std::vector<std::size_t> pending_;
  bool restart_ = false; // the watchdog asked to start slot 0 again
};

// What RESTinio's acceptor holds and calls.
class recovering_limiter {
public:
  using acceptor_iface = limiter_core::acceptor_iface;

  recovering_limiter(restinio::not_null_pointer_t<acceptor_iface> acceptor,
                     restinio::connection_count_limits::max_parallel_connections_t max,
                     restinio::connection_count_limits::max_active_accepts_t slots);
  ~recovering_limiter();
  recovering_limiter(const recovering_limiter&) = delete;
  recovering_limiter& operator=(const recovering_limiter&) = delete;

  void accept_next(std::size_t index) noexcept { core_->accept_next(index); }
  const std::shared_ptr<limiter_core>& core() const noexcept { return core_; }

private:
  std::shared_ptr<limiter_core> core_;
  accept_watch* watch_ = nullptr;
};

// One connection's place in the count, held by the connection (or the
// WebSocket it becomes) and given back when it ends.
class connection_slot {
public:
  explicit connection_slot(restinio::not_null_pointer_t<recovering_limiter> limiter) noexcept
    : core_(limiter->core()) {
    core_->increment_parallel_connections();
  }
  connection_slot(connection_slot&&) noexcept = default;
  connection_slot& operator=(connection_slot&& other) noexcept {
    std::swap(core_, other.core_);
    return *this;
  }
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  ~connection_slot() {
    if (core_)
      core_->decrement_parallel_connections();
  }

private:
  std::shared_ptr<limiter_core> core_;
};

// The watchdog's view of one server's acceptor: the limiter RESTinio makes
// for the server registers here as it is constructed.
class accept_watch {
public:
  void attach(std::shared_ptr<limiter_core> l) {
    std::lock_guard guard{mutex_};
    limiter_ = std::move(l);
  }
  void detach() {
    std::lock_guard guard{mutex_};
    limiter_.reset();
  }
  void set_listen_fd(int fd) { listen_fd_.store(fd); }
  void server_stopped() {
    std::lock_guard guard{mutex_};
    if (limiter_)
      limiter_->acceptor_gone();
  }

  struct outcome {
    bool restarted = false;
    std::size_t closed_idle = 0;
    bool full = false; // every slot taken: look again soon
  };

  // One watchdog tick.
  // - A slot armed, connections waiting in the backlog and nothing accepted
  //   for `stalled_ticks` ticks in a row means the accept failed and the slot
  //   is dead: start it again.
  // - Every slot taken and connections waiting: close as many idle
  //   connections as wait, the longest idle first.
  outcome tick(connection_registry& connections, std::chrono::milliseconds min_idle) {
    std::lock_guard guard{mutex_};
    outcome out;
    if (!limiter_)
      return out;
    auto s = limiter_->look();
    out.full = s.full;
    int fd = listen_fd_.load();
    bool waiting = false;
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      waiting = ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
    }
    if (s.full && waiting)
      out.closed_idle =
          connections.close_idle(std::max<std::size_t>(accept_queue_length(fd), 1), min_idle);
    if (s.armed == 0 || !waiting || s.accepted != last_accepted_) {
      last_accepted_ = s.accepted;
      stalled_ = 0;
      return out;
    }
    if (++stalled_ < stalled_ticks)
      return out;
    stalled_ = 0;
    limiter_->restart();
    out.restarted = true;
    return out;
  }
  static constexpr int stalled_ticks = 4; // of 250 ms

private:
  std::mutex mutex_;
  std::shared_ptr<limiter_core> limiter_;
  std::atomic<int> listen_fd_{-1};
  std::uint64_t last_accepted_ = 0;
  int stalled_ = 0;
};

namespace {
// Set while RESTinio builds a server on this thread: its limiter and its
// first sockets find their server's watch and registry here.
thread_local accept_watch* constructing_watch = nullptr;
thread_local const std::shared_ptr<connection_registry>* constructing_registry = nullptr;
} // namespace

recovering_limiter::recovering_limiter(
    restinio::not_null_pointer_t<acceptor_iface> acceptor,
    restinio::connection_count_limits::max_parallel_connections_t max,
    restinio::connection_count_limits::max_active_accepts_t slots)
  : core_(std::make_shared<limiter_core>(acceptor, max.value(), slots.value()))
  , watch_(constructing_watch) {
  if (watch_)
    watch_->attach(core_);
}

recovering_limiter::~recovering_limiter() {
  core_->acceptor_gone();
  if (watch_)
    watch_->detach();
}

// A TCP socket that answers `Expect: 100-continue` on a connection's first
// request (expect_continue.hpp says why), the same way RESTinio's own TLS
// adapter wraps a stream, and tells its connection's watch (connections.hpp)
// when reads and writes start and end: everything else goes straight to the
// socket.
class continuing_socket {
public:
  using socket_t = restinio::asio_ns::ip::tcp::socket;
  using executor_type = restinio::default_asio_executor;
  using error_code = restinio::asio_ns::error_code;

  explicit continuing_socket(restinio::asio_ns::io_context& io)
    : socket_{std::make_unique<socket_t>(io)}
    , scan_{std::make_shared<expect_scanner>()}
    , registry_{constructing_registry ? *constructing_registry : nullptr} {}
  // RESTinio's acceptor moves a socket out of its pool and accepts into the
  // same place again: what is left behind is a fresh socket, as asio's is.
  continuing_socket(continuing_socket&& other) noexcept
    : socket_{std::move(other.socket_)}
    , scan_{std::move(other.scan_)}
    , registry_{other.registry_}
    , watch_{std::move(other.watch_)}
    , id_{other.id_} {
    other.renew(socket_->get_executor());
  }
  continuing_socket& operator=(continuing_socket&& other) noexcept {
    if (this != &other) {
      leave();
      socket_ = std::move(other.socket_);
      scan_ = std::move(other.scan_);
      registry_ = other.registry_;
      watch_ = std::move(other.watch_);
      id_ = other.id_;
      other.renew(socket_->get_executor());
    }
    return *this;
  }
  continuing_socket(const continuing_socket&) = delete;
  continuing_socket& operator=(const continuing_socket&) = delete;
  ~continuing_socket() { leave(); }

  // The connection this socket now carries, by the server's id for it.
  void enroll(std::uint64_t id) {
    if (!registry_ || watch_)
      return;
    watch_ = std::make_shared<connection_watch>(socket_->native_handle());
    id_ = id;
    registry_->enroll(id, watch_);
  }
  // Became a WebSocket: never closed as an idle HTTP connection.
  void pin() noexcept {
    if (watch_)
      watch_->pin();
  }

  socket_t& lowest_layer() { return *socket_; }
  const socket_t& lowest_layer() const { return *socket_; }
  auto get_executor() { return socket_->get_executor(); }
  auto remote_endpoint() const { return socket_->remote_endpoint(); }
  bool is_open() const { return socket_->is_open(); }
  template <typename... Args>
  void cancel(Args&&... args) {
    socket_->cancel(std::forward<Args>(args)...);
  }
  template <typename... Args>
  void shutdown(Args&&... args) {
    socket_->shutdown(std::forward<Args>(args)...);
  }
  template <typename... Args>
  void close(Args&&... args) {
    if (watch_)
      watch_->closing(); // its descriptor may be reused from here on
    socket_->close(std::forward<Args>(args)...);
  }

  template <typename Buffers, typename Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (!watch_) {
      socket_->async_write_some(buffers, std::forward<Handler>(handler));
      return;
    }
    watch_->write_started();
    auto executor = restinio::asio_ns::get_associated_executor(handler, socket_->get_executor());
    socket_->async_write_some(buffers,
                              restinio::asio_ns::bind_executor(
                                  executor, [watch = watch_, h = std::forward<Handler>(handler)](
                                                const error_code& ec, std::size_t n) mutable {
                                    watch->write_done();
                                    h(ec, n);
                                  }));
  }

  // Reads as the socket does; until the first header block has ended, the
  // bytes are looked at first, and a block that asks is answered with
  // `100 Continue` before anyone reads them.
  template <typename Buffer, typename Handler>
  void async_read_some(const Buffer& buffer, Handler&& handler) {
    if (scan_->done() && !watch_) {
      socket_->async_read_some(buffer, std::forward<Handler>(handler));
      return;
    }
    if (watch_)
      watch_->read_started();
    auto executor = restinio::asio_ns::get_associated_executor(handler, socket_->get_executor());
    socket_->async_read_some(
        buffer,
        restinio::asio_ns::bind_executor(
            executor,
            [scan = scan_, watch = watch_, socket = socket_.get(), buffer,
             h = std::forward<Handler>(handler)](const error_code& ec, std::size_t n) mutable {
              if (watch)
                watch->read_done(ec ? 0 : n);
              if (!ec && n > 0 && !scan->done() &&
                  scan->feed({static_cast<const char*>(buffer.data()), n})) {
                // Nothing else is on the wire before a first request's
                // answer: a few bytes on an empty send buffer.
                static constexpr std::string_view go = "HTTP/1.1 100 Continue\r\n\r\n";
                error_code ignored;
                restinio::asio_ns::write(*socket, restinio::asio_ns::buffer(go.data(), go.size()),
                                         ignored);
              }
              h(ec, n);
            }));
  }

private:
  void renew(const socket_t::executor_type& executor) {
    socket_ = std::make_unique<socket_t>(executor);
    scan_ = std::make_shared<expect_scanner>();
    watch_.reset();
  }
  void leave() noexcept {
    if (!watch_)
      return;
    watch_->closing();
    registry_->forget(id_);
    watch_.reset();
  }

  std::unique_ptr<socket_t> socket_;
  std::shared_ptr<expect_scanner> scan_;
  std::shared_ptr<connection_registry> registry_;
  std::shared_ptr<connection_watch> watch_; // once it carries a connection
  std::uint64_t id_ = 0;
};

// What RESTinio's connection asks of a plain socket (found by argument
// lookup): nothing to prepare but its enrollment, and no TLS to tell a state
// listener of.
template <typename Connection, typename Start_Read_CB, typename Failed_CB>
void prepare_connection_and_start_read(continuing_socket& socket, Connection& connection,
                                       Start_Read_CB start_read, Failed_CB) {
  socket.enroll(connection.connection_id());
  start_read();
}
inline restinio::impl::tls_socket_t*
make_tls_socket_pointer_for_state_listener(continuing_socket&) noexcept {
  return nullptr;
}

struct riposte_traits : public restinio::default_traits_t {
  static constexpr bool use_connection_count_limiter = true;
  using stream_socket_t = continuing_socket;
};

} // namespace riposte::http

template <>
struct restinio::connection_count_limit_types<riposte::http::riposte_traits> {
  using limiter_t = riposte::http::recovering_limiter;
  using lifetime_monitor_t = riposte::http::connection_slot;
};

namespace riposte::http {

namespace {

std::string generate_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "req_";
  for (int i = 0; i < 32; ++i)
    id.push_back(hex[rng() & 15u]);
  return id;
}

// A client's request id is echoed only when it is short and printable.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id)
    if (std::isprint(static_cast<unsigned char>(c)) == 0)
      return false;
  return true;
}

// Replies may come from any thread at any time, also while the server stops:
// once it has stopped (its io_context is going away) they are dropped.
struct server_gate {
  std::shared_mutex mutex;
  bool open = true;
};

class restinio_stream final : public chunk_stream {
public:
  using builder_t = restinio::response_builder_t<restinio::chunked_output_t>;
  restinio_stream(builder_t builder, std::shared_ptr<server_gate> gate, flight_ticket ticket)
    : builder_(std::move(builder))
    , gate_(std::move(gate))
    , ticket_(std::move(ticket)) {}

  void write(std::string bytes, std::function<void(bool)> written) override {
    bool ok = false;
    {
      std::shared_lock open{gate_->mutex};
      std::lock_guard guard{mutex_};
      if (gate_->open && !done_) {
        try {
          builder_.append_chunk(std::move(bytes));
          builder_.flush([written](const auto& ec) {
            if (written)
              written(!ec);
          });
          ok = true;
        } catch (...) {
          done_ = true; // the connection is gone
        }
      }
    }
    if (!ok && written)
      written(false);
  }

  void finish() override {
    std::shared_lock open{gate_->mutex};
    std::lock_guard guard{mutex_};
    if (done_ || !gate_->open)
      return;
    done_ = true;
    try {
      builder_.done();
    } catch (...) {
    }
    ticket_.release();
  }

private:
  std::mutex mutex_;
  builder_t builder_;
  std::shared_ptr<server_gate> gate_;
  flight_ticket ticket_; // the connection is busy until the last chunk
  bool done_ = false;
};

// One upgraded connection, read and written with riposte's own framing
// (ws_frames.hpp says why). Reads, timers and the socket live on the
// connection's strand; sends come from any thread through the queue. It
// keeps RESTinio's connection count until it ends, so WebSockets count
// against --max-connections like any connection. A silent peer is pinged,
// and let go when it stays silent (a half-open connection); a close riposte
// starts is followed by a short drain, so the peer reads the close frame
// rather than a reset.
class ws_connection final : public ws_channel, public std::enable_shared_from_this<ws_connection> {
public:
  using connection_t = restinio::impl::connection_t<riposte_traits>;
  using internals_t = connection_t::upgrade_internals_t;
  using strand_t = restinio::asio_ns::strand<restinio::default_asio_executor>;
  using timer_t = restinio::asio_ns::steady_timer;
  using clock = std::chrono::steady_clock;

  ws_connection(std::shared_ptr<server_gate> gate, const server_options& opts)
    : gate_(std::move(gate))
    , reader_(static_cast<std::size_t>(opts.ws_max_message_bytes))
    , idle_(opts.ws_ping_interval)
    , max_pending_(opts.ws_max_pending_bytes) {}

  // Takes the socket from RESTinio, sends the 101 and starts reading.
  void start(internals_t internals, std::string handshake, std::shared_ptr<ws_session> session) {
    internals_.emplace(std::move(internals));
    internals_->m_socket.pin();
    strand_.emplace(internals_->m_socket.get_executor());
    idle_timer_.emplace(*strand_);
    drain_timer_.emplace(*strand_);
    session_ = std::move(session);
    last_heard_ = clock::now();
    {
      std::lock_guard guard{mutex_};
      started_ = true;
      queue_.push_front({std::move(handshake), {}});
      writing_ = true;
    }
    on_strand([](ws_connection& c) {
      c.write_some();
      c.read_some();
      c.arm_idle_timer();
    });
  }

  void send_text(std::string text, std::function<void(bool)> written) override {
    enqueue(ws::encode(ws::opcode::text, text), std::move(written), false);
  }

  void ping() override { enqueue(ws::encode(ws::opcode::ping, {}), {}, false); }

  void close(std::uint16_t code, std::string reason) override {
    enqueue(ws::encode(ws::opcode::close, ws::close_payload(code, reason)), {}, true);
  }

  void post(std::function<void()> fn) override {
    on_strand([fn = std::move(fn)](ws_connection&) { fn(); });
  }

  bool finished() {
    std::lock_guard guard{mutex_};
    return finished_;
  }

  // The server stopped (its I/O threads are gone): the socket, the timers
  // and the strand go now, before the I/O context they belong to.
  void drop() {
    {
      std::lock_guard guard{mutex_};
      dead_ = true;
    }
    finish();
    idle_timer_.reset();
    drain_timer_.reset();
    strand_.reset();
  }

private:
  struct outgoing {
    std::string bytes;
    std::function<void(bool)> written;
  };

  // Queues a frame (any thread); `then_close`: the close frame, after which
  // nothing more goes out and the connection ends once it is written.
  void enqueue(std::string bytes, std::function<void(bool)> written, bool then_close) {
    bool refused = false, kick = false;
    std::vector<outgoing> dropped;
    {
      std::lock_guard guard{mutex_};
      if (dead_ || closing_) {
        refused = true;
      } else {
        if (!then_close && pending_ > 0 && pending_ + bytes.size() > max_pending_) {
          // A client this far behind is let go: what waits is dropped, and
          // the close frame takes its place.
          for (auto& o : queue_) {
            pending_ -= std::min(pending_, o.bytes.size());
            dropped.push_back(std::move(o));
          }
          queue_.clear();
          dropped.push_back({std::move(bytes), std::move(written)});
          written = nullptr;
          bytes = ws::encode(ws::opcode::close,
                             ws::close_payload(ws::close_code::policy_violation,
                                               "client too slow: too many bytes unread"));
          then_close = true;
        }
        pending_ += bytes.size();
        queue_.push_back({std::move(bytes), std::move(written)});
        closing_ = then_close;
        if (started_ && !writing_) {
          writing_ = true;
          kick = true;
        }
      }
    }
    for (auto& d : dropped)
      if (d.written)
        d.written(false);
    if (refused && written)
      written(false);
    if (kick)
      on_strand([](ws_connection& c) { c.write_some(); });
    if (then_close && !refused)
      on_strand([](ws_connection& c) { c.closing_started(); });
  }

  template <class Fn>
  void on_strand(Fn fn) {
    std::shared_lock open{gate_->mutex};
    if (!gate_->open || !strand_)
      return;
    restinio::asio_ns::post(*strand_, [self = shared_from_this(), fn = std::move(fn)]() mutable {
      try {
        fn(*self);
      } catch (...) { // nothing may escape into the I/O thread
        events::report_fault("websocket", events::describe(std::current_exception()));
        self->finish();
      }
    });
  }

  // Wraps a completion handler: on the strand, exceptions contained.
  template <class Fn>
  auto guarded(Fn fn) {
    return restinio::asio_ns::bind_executor(
        *strand_, [self = shared_from_this(), fn = std::move(fn)](auto&&... args) mutable {
          try {
            fn(*self, std::forward<decltype(args)>(args)...);
          } catch (...) {
            events::report_fault("websocket", events::describe(std::current_exception()));
            self->finish();
          }
        });
  }

  bool open() const { return internals_ && internals_->m_socket.is_open(); }

  // On the strand, once the close frame is queued: the session stops now
  // (its running response is cancelled, nothing waiting runs), and the
  // connection ends within a few seconds whether or not the peer reads.
  void closing_started() {
    tell_session();
    drain_timer_->expires_after(std::chrono::seconds(5));
    drain_timer_->async_wait(guarded([](ws_connection& c, const auto& ec) {
      if (!ec)
        c.finish();
    }));
  }

  void tell_session() {
    auto session = std::move(session_);
    if (session) {
      try {
        session->on_closed();
      } catch (...) {
      }
    }
  }

  // On the strand: everything queued goes out in one write.
  void write_some() {
    auto batch = std::make_shared<std::vector<outgoing>>();
    bool last = false;
    {
      std::lock_guard guard{mutex_};
      batch->assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
      if (batch->empty()) {
        writing_ = false;
        return;
      }
      last = closing_;
    }
    if (!open())
      return written(*batch, false);
    std::vector<restinio::asio_ns::const_buffer> buffers;
    buffers.reserve(batch->size());
    for (const auto& o : *batch)
      buffers.emplace_back(o.bytes.data(), o.bytes.size());
    restinio::asio_ns::async_write(
        internals_->m_socket, buffers,
        guarded([batch, last](ws_connection& c, const auto& ec, std::size_t n) {
          {
            std::lock_guard guard{c.mutex_};
            c.bytes_written_ += n;
          }
          c.written(*batch, !ec);
          if (ec || !c.open())
            return c.finish();
          bool more = false;
          {
            std::lock_guard guard{c.mutex_};
            more = !c.queue_.empty();
          }
          if (last && !more)
            return c.after_close_frame();
          c.write_some();
        }));
  }

  void written(std::vector<outgoing>& batch, bool ok) {
    std::size_t size = 0;
    for (auto& o : batch) {
      size += o.bytes.size();
      if (o.written)
        o.written(ok);
    }
    std::lock_guard guard{mutex_};
    pending_ -= std::min(pending_, size);
  }

  // Our close frame is out. Answering the peer's close, the connection
  // ends; otherwise the peer gets a moment to answer (its bytes are read
  // and dropped), so that it reads the frame rather than a reset.
  void after_close_frame() {
    if (peer_closed_ || !open())
      return finish();
    draining_ = true;
    restinio::asio_ns::error_code ignored;
    internals_->m_socket.shutdown(restinio::asio_ns::ip::tcp::socket::shutdown_send, ignored);
    drain_timer_->expires_after(std::chrono::seconds(2));
    drain_timer_->async_wait(guarded([](ws_connection& c, const auto& ec) {
      if (!ec)
        c.finish();
    }));
    if (!reading_)
      read_some();
  }

  // On the strand.
  void read_some() {
    if (!open() || reading_)
      return;
    reading_ = true;
    internals_->m_socket.async_read_some(
        restinio::asio_ns::buffer(in_),
        guarded([](ws_connection& c, const auto& ec, std::size_t n) {
          c.reading_ = false;
          if (ec)
            return c.finish();
          c.received(n);
        }));
  }

  bool closing() {
    std::lock_guard guard{mutex_};
    return closing_;
  }

  void received(std::size_t n) {
    last_heard_ = clock::now();
    if (draining_ || reader_.stopped())
      return read_some(); // after a close: read to the end, handle nothing
    std::vector<ws::incoming> got;
    reader_.feed(std::string_view{in_.data(), n}, got);
    for (auto& m : got) {
      if (closing() && m.kind != ws::incoming::close)
        continue; // after our close frame nothing more is handled
      switch (m.kind) {
        case ws::incoming::message:
          if (m.binary)
            close(ws::close_code::unsupported_data, "binary messages are not supported");
          else if (session_)
            session_->on_text(std::move(m.payload));
          break;
        case ws::incoming::ping: enqueue(ws::encode(ws::opcode::pong, m.payload), {}, false); break;
        case ws::incoming::pong: break;
        case ws::incoming::close: // answered with its code (RFC 6455 section 5.5.1)
          peer_closed_ = true;
          if (closing())
            return finish(); // both sides have closed
          close(m.code == 1005 ? ws::close_code::normal : m.code, {});
          break;
        case ws::incoming::fault: close(m.code, m.payload); break;
      }
    }
    read_some();
  }

  // Every idle interval: a peer silent for one is pinged; one that says
  // nothing in the interval after the ping is gone (the connection is
  // half-open); a write stuck for two intervals is let go.
  void arm_idle_timer() {
    idle_timer_->expires_after(idle_);
    idle_timer_->async_wait(guarded([](ws_connection& c, const auto& ec) {
      if (ec || c.finished())
        return;
      auto now = clock::now();
      if (c.pinged_ && c.last_heard_ <= c.pinged_at_)
        return c.finish();
      c.pinged_ = false;
      auto silent = now - c.last_heard_;
      bool stuck = false;
      {
        std::lock_guard guard{c.mutex_};
        stuck = c.writing_ && c.pending_ > 0 && c.bytes_written_ == c.written_at_tick_;
      }
      c.stuck_ticks_ = stuck ? c.stuck_ticks_ + 1 : 0;
      {
        std::lock_guard guard{c.mutex_};
        c.written_at_tick_ = c.bytes_written_;
      }
      if (c.stuck_ticks_ >= 2)
        return c.finish();
      if (silent >= c.idle_) {
        c.ping();
        c.pinged_ = true;
        c.pinged_at_ = now;
      }
      c.arm_idle_timer();
    }));
  }

  // The connection is over (on the strand, or after the I/O threads ended).
  void finish() {
    std::vector<outgoing> unsent;
    {
      std::lock_guard guard{mutex_};
      dead_ = true;
      if (finished_)
        return;
      finished_ = true;
      unsent.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    written(unsent, false);
    restinio::asio_ns::error_code ignored;
    if (idle_timer_)
      idle_timer_->cancel(ignored);
    if (drain_timer_)
      drain_timer_->cancel(ignored);
    if (internals_) {
      internals_->m_socket.shutdown(restinio::asio_ns::ip::tcp::socket::shutdown_both, ignored);
      internals_->m_socket.close(ignored);
      internals_.reset(); // the connection count goes down
    }
    tell_session();
  }

  std::shared_ptr<server_gate> gate_;
  std::optional<internals_t> internals_;
  std::optional<strand_t> strand_;
  std::optional<timer_t> idle_timer_;
  std::optional<timer_t> drain_timer_;
  std::shared_ptr<ws_session> session_;
  ws::reader reader_;
  std::array<char, 16384> in_{};
  // The strand's own.
  bool reading_ = false;
  bool draining_ = false;
  bool peer_closed_ = false;
  clock::time_point last_heard_;
  clock::time_point pinged_at_;
  bool pinged_ = false; // a ping went out at the last tick
  std::uint64_t written_at_tick_ = 0;
  int stuck_ticks_ = 0;
  std::chrono::milliseconds idle_;
  // Under the mutex.
  std::mutex mutex_;
  std::deque<outgoing> queue_;
  std::size_t pending_ = 0;
  std::size_t max_pending_;
  std::uint64_t bytes_written_ = 0;
  bool started_ = false;
  bool writing_ = false;
  bool closing_ = false; // the close frame is queued: nothing more goes out
  bool dead_ = false;
  bool finished_ = false;
};

std::string reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

restinio::request_handling_status_t restinio_server_reply(const restinio::request_handle_t& req,
                                                          const std::string& request_id,
                                                          response out) {
  auto builder = req->create_response(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(out.status)}, reason(out.status)});
  builder.append_header(restinio::http_field::content_type, out.content_type);
  if (!request_id.empty())
    builder.append_header("x-request-id", request_id);
  for (auto& [name, value] : out.headers)
    builder.append_header(name, value);
  builder.set_body(std::move(out.body));
  builder.done();
  return restinio::request_accepted();
}

// What the server tells its observer about one request, once.
struct exchange_observer {
  std::function<void(const answer&)> on_answer;
  std::function<void(int)> on_flight;
  bool observe_bodies = false;
};

class restinio_exchange final : public exchange {
public:
  restinio_exchange(restinio::request_handle_t req, const request& in,
                    std::shared_ptr<const exchange_observer> observer,
                    std::shared_ptr<server_gate> gate)
    : req_(std::move(req))
    , gate_(std::move(gate))
    , request_id_(in.request_id)
    , method_(in.method)
    , note_(in.note)
    , observer_(std::move(observer))
    , start_(std::chrono::steady_clock::now()) {
    if (observer_ && observer_->on_flight)
      observer_->on_flight(+1);
  }

  void set_route(std::string route) { route_ = std::move(route); }
  // The connection counts as busy until the answer is handed over.
  void hold(flight_ticket ticket) { ticket_ = std::move(ticket); }

  // The request became a WebSocket: logged as answered with 101.
  void upgraded() { answered(101); }

  void reply(response out) override {
    answered(out.status, out.error_code);
    std::shared_lock open{gate_->mutex};
    if (!gate_->open)
      return;
    try {
      restinio_server_reply(req_, request_id_, std::move(out));
    } catch (...) {
      // The connection is gone, or the reply could not be built: nothing
      // else can be told.
    }
    ticket_.release();
  }

  std::shared_ptr<chunk_stream>
  stream(const std::string& content_type,
         const std::vector<std::pair<std::string, std::string>>& headers) override {
    answered(200);
    std::shared_lock open{gate_->mutex};
    auto builder = req_->create_response<restinio::chunked_output_t>();
    builder.append_header(restinio::http_field::content_type, content_type);
    builder.append_header("x-request-id", request_id_);
    for (const auto& [name, value] : headers)
      builder.append_header(name, value);
    if (gate_->open) {
      try {
        builder.flush();
      } catch (...) {
      }
    }
    return std::make_shared<restinio_stream>(std::move(builder), gate_, std::move(ticket_));
  }

private:
  void answered(int status, const std::string& error_code = {}) {
    if (done_.exchange(true) || observer_ == nullptr)
      return;
    if (observer_->on_answer) {
      answer a{route_,
               method_,
               status,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
               request_id_,
               error_code,
               *note_,
               {}};
      if (observer_->observe_bodies)
        a.request_body = req_->body();
      observer_->on_answer(a);
    }
    if (observer_->on_flight)
      observer_->on_flight(-1);
  }

  restinio::request_handle_t req_;
  std::shared_ptr<server_gate> gate_;
  std::string request_id_;
  std::string method_;
  std::shared_ptr<request_note> note_;
  std::string route_ = "unmatched";
  // Shared: an answer may come after the server is gone (shutdown).
  std::shared_ptr<const exchange_observer> observer_;
  std::chrono::steady_clock::time_point start_;
  flight_ticket ticket_;
  std::atomic<bool> done_{false};
};

// In a catch block: one request's failure is that request's 500, nothing
// more.
void answer_fault(const reply_fn& done) {
  events::report_fault("http", events::describe(std::current_exception()));
  done(to_http(events::server_fault()));
}

class restinio_server final : public server {
public:
  using handle_t = restinio::running_server_handle_t<riposte_traits>;

  restinio_server(std::vector<route> routes, std::vector<ws_route> ws_routes)
    : routes_(std::move(routes))
    , ws_routes_(std::move(ws_routes)) {}

  ~restinio_server() override { stop(); }

  events::status start(const server_options& opts) {
    auto self = this;
    max_body_bytes_ = opts.max_body_bytes;
    opts_ = opts;
    // RESTinio's one cap: the largest body any route takes. Smaller per-route
    // limits are answered with 413 once the route is known.
    auto largest = opts.max_body_bytes;
    for (const auto& r : routes_)
      largest = std::max(largest, r.max_body_bytes);
    observer_ = std::make_shared<const exchange_observer>(
        exchange_observer{opts.on_answer, opts.on_flight, opts.observe_bodies});
    on_accept_restart_ = opts.on_accept_restart;
    try {
      // The limiter and sockets RESTinio makes register with these.
      constructing_watch = &watch_;
      constructing_registry = &connections_;
      // The io_context knows how many threads run it: with one, asio hands
      // its reactor to no other thread after each handler.
      auto threads = std::max<std::size_t>(opts.threads, 1);
      handle_ = restinio::run_async<riposte_traits>(
          restinio::io_context_holder_t{std::make_shared<restinio::asio_ns::io_context>(
              static_cast<int>(std::min<std::size_t>(threads, 64)))},
          restinio::server_settings_t<riposte_traits>{}
              .address(opts.host)
              .port(opts.port)
              .handle_request_timeout(opts.request_timeout)
              .write_http_response_timelimit(opts.request_timeout)
              .read_next_http_message_timelimit(opts.read_timeout)
              .max_pipelined_requests(std::max<std::size_t>(opts.max_pipelined, 1))
              .max_parallel_connections(std::max<std::size_t>(opts.max_connections, 1))
              .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                            .max_body_size(largest)
                                            .max_url_size(opts.max_url_bytes)
                                            .max_field_name_size(1024)
                                            .max_field_value_size(opts.max_header_bytes)
                                            .max_field_count(opts.max_headers))
              .socket_options_setter([](auto& options) {
                options.set_option(restinio::asio_ns::ip::tcp::no_delay{true});
              })
              .acceptor_post_bind_hook([self](restinio::asio_ns::ip::tcp::acceptor& acceptor) {
                self->port_ = acceptor.local_endpoint().port();
                self->watch_.set_listen_fd(acceptor.native_handle());
              })
              .request_handler(
                  [self](restinio::request_handle_t req) { return self->handle(req); }),
          threads);
      constructing_watch = nullptr;
      constructing_registry = nullptr;
    } catch (const std::exception& ex) {
      constructing_watch = nullptr;
      constructing_registry = nullptr;
      return events::make_error(events::riposte_errc::internal,
                                "cannot listen on " + opts.host + ":" + std::to_string(opts.port) +
                                    ": " + ex.what());
    }
    watchdog_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "riposte.accept");
      std::unique_lock lock{watchdog_mutex_};
      bool full = false;
      while (!watchdog_stop_) {
        // At the limit, connections waiting are looked for more often.
        watchdog_wake_.wait_for(lock, std::chrono::milliseconds(full ? 50 : 250));
        if (watchdog_stop_)
          break;
        // Nothing may leave this thread (it would end the process): a tick
        // that throws (out of memory listing idle connections, a callback)
        // is reported and the next one tries again.
        try {
          auto out = watch_.tick(*connections_, opts_.idle_close_after);
          full = out.full;
          if (out.restarted && on_accept_restart_)
            on_accept_restart_();
          if (out.closed_idle > 0 && opts_.on_idle_closed)
            opts_.on_idle_closed(out.closed_idle);
        } catch (...) {
          events::report_fault("http.accept", events::describe(std::current_exception()));
        }
      }
    });
    return events::ok();
  }

  std::uint16_t port() const override { return port_.load(); }

  void stop() override {
    if (watchdog_.joinable()) {
      {
        std::lock_guard guard{watchdog_mutex_};
        watchdog_stop_ = true;
      }
      watchdog_wake_.notify_all();
      watchdog_.join();
    }
    if (handle_) {
      // WebSocket clients are told (1001), and get a moment to answer.
      std::vector<std::shared_ptr<ws_connection>> open;
      {
        std::lock_guard guard{ws_mutex_};
        for (auto& weak : ws_connections_)
          if (auto c = weak.lock())
            open.push_back(std::move(c));
      }
      for (auto& c : open)
        c->close(ws::close_code::going_away, "server shutting down");
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
      while (std::chrono::steady_clock::now() < until &&
             std::any_of(open.begin(), open.end(), [](auto& c) { return !c->finished(); }))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      open.clear();
      handle_->stop();
      handle_->wait();
      // Connections that end from here on (some on other threads, holding a
      // request) must not ask the acceptor for more.
      watch_.server_stopped();
      {
        std::unique_lock closing{gate_->mutex};
        gate_->open = false;
      }
      // Upgraded sockets belong to the I/O context that is about to go.
      std::vector<std::weak_ptr<ws_connection>> sockets;
      {
        std::lock_guard guard{ws_mutex_};
        sockets.swap(ws_connections_);
      }
      for (auto& weak : sockets)
        if (auto c = weak.lock())
          c->drop();
      handle_.reset();
    }
  }

private:
  restinio::request_handling_status_t handle(const restinio::request_handle_t& req) noexcept {
    try {
      return dispatch(req);
    } catch (...) {
      // Nothing may close a connection without an answer.
      try {
        return restinio_server_reply(req, "", to_http(events::server_fault()));
      } catch (...) {
        return restinio::request_rejected();
      }
    }
  }

  restinio::request_handling_status_t dispatch(const restinio::request_handle_t& req) {
    auto in = std::make_shared<request>();
    in->method = std::string{req->header().method().c_str()};
    in->path = std::string{req->header().path()};
    in->query = std::string{req->header().query()};
    for (const auto& field : req->header())
      in->headers.emplace_back(field.name(), field.value());
    in->body = req->body();
    in->body_owner = req;
    auto client_id = in->header("x-request-id");
    in->request_id =
        client_id && acceptable_request_id(*client_id) ? *client_id : generate_request_id();
    auto channel = std::make_shared<restinio_exchange>(req, *in, observer_, gate_);
    channel->hold(flight_ticket{connections_->find(req->connection_id())});
    in->reply_channel = channel;
    auto done = [channel](response out) { channel->reply(std::move(out)); };
    auto too_large = [&](std::uint64_t limit) {
      if (in->body.size() <= limit)
        return false;
      done(to_http(events::make_error(events::riposte_errc::payload_too_large,
                                      "The request body is " + std::to_string(in->body.size()) +
                                          " bytes; this endpoint accepts at most " +
                                          std::to_string(limit) + " bytes.")));
      return true;
    };
    try {
      if (!ws_routes_.empty() && in->method == "GET" && wants_websocket(*in))
        for (const auto& w : ws_routes_)
          if (w.path == in->path) {
            channel->set_route(w.path);
            if (auto bad = check_request_bytes(*in, {}, {})) {
              done(to_http(*bad));
              return restinio::request_accepted();
            }
            return upgrade(req, *in, w, channel);
          }
      std::vector<std::string> params;
      for (const auto& r : routes_) {
        params.clear();
        if (!match_pattern(r.pattern, in->path, params))
          continue;
        if (r.method != in->method)
          continue;
        channel->set_route(r.pattern); // a pattern, never an id: bounded label values
        if (too_large(r.max_body_bytes ? r.max_body_bytes : max_body_bytes_))
          return restinio::request_accepted();
        if (auto bad = check_request_bytes(*in, r.pattern, params)) {
          done(to_http(*bad));
          return restinio::request_accepted();
        }
        if (opts_.offload.takes(in->body.size())) {
          // A large body is parsed off the io thread, which every other
          // connection waits on.
          opts_.offload.run([handle = r.handle, in, params, done] {
            try {
              handle(*in, params, done);
            } catch (...) {
              answer_fault(done);
            }
          });
          return restinio::request_accepted();
        }
        r.handle(*in, params, done);
        return restinio::request_accepted();
      }
      if (too_large(max_body_bytes_))
        return restinio::request_accepted();
      if (auto bad = check_request_bytes(*in, {}, {})) {
        done(to_http(*bad));
        return restinio::request_accepted();
      }
      done(unknown_url(*in));
    } catch (...) {
      answer_fault(done);
    }
    return restinio::request_accepted();
  }

  // Whether a comma-separated header value holds `token` (any case).
  static bool has_token(const std::optional<std::string>& value, std::string_view token) {
    if (!value)
      return false;
    std::string lower;
    for (char ch : *value)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    return lower.find(token) != std::string::npos;
  }

  // An `Upgrade: websocket` request (RFC 6455 section 4.2.1).
  static bool wants_websocket(const request& in) {
    return has_token(in.header("upgrade"), "websocket");
  }

  restinio::request_handling_status_t upgrade(const restinio::request_handle_t& req,
                                              const request& in, const ws_route& w,
                                              const std::shared_ptr<restinio_exchange>& channel) {
    auto refuse = [&](response out) {
      channel->reply(std::move(out));
      return restinio::request_accepted();
    };
    auto key = in.header("sec-websocket-key");
    auto version = in.header("sec-websocket-version");
    if (!has_token(in.header("connection"), "upgrade"))
      return refuse(to_http(events::make_error(events::riposte_errc::invalid_request,
                                               "A WebSocket upgrade needs Connection: Upgrade.",
                                               "Connection")));
    if (!version || *version != "13") {
      auto out = to_http(events::make_error(
          events::riposte_errc::invalid_request,
          "This server speaks WebSocket version 13; send Sec-WebSocket-Version: 13.",
          "Sec-WebSocket-Version"));
      out.status = 426;
      out.headers.emplace_back("Sec-WebSocket-Version", "13");
      return refuse(std::move(out));
    }
    if (!key || key->size() != 24)
      return refuse(to_http(events::make_error(events::riposte_errc::invalid_request,
                                               "A WebSocket upgrade needs a Sec-WebSocket-Key.",
                                               "Sec-WebSocket-Key")));
    auto conn = std::make_shared<ws_connection>(gate_, opts_);
    auto decision = w.accept(in, conn);
    if (auto* out = std::get_if<response>(&decision))
      return refuse(std::move(*out));
    auto session = std::get<std::shared_ptr<ws_session>>(std::move(decision));
    auto handle = std::move(restinio::impl::access_req_connection(*req));
    if (!handle)
      return restinio::request_rejected();
    auto& http_connection = dynamic_cast<ws_connection::connection_t&>(*handle);
    std::string handshake = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                            ws_accept_key(*key) + "\r\nx-request-id: " + in.request_id + "\r\n\r\n";
    {
      std::lock_guard guard{ws_mutex_};
      std::erase_if(ws_connections_, [](const auto& weak) { return weak.expired(); });
      ws_connections_.push_back(conn);
    }
    conn->start(http_connection.move_upgrade_internals(), std::move(handshake), std::move(session));
    channel->upgraded();
    return restinio::request_accepted();
  }

  std::vector<route> routes_;
  std::vector<ws_route> ws_routes_;
  server_options opts_;
  std::mutex ws_mutex_;
  std::vector<std::weak_ptr<ws_connection>> ws_connections_;
  std::shared_ptr<const exchange_observer> observer_;
  std::shared_ptr<server_gate> gate_ = std::make_shared<server_gate>();
  handle_t handle_;
  std::atomic<std::uint16_t> port_{0};
  std::uint64_t max_body_bytes_ = 0;
  accept_watch watch_;
  // Shared with every socket, which may outlive the server (a WebSocket).
  std::shared_ptr<connection_registry> connections_ = std::make_shared<connection_registry>();
  std::function<void()> on_accept_restart_;
  std::thread watchdog_;
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_wake_;
  bool watchdog_stop_ = false;
};

} // namespace

std::optional<std::string> request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size())
      continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    if (same)
      return value;
  }
  return std::nullopt;
}

bool match_pattern(std::string_view pattern, std::string_view path,
                   std::vector<std::string>& params) {
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/')
      return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto pat_seg = pattern.substr(0, pattern.find('/'));
    auto path_seg = path.substr(0, path.find('/'));
    if (pat_seg.size() > 2 && pat_seg.front() == '{' && pat_seg.back() == '}') {
      if (path_seg.empty())
        return false;
      std::string decoded;
      for (std::size_t i = 0; i < path_seg.size(); ++i) {
        if (path_seg[i] == '%' && i + 2 < path_seg.size() &&
            std::isxdigit(static_cast<unsigned char>(path_seg[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(path_seg[i + 2]))) {
          auto hex = [](char h) {
            return std::isdigit(static_cast<unsigned char>(h))
                       ? h - '0'
                       : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10;
          };
          decoded.push_back(static_cast<char>(hex(path_seg[i + 1]) * 16 + hex(path_seg[i + 2])));
          i += 2;
        } else {
          decoded.push_back(path_seg[i]);
        }
      }
      params.push_back(std::move(decoded));
    } else if (pat_seg != path_seg) {
      return false;
    }
    pattern.remove_prefix(pat_seg.size());
    path.remove_prefix(path_seg.size());
  }
  return true;
}

namespace {

events::error_info bad_bytes(std::string what, std::string_view value, std::string param) {
  return events::make_error(events::riposte_errc::invalid_value,
                            "Invalid " + what + ": '" + events::excerpt(value) +
                                "' is not valid UTF-8 text.",
                            std::move(param));
}

} // namespace

std::optional<events::error_info> check_request_bytes(const request& req, std::string_view pattern,
                                                      const std::vector<std::string>& params) {
  for (const auto& [name, value] : req.headers)
    if (!events::is_text(name) || !events::is_text(value))
      return bad_bytes("header '" + events::excerpt(name, 40) + "'", value,
                       events::excerpt(name, 40));
  // Placeholders in order: "/v1/files/{id}/content" names params[0] "id".
  std::size_t k = 0;
  for (std::size_t open = pattern.find('{'); open != std::string_view::npos && k < params.size();
       open = pattern.find('{', open + 1), ++k) {
    auto close = pattern.find('}', open);
    auto name = std::string{pattern.substr(open + 1, close - open - 1)};
    if (!events::is_text(params[k]))
      return bad_bytes("path parameter '" + name + "'", params[k], name);
    if (params[k].size() > 256) // no id riposte hands out is this long
      return events::make_error(events::riposte_errc::invalid_value,
                                "Invalid path parameter '" + name + "': '" +
                                    events::excerpt(params[k]) + "' is longer than 256 bytes.",
                                name);
  }
  return std::nullopt; // query values: parse_query_string, where routes read them
}

std::string ws_accept_key(std::string_view client_key) {
  std::string joined{client_key};
  joined += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // RFC 6455's GUID
  return restinio::utils::base64::encode(
      restinio::utils::sha1::to_string(restinio::utils::sha1::make_digest(joined)));
}

events::result<std::unique_ptr<server>> start_server(const server_options& opts,
                                                     std::vector<route> routes,
                                                     std::vector<ws_route> ws_routes) {
  auto srv = std::make_unique<restinio_server>(std::move(routes), std::move(ws_routes));
  if (auto ok = srv->start(opts); !ok)
    return ok.error();
  return std::unique_ptr<server>{std::move(srv)};
}

} // namespace riposte::http
