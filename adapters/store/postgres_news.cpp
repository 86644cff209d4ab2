// LISTEN/NOTIFY for news between replicas. Every pqxx exception stops here:
// news that cannot be sent or heard is lost, and readers fall back to
// polling the log.
#include "adapters/store/postgres_news.hpp"

#include "adapters/store/news_codec.hpp"
#include "events/json_safe.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>

namespace riposte::adapters::store {

namespace {

const char* const news_channel = "riposte_news";

// At most this much news waits to be sent; past it (the server is away) the
// oldest goes.
constexpr std::size_t max_queued = 100000;

class receiver final : public pqxx::notification_receiver {
public:
  receiver(pqxx::connection_base& c, std::vector<std::string>& into)
    : pqxx::notification_receiver(c, news_channel)
    , into_(into) {}
  void operator()(const std::string& payload, int) override { into_.push_back(payload); }

private:
  std::vector<std::string>& into_;
};

class listener final : public events::news_subscription {
public:
  listener(std::string uri, std::string origin,
           std::function<void(std::vector<events::log_news>)> on_news,
           std::function<void()> on_peer)
    : uri_(watched_uri(uri))
    , origin_(std::move(origin))
    , on_news_(std::move(on_news))
    , on_peer_(std::move(on_peer))
    , thread_([this] { run(); }) {}

  ~listener() override {
    stopping_ = true;
    thread_.join();
  }

private:
  void run() {
    bool heard_before = false;
    while (!stopping_) {
      try {
        pqxx::connection c{uri_};
        std::vector<std::string> payloads;
        receiver r{c, payloads};
        if (heard_before)
          on_news_({events::log_news{events::log_news::kind::missed, {}, 0, {}}});
        heard_before = true;
        while (!stopping_) {
          c.await_notification(0, 200000);
          std::vector<events::log_news> news;
          bool peer = false;
          for (const auto& p : payloads) {
            bool from_peer = false;
            for (auto& n : decode_news(p, origin_, &from_peer))
              news.push_back(std::move(n));
            peer = peer || from_peer;
          }
          payloads.clear();
          if (peer)
            on_peer_();
          if (!news.empty())
            on_news_(std::move(news));
        }
      } catch (const std::exception&) {
        // Connect again after a pause; what was said meanwhile is missed.
        for (int i = 0; i < 5 && !stopping_; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  std::string uri_;
  std::string origin_;
  std::function<void(std::vector<events::log_news>)> on_news_;
  std::function<void()> on_peer_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

} // namespace

std::string watched_uri(const std::string& uri) {
  static const char* const params[] = {"connect_timeout=5",  "keepalives=1",
                                       "keepalives_idle=5",  "keepalives_interval=2",
                                       "keepalives_count=3", "tcp_user_timeout=10000"};
  bool url = uri.rfind("postgres://", 0) == 0 || uri.rfind("postgresql://", 0) == 0;
  std::string out = uri;
  char sep = !url ? ' ' : uri.find('?') == std::string::npos ? '?' : '&';
  for (const char* p : params) {
    if (!out.empty())
      out += sep;
    out += p;
    if (url)
      sep = '&';
  }
  return out;
}

news_sender::news_sender(std::string uri, std::string origin)
  : uri_(watched_uri(uri))
  , origin_(std::move(origin))
  , thread_([this] { run(); }) {}

news_sender::~news_sender() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void news_sender::send(std::vector<events::log_news> news) {
  {
    std::lock_guard lock{mutex_};
    if (queue_.size() + news.size() > max_queued)
      queue_.clear();
    for (auto& n : news)
      queue_.push_back(std::move(n));
  }
  wake_.notify_one();
}

void news_sender::run() {
  std::unique_ptr<pqxx::connection> conn;
  for (;;) {
    std::vector<events::log_news> batch;
    {
      std::unique_lock lock{mutex_};
      wake_.wait(lock, [this] { return stopping_ || hello_ || !queue_.empty(); });
      if (stopping_)
        return;
      batch.swap(queue_);
    }
    auto payloads = encode_news(origin_, batch);
    if (hello_)
      payloads.push_back(hello_news(origin_));
    if (payloads.empty())
      continue;
    try {
      if (!conn || !conn->is_open()) {
        conn = std::make_unique<pqxx::connection>(uri_);
        pqxx::nontransaction n{*conn};
        n.exec("set synchronous_commit = off");
        conn->prepare("notify", std::string{"select pg_notify('"} + news_channel +
                                    "', p) from json_array_elements_text($1::json) p");
      }
      pqxx::nontransaction n{*conn};
      n.exec_prepared("notify", events::dump_json(nlohmann::json(payloads)));
      std::lock_guard lock{mutex_};
      hello_ = false;
    } catch (const std::exception&) {
      // Lost; the next batch connects again, after a pause.
      conn.reset();
      std::unique_lock lock{mutex_};
      wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
    }
  }
}

std::unique_ptr<events::news_subscription>
listen_news(std::string uri, std::string origin,
            std::function<void(std::vector<events::log_news>)> on_news,
            std::function<void()> on_peer) {
  return std::make_unique<listener>(std::move(uri), std::move(origin), std::move(on_news),
                                    std::move(on_peer));
}

} // namespace riposte::adapters::store
