// Group commit for response streams: every response actor's batch of events
// goes to one writer thread, which commits everything that queued up while
// the previous commit ran in one store call (RocksDB: one WriteBatch, one
// sync), then answers each actor. Under load a thousand streams share each
// fsync instead of contending for it; idle, an append waits for nothing.
#pragma once

#include "adapters/observability/metrics.hpp"
#include "events/event_log.hpp"

#include <condition_variable>
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

  // Appends `req` (and its marker, if it names one) to `log` in the next
  // group. `done` runs on the writer thread: keep it short (send a message).
  void submit(events::event_log* log, events::append_request req, done_fn done);
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
  };
  void run();
  void commit(std::vector<job>& jobs);
  static events::result<std::vector<events::envelope>> guarded_sync(events::event_log* log);
  static void answer(job& j, events::result<std::vector<events::envelope>> r);

  std::shared_ptr<adapters::observability::metrics> stats_; // keeps the meter's series alive
  std::optional<adapters::observability::metrics::append_meter> meter_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace riposte::actors
