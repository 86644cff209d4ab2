// The transport of news between replicas (event_log::subscribe_news):
// PostgreSQL's LISTEN/NOTIFY on the channel `riposte_news`, each side on a
// connection and a thread of its own, so neither an append nor an actor
// ever waits for it.
#pragma once

#include "events/event_log.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace riposte::adapters::store {

// `uri` with TCP keepalives and timeouts (connect 5 s; a silent peer is
// probed after 5 s idle, every 2 s, 3 times; unacknowledged data gives up
// after 10 s), for the long-lived news connections: one whose server or
// network vanished without a word (no FIN, no RST) errors within about
// 15 s and is connected again, instead of waiting for news forever. Both
// connection string forms: a URL gets query parameters, keywords get more
// keywords.
std::string watched_uri(const std::string& uri);

// Sends what it is given in batches: one statement (one round trip, not
// waiting for the disk) for whatever piled up while the last one ran. What
// cannot be sent (the server is away) is dropped: news may be lost. Its
// first payload says hello (see hello_news).
class news_sender {
public:
  news_sender(std::string uri, std::string origin);
  ~news_sender();
  news_sender(const news_sender&) = delete;
  news_sender& operator=(const news_sender&) = delete;

  void send(std::vector<events::log_news> news);

private:
  void run();

  std::string uri_;
  std::string origin_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<events::log_news> queue_;
  bool stopping_ = false;
  bool hello_ = true;
  std::thread thread_;
};

// Listens until destroyed; `on_news` is called on the listener's thread.
// After the connection broke and came back it is told `missed`. `on_peer`
// is called for every payload another process sent (it is there).
std::unique_ptr<events::news_subscription>
listen_news(std::string uri, std::string origin,
            std::function<void(std::vector<events::log_news>)> on_news,
            std::function<void()> on_peer);

} // namespace riposte::adapters::store
