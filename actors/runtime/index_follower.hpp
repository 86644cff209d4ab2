// Keeps the operator's index of responses and conversations
// (projections/response_index) up
// with the global feed, on a thread of its own: it loads the index the store
// last kept, folds in the feed after it (only what is durable: it never
// makes the log sync), and keeps it again every few seconds and when it
// stops. Queries read it under a shared lock from any thread.
//
// With replicas on one store, each folds the feed into its own copy (the
// fold is deterministic, so they agree); the kept copy is one, written
// under the store's lock by whichever replica is furthest along.
#pragma once

#include "events/event_log.hpp"
#include "projections/response_index.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

namespace riposte::actors {

class index_follower {
public:
  struct options {
    std::chrono::milliseconds poll{100};  // how often a caught-up follower looks again
    std::chrono::milliseconds keep{5000}; // how often a changed index is kept
    std::size_t page = 256;               // events per feed read
    // How long a query waits for the kept index to load at start-up.
    std::chrono::milliseconds load_wait{10000};
  };

  index_follower(std::shared_ptr<events::event_log> log, options opts);
  ~index_follower(); // keeps the index one last time, then stops
  index_follower(const index_follower&) = delete;
  index_follower& operator=(const index_follower&) = delete;

  // A page of the index (unavailable while it has not loaded in time).
  events::result<projections::index_page> query(const projections::index_filter& f) const;
  events::result<projections::conversation_page>
  query(const projections::conversation_filter& f) const;
  // One response's row, if the index holds it (unavailable while it has
  // not loaded in time).
  events::result<std::optional<projections::index_row>> find(const std::string& id) const;
  // One conversation's row, likewise.
  events::result<std::optional<projections::conversation_row>>
  find_conversation(const std::string& id) const;
  // The global position folded through.
  std::uint64_t position() const { return position_.load(std::memory_order_acquire); }
  // Look at the feed now rather than at the next poll.
  void nudge();
  // What the append writer stored (append_writer::set_tap): folded from
  // here once durable, instead of read back from the log. Events that did
  // not pass through the writer leave gaps in the positions, which are read
  // from the log; so is everything when the tap falls too far behind.
  void tap(const std::vector<events::append_request>& reqs,
           const std::vector<events::result<std::vector<events::envelope>>>& stored);

  // The snapshot names the index is kept under.
  static constexpr const char* manifest_name = "riposte.index.responses";
  static std::string
  segment_name(std::size_t n,
               projections::segment_kind kind = projections::segment_kind::responses);

private:
  events::status wait_loaded() const;
  void run();
  void load();
  bool follow(); // true: a full page was read, more may wait
  bool read_page(); // from the log, after position()
  void keep();

  std::shared_ptr<events::event_log> log_;
  options opts_;
  mutable std::shared_mutex index_mutex_;
  projections::response_index index_;
  std::atomic<std::uint64_t> position_{0};
  std::chrono::steady_clock::time_point kept_at_;
  std::uint64_t kept_position_ = 0;     // of the copy this follower last kept or loaded
  std::deque<events::envelope> tapped_; // the follower thread's, in position order

  // Filled by the writer's thread, taken by the follower's.
  std::mutex tap_mutex_;
  std::vector<events::envelope> tap_queue_;
  static constexpr std::size_t tap_limit = 1 << 20; // envelopes waiting, at most

  mutable std::mutex mutex_;
  mutable std::condition_variable loaded_cv_;
  std::condition_variable wake_;
  bool loaded_ = false;
  bool stopping_ = false;
  bool nudged_ = false;
  std::thread thread_;
};

} // namespace riposte::actors
