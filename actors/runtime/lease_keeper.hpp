// Keeps this replica's lease on the store (event_log::renew_lease) and takes
// over the work of replicas whose lease ran out (claim_orphans), on a thread
// of its own: a store call that hangs delays the next renewal, never an
// actor. A store one process holds alone renews for nothing and claims
// nothing; riposte starts a keeper only where replicas share the store.
#pragma once

#include "events/event_log.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace riposte::actors {

class lease_keeper {
public:
  struct hooks {
    // Response ids whose in-flight markers are this replica's now.
    std::function<void(std::vector<std::string>)> claimed;
    // This replica's in-flight responses, every period.
    std::function<void(std::vector<std::string>)> own;
    // Another process holds the lease: this one may not write any more.
    std::function<void()> lost;
    // A renewal or a claim failed (the store is unreachable): tried again
    // at the next tick.
    std::function<void(const std::string&)> trouble;
    // The live replicas that serve differently from this one, whenever
    // that list changes (empty: they all agree again).
    std::function<void(const std::vector<std::string>&)> differing = {};
  };

  // Renews every `every`; claims only once renewals have gone through
  // without a failure for `steady` (after an outage every lease has run out:
  // the first replica back must not take the others' work).
  lease_keeper(events::event_log& log, std::chrono::milliseconds every,
               std::chrono::milliseconds steady, hooks h);
  ~lease_keeper(); // stops; the lease runs out unless the log ends it
  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

private:
  void run();
  bool tick(); // false: the lease is lost

  events::event_log& log_;
  std::chrono::milliseconds every_;
  std::chrono::milliseconds steady_;
  std::chrono::steady_clock::time_point renewing_since_;
  std::chrono::steady_clock::time_point renewed_at_;
  bool renewing_ = false;
  std::vector<std::string> differing_;
  hooks hooks_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace riposte::actors
