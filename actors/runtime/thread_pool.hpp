// A pool of threads for blocking calls, so they never run on CAF's
// cooperative scheduler threads. riposte runs two: one for the store
// (RocksDB, libpqxx) and one for outbound calls (URL fetches, web search and
// image providers), so a slow provider never holds up an append.
#pragma once

#include "events/faults.hpp"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace riposte::actors {

class thread_pool {
public:
  // `name` names the threads (riposte.<name>) and the faults they contain.
  thread_pool(std::string name, std::size_t threads)
    : name_(std::move(name)) {
    for (std::size_t i = 0; i < threads; ++i)
      workers_.emplace_back([this] {
        pthread_setname_np(pthread_self(), ("riposte." + name_).substr(0, 15).c_str());
        run();
      });
  }

  ~thread_pool() {
    {
      std::lock_guard guard{mutex_};
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_)
      w.join();
  }

  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  // A job that throws is reported and dropped: whatever it was to answer is
  // answered by the safety nets of reply_to and the sinks as it is dropped.
  void post(std::function<void()> job) { post(std::move(job), nullptr); }

  // With `on_throw(what)`, told (on the same thread) when the job threw, for
  // callers that wait for a message the job would have sent.
  void post(std::function<void()> job, std::function<void(const std::string&)> on_throw) {
    {
      std::lock_guard guard{mutex_};
      jobs_.push_back({std::move(job), std::move(on_throw)});
    }
    wake_.notify_one();
  }

private:
  void run() {
    for (;;) {
      entry job;
      {
        std::unique_lock lock{mutex_};
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty())
          return; // stopping, and every queued job has run
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        job.run();
      } catch (...) {
        auto what = events::describe(std::current_exception());
        events::report_fault(name_, what);
        if (job.on_throw) {
          try {
            job.on_throw(what);
          } catch (...) {
          }
        }
      }
    }
  }

  struct entry {
    std::function<void()> run;
    std::function<void(const std::string&)> on_throw;
  };

  std::string name_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<entry> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

} // namespace riposte::actors
