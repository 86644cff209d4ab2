// Group commit for response streams: every response actor's batch of events
// goes to one writer thread, which commits everything that queued up while
// the previous commit ran in one store call (RocksDB: one WriteBatch, one
// sync), then answers each actor. Under load a thousand streams share each
// fsync instead of contending for it; idle, an append waits for nothing.
#pragma once

#include "actors/runtime/parking.hpp"
#include "adapters/observability/metrics.hpp"
#include "events/event_log.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace riposte::actors {

class append_writer {
public:
  using done_fn = std::function<void(events::result<std::vector<events::envelope>>)>;

  append_writer(std::shared_ptr<adapters::observability::metrics> stats, std::string store_kind);
  ~append_writer(); // commits what is queued, then stops
  append_writer(const append_writer&) = delete;
  append_writer& operator=(const append_writer&) = delete;

  // When the writer took a job's group, and when the group's write
  // returned: set on the writer thread before the job's `done` runs.
  struct commit_steps {
    std::chrono::steady_clock::time_point taken, written;
  };

  // Appends `req` (and its marker, if it names one) to `log` in the next
  // group. `done` runs on the writer thread: keep it short (send a message).
  // `steps`, if given, is told when the write was taken and done.
  void submit(events::event_log* log, events::append_request req, done_fn done,
              std::shared_ptr<commit_steps> steps = nullptr);
  // What was stored in `log`, told on the writer thread once per group
  // (each request with the envelopes it got), so that a follower of the
  // feed need not read back what passed through here. Set before the first
  // submit; `tap` must be short and must not throw.
  using tap_fn =
      std::function<void(const std::vector<events::append_request>&,
                         const std::vector<events::result<std::vector<events::envelope>>>&)>;
  void set_tap(events::event_log* log, tap_fn tap) {
    tap_log_ = log;
    tap_ = std::move(tap);
  }

  // Makes everything appended to `log` so far durable (event_log::sync),
  // with the next group; `done` hears how it went (no envelopes), on the
  // writer thread.
  void sync(events::event_log* log, done_fn done);

private:
  struct job {
    events::event_log* log;
    events::append_request req;
    done_fn done;
    bool sync_only = false;
    std::shared_ptr<commit_steps> steps;
  };
  void run();
  void push(job j);
  void commit(std::vector<job>& jobs);
  static events::result<std::vector<events::envelope>> guarded_sync(events::event_log* log);
  static void answer(job& j, events::result<std::vector<events::envelope>> r);

  std::shared_ptr<adapters::observability::metrics> stats_; // keeps the meter's series alive
  std::optional<adapters::observability::metrics::append_meter> meter_;
  events::event_log* tap_log_ = nullptr;
  tap_fn tap_;
  std::mutex mutex_;
  parking_spot spot_;      // where the thread waits for jobs
  std::vector<job> queue_; // guarded by mutex_
  bool sleeping_ = false;  // guarded by mutex_: a job must wake the thread
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

} // namespace riposte::actors
