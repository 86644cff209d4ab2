// The curl multi event loop behind http_client, and the choice between it
// and riposte's own loop (native_http.hpp).
#include "adapters/backends/http_client.hpp"

#include "adapters/backends/native_http.hpp"
#include "adapters/backends/wake_epoll.hpp"
#include "events/faults.hpp"
#include "events/json_safe.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace riposte::adapters::backends {

namespace {

struct transfer {
  std::uint64_t id = 0;
  http_request req;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
  std::string threw; // on_data threw: the transfer is aborted with this reason
  std::chrono::steady_clock::time_point taken; // added to the multi handle
};

// Nothing may unwind through libcurl: an exception from on_data ends the
// transfer with an error instead.
std::size_t on_write(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  try {
    if (t->req.on_data)
      t->req.on_data(status, std::string_view{data, size * n});
  } catch (...) {
    t->threw = events::describe(std::current_exception());
    events::report_fault("backend", t->threw);
    return 0;
  }
  return size * n;
}

struct curl_global {
  curl_global() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

std::atomic<http_engine> default_engine{http_engine::native};

// Transfers on riposte's own loop carry this bit in their id.
constexpr std::uint64_t native_bit = std::uint64_t{1} << 63;

} // namespace

void set_default_http_engine(http_engine engine) {
  default_engine = engine;
}
http_engine default_http_engine() {
  return default_engine.load();
}

// The loop follows libcurl's socket interface: epoll says which connection
// is ready and only that transfer is driven, so a thousand open streams cost
// what their traffic costs (curl_multi_poll walks every socket each wakeup).
struct curl_loop {
  CURLM* multi = nullptr;
  wake_epoll poll;                                               // start() and abort() ring it
  std::optional<std::chrono::steady_clock::time_point> deadline; // curl's timer
  inbox<std::unique_ptr<transfer>> in{poll};
  std::map<std::uint64_t, std::unique_ptr<transfer>> running;

  explicit curl_loop(long max_per_host) {
    static curl_global init;
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_per_host);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, max_per_host);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    poll.start([this] { run(); });
  }

  ~curl_loop() {
    poll.stop();
    for (auto& [id, t] : running)
      finish(*t, aborted_outcome());
    running.clear();
    std::vector<std::unique_ptr<transfer>> fresh; // came after the loop's last turn
    std::vector<std::uint64_t> cancelled;
    in.take(fresh, cancelled);
    for (auto& t : fresh)
      tell_done(t->req, aborted_outcome(), {});
    curl_multi_cleanup(multi);
  }

  // curl says which events a socket waits for (or that it is done with it).
  static int on_socket(CURL*, curl_socket_t s, int what, void* user, void*) {
    auto* self = static_cast<curl_loop*>(user);
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(self->poll.fd(), EPOLL_CTL_DEL, s, nullptr); // may already be closed
      return 0;
    }
    epoll_event ev{};
    ev.data.fd = s;
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    if (::epoll_ctl(self->poll.fd(), EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
      ::epoll_ctl(self->poll.fd(), EPOLL_CTL_ADD, s, &ev);
    return 0;
  }

  // curl's one timer: -1 none, 0 now, else in that many milliseconds.
  static int on_timer(CURLM*, long timeout_ms, void* user) {
    auto* self = static_cast<curl_loop*>(user);
    if (timeout_ms < 0)
      self->deadline.reset();
    else
      self->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  void finish(transfer& t, const http_outcome& out) {
    auto outcome = out;
    outcome.timing.done = std::chrono::steady_clock::now();
    outcome.timing.taken = t.taken;
    // curl times both from the transfer's start, which follows `taken` by
    // this thread's next turn: counted from `taken`, that turn is the
    // connection's.
    auto since_taken = [&](CURLINFO what) {
      curl_off_t us = 0;
      if (curl_easy_getinfo(t.easy, what, &us) != CURLE_OK || us <= 0)
        return std::chrono::steady_clock::time_point{};
      return std::min(outcome.timing.done, t.taken + std::chrono::microseconds{us});
    };
    outcome.timing.sent = since_taken(CURLINFO_PRETRANSFER_TIME_T);
    outcome.timing.first_byte = since_taken(CURLINFO_STARTTRANSFER_TIME_T);
    curl_multi_remove_handle(multi, t.easy);
    curl_easy_cleanup(t.easy);
    curl_slist_free_all(t.headers);
    t.easy = nullptr;
    tell_done(t.req, std::move(outcome), t.threw);
  }

  void add(std::unique_ptr<transfer> t) {
    CURL* e = curl_easy_init();
    t->easy = e;
    for (const auto& h : t->req.headers)
      t->headers = curl_slist_append(t->headers, h.c_str());
    // libcurl asks before sending a body over 1 MiB (a long conversation)
    // and waits up to a second for the server's 100 Continue, which not
    // every backend sends: the body goes at once instead.
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, t->req.url.c_str());
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->req.method.c_str());
    if (t->req.method == "POST" || !t->req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->req.body.size()));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->req.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->req.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_multi_add_handle(multi, e);
    t->taken = std::chrono::steady_clock::now();
    running.emplace(t->id, std::move(t));
  }

  void take_requests() {
    std::vector<std::unique_ptr<transfer>> fresh;
    std::vector<std::uint64_t> cancelled;
    in.take(fresh, cancelled);
    for (auto& t : fresh)
      add(std::move(t));
    for (auto id : cancelled) {
      auto it = running.find(id);
      if (it == running.end())
        continue;
      auto t = std::move(it->second);
      running.erase(it);
      finish(*t, aborted_outcome());
    }
  }

  void reap() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      transfer* raw = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
      auto it = running.find(raw->id);
      if (it == running.end())
        continue;
      auto t = std::move(it->second);
      running.erase(it);
      http_outcome out;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &out.status);
      auto code = msg->data.result;
      if (code != CURLE_OK) {
        out.error = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
        // A timeout before the connection was made is a connect failure;
        // after it (a slow answer, or a non-streaming one still being
        // generated) it is a timeout.
        // (A reused connection reports no connect time: whether the request
        // went out says it.)
        long sent = 0;
        curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent);
        out.timed_out = code == CURLE_OPERATION_TIMEDOUT;
        out.connect_failed = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                             (code == CURLE_OPERATION_TIMEDOUT && sent == 0);
      }
      finish(*t, out);
    }
  }

  void run() {
    std::array<epoll_event, 256> ready{};
    int still = 0;
    while (!poll.stopping()) {
      take_requests();
      int wait_ms = 1000;
      if (deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        *deadline - std::chrono::steady_clock::now())
                        .count();
        wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 1000));
      }
      int n = ::epoll_wait(poll.fd(), ready.data(), static_cast<int>(ready.size()), wait_ms);
      for (int i = 0; i < n; ++i) {
        if (ready[static_cast<std::size_t>(i)].data.u64 == wake_epoll::wake_tag) {
          poll.drain();
          continue;
        }
        int fd = ready[static_cast<std::size_t>(i)].data.fd;
        auto events = ready[static_cast<std::size_t>(i)].events;
        int mask = ((events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                   ((events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi, fd, mask, &still);
      }
      if (deadline && std::chrono::steady_clock::now() >= *deadline) {
        deadline.reset();
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &still);
      }
      reap();
    }
  }

  void start(std::uint64_t id, http_request req) {
    auto t = std::make_unique<transfer>();
    t->id = id;
    t->req = std::move(req);
    in.post(std::move(t));
  }

  void abort(std::uint64_t id) { in.cancel(id); }
};

