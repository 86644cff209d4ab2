// A dedicated pool of threads for blocking store calls (RocksDB, libpqxx), so
// they never run on CAF's cooperative scheduler threads.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace riposte::actors {

class store_executor {
public:
  explicit store_executor(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i)
      workers_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "riposte.store");
        run();
      });
  }

  ~store_executor() {
    {
      std::lock_guard guard{mutex_};
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_)
      w.join();
  }

  store_executor(const store_executor&) = delete;
  store_executor& operator=(const store_executor&) = delete;

  void post(std::function<void()> job) {
    {
      std::lock_guard guard{mutex_};
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock{mutex_};
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty())
          return; // stopping, and every queued job has run
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

} // namespace riposte::actors