struct http_client::impl {
  long max_per_host;
  std::atomic<std::uint64_t> next_id{1};
  std::unique_ptr<native_loop> native; // with http_engine::native
  std::mutex curl_mutex;
  std::unique_ptr<curl_loop> curl; // started on first use

  curl_loop& curl_engine() {
    std::lock_guard guard{curl_mutex};
    if (!curl)
      curl = std::make_unique<curl_loop>(max_per_host);
    return *curl;
  }
};

http_client::http_client(long max_connections_per_host, http_engine engine)
  : impl_(std::make_unique<impl>()) {
  impl_->max_per_host = max_connections_per_host;
  if (engine == http_engine::native)
    impl_->native = std::make_unique<native_loop>(max_connections_per_host);
  else
    impl_->curl_engine();
}

http_client::~http_client() = default;

std::uint64_t http_client::start(http_request req) {
  auto id = impl_->next_id++;
  if (impl_->native) {
    if (auto target = native_target_of(req.url)) {
      id |= native_bit;
      impl_->native->start(id, std::move(req), std::move(*target));
      return id;
    }
  }
  impl_->curl_engine().start(id, std::move(req));
  return id;
}

void http_client::abort(std::uint64_t id) {
  if (id & native_bit) {
    impl_->native->abort(id);
    return;
  }
  std::lock_guard guard{impl_->curl_mutex};
  if (impl_->curl)
    impl_->curl->abort(id);
}

void tell_done(const http_request& req, http_outcome out, const std::string& threw) {
  if (!threw.empty()) {
    out.error = "the backend's reply could not be handled: " + threw;
    out.status = out.status ? out.status : 502;
  }
  try {
    if (req.on_done)
      req.on_done(out);
  } catch (...) {
    events::report_fault("backend", events::describe(std::current_exception()));
  }
}

void fetch_json(http_client& client, http_request req, std::string what,
                std::function<void(long, events::result<nlohmann::json>)> done) {
  constexpr std::size_t max_reply = 16u << 20;
  auto reply = std::make_shared<std::string>();
  req.on_data = [reply](long, std::string_view bytes) {
    if (reply->size() < max_reply)
      reply->append(bytes.substr(0, max_reply - reply->size()));
  };
  req.on_done = [reply, done = std::move(done), what = std::move(what)](const http_outcome& out) {
    auto j = events::parse_untrusted(*reply);
    if (!out.error.empty() || out.status != 200 || !j.is_object()) {
      done(out.status,
           events::make_error(
               out.timed_out ? events::riposte_errc::backend_timeout
                             : events::riposte_errc::backend_unavailable,
               "the backend did not answer " + what + ": " +
                   (out.error.empty() ? "HTTP " + std::to_string(out.status) : out.error)));
      return;
    }
    done(out.status, std::move(j));
  };
  client.start(std::move(req));
}

} // namespace riposte::adapters::backends
