#include "actors/runtime/index_follower.hpp"

#include "events/faults.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

namespace riposte::actors {

namespace ev = events;

std::string index_follower::segment_name(std::size_t n, projections::segment_kind kind) {
  return std::string{manifest_name} +
         (kind == projections::segment_kind::responses ? "." : ".conversations.") +
         std::to_string(n);
}

index_follower::index_follower(std::shared_ptr<ev::event_log> log, options opts)
  : log_(std::move(log))
  , opts_(opts)
  , kept_at_(std::chrono::steady_clock::now())
  , thread_([this] {
    pthread_setname_np(pthread_self(), "riposte.index");
    // Behind the requests: a first fold of a large log must not slow a
    // cold start (Linux gives each thread its own nice value).
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
    run();
  }) {}

index_follower::~index_follower() {
  {
    std::lock_guard guard{mutex_};
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void index_follower::nudge() {
  {
    std::lock_guard guard{mutex_};
    nudged_ = true;
  }
  wake_.notify_one();
}

ev::status index_follower::wait_loaded() const {
  std::unique_lock lock{mutex_};
  if (!loaded_cv_.wait_for(lock, opts_.load_wait, [this] { return loaded_; }))
    return ev::make_error(ev::riposte_errc::store_error,
                          "The response index is still loading; try again shortly.");
  return ev::ok();
}

ev::result<projections::index_page>
index_follower::query(const projections::index_filter& f) const {
  if (auto loaded = wait_loaded(); !loaded)
    return loaded.error();
  std::shared_lock lock{index_mutex_};
  return index_.query(f);
}

ev::result<projections::conversation_page>
index_follower::query(const projections::conversation_filter& f) const {
  if (auto loaded = wait_loaded(); !loaded)
    return loaded.error();
  std::shared_lock lock{index_mutex_};
  return index_.query(f);
}

ev::result<std::optional<projections::index_row>>
index_follower::find(const std::string& id) const {
  if (auto loaded = wait_loaded(); !loaded)
    return loaded.error();
  std::shared_lock lock{index_mutex_};
  const auto* row = index_.find(id);
  return row ? std::optional{*row} : std::nullopt;
}

ev::result<std::optional<projections::conversation_row>>
index_follower::find_conversation(const std::string& id) const {
  if (auto loaded = wait_loaded(); !loaded)
    return loaded.error();
  std::shared_lock lock{index_mutex_};
  const auto* row = index_.find_conversation(id);
  return row ? std::optional{*row} : std::nullopt;
}

void index_follower::run() {
  try {
    load();
  } catch (...) {
    ev::report_fault("index", ev::describe(std::current_exception()));
  }
  {
    std::lock_guard guard{mutex_};
    loaded_ = true;
  }
  loaded_cv_.notify_all();
  for (;;) {
    bool more = false;
    try {
      more = follow();
      if (std::chrono::steady_clock::now() - kept_at_ >= opts_.keep)
        keep();
    } catch (...) {
      // Nothing leaves this thread: a failure is reported and tried again.
      ev::report_fault("index", ev::describe(std::current_exception()));
    }
    std::unique_lock lock{mutex_};
    if (!more)
      wake_.wait_for(lock, opts_.poll, [this] { return stopping_ || nudged_; });
    nudged_ = false;
    if (stopping_)
      break;
  }
  try {
    follow();
    keep();
  } catch (...) {
    ev::report_fault("index", ev::describe(std::current_exception()));
  }
}

// The kept index, if there is one this build can read; otherwise the fold
// starts from the beginning of the feed.
void index_follower::load() {
  auto manifest = log_->get_snapshot(manifest_name);
  if (!manifest || !*manifest)
    return;
  auto info = projections::response_index::read_manifest((*manifest)->payload);
  if (!info) {
    ev::report_fault("index", info.error().message);
    return;
  }
  projections::response_index loaded;
  using projections::segment_kind;
  for (auto [kind, count] : {std::pair{segment_kind::responses, info->segments},
                             std::pair{segment_kind::conversations, info->conversation_segments}})
    for (std::size_t n = 0; n < count; ++n) {
      auto name = segment_name(n, kind);
      auto seg = log_->get_snapshot(name);
      std::string why;
      if (!seg)
        why = seg.error().message;
      else if (!*seg)
        why = "the index's segment " + name + " is missing";
      else if (auto ok = loaded.load_segment((*seg)->payload, kind); !ok)
        why = ok.error().message;
      if (!why.empty()) {
        ev::report_fault("index", why);
        return; // rebuilt from the feed
      }
    }
  loaded.set_position(info->position);
  kept_position_ = info->position;
  std::unique_lock lock{index_mutex_};
  index_ = std::move(loaded);
  position_.store(index_.position(), std::memory_order_release);
}

void index_follower::tap(const std::vector<ev::append_request>& reqs,
                         const std::vector<ev::result<std::vector<ev::envelope>>>& stored) {
  std::vector<ev::envelope> out;
  for (std::size_t i = 0; i < reqs.size() && i < stored.size(); ++i) {
    if (!stored[i])
      continue;
    const auto& events = reqs[i].events;
    for (std::size_t k = 0; k < stored[i]->size(); ++k) {
      const auto& got = (*stored[i])[k];
      ev::envelope env{got.stream,  got.seq,    got.global_position, got.type,
                       got.version, got.tenant, got.recorded_at,     nullptr};
      // Only what the fold reads, and only of the events it reads.
      if (k < events.size() && projections::response_index::needs_data(got.type))
        env.data = events[k].text.empty()
                       ? projections::response_index::digest(got.type, events[k].data)
                       : projections::response_index::digest(got.type, ev::data_json(events[k]));
      out.push_back(std::move(env));
    }
  }
  std::lock_guard guard{tap_mutex_};
  if (tap_queue_.size() + out.size() > tap_limit)
    return; // too far behind: the log has them
  for (auto& e : out)
    tap_queue_.push_back(std::move(e));
}

bool index_follower::follow() {
  {
    std::vector<ev::envelope> arrived;
    {
      std::lock_guard guard{tap_mutex_};
      arrived.swap(tap_queue_);
    }
    // Stalled (the log unreadable at the next position, say): what the
    // writer hands over is dropped, and read from the log once it moves.
    if (tapped_.size() + arrived.size() > tap_limit)
      tapped_.clear();
    else
      for (auto& e : arrived)
        tapped_.push_back(std::move(e));
  }
  auto durable = log_->durable_position();
  std::size_t folded = 0;
  for (;;) {
    while (!tapped_.empty() && tapped_.front().global_position <= position())
      tapped_.pop_front();
    auto next = position() + 1;
    if (!tapped_.empty() && tapped_.front().global_position == next) {
      if (next > durable)
        return false; // folded once a sync covers it
      std::unique_lock lock{index_mutex_};
      while (!tapped_.empty() && tapped_.front().global_position == position() + 1 &&
             tapped_.front().global_position <= durable && folded < opts_.page) {
        index_.apply(tapped_.front());
        tapped_.pop_front();
        ++folded;
      }
      position_.store(index_.position(), std::memory_order_release);
      if (folded >= opts_.page)
        return true;
      continue;
    }
    // A gap (events that did not pass the writer, another replica's, or
    // some the tap dropped), or nothing tapped: the log says.
    if (tapped_.empty() && durable <= position())
      return false;
    return read_page();
  }
}

bool index_follower::read_page() {
  auto page = log_->read_durable(position(), opts_.page, [](const ev::envelope& header) {
    return projections::response_index::needs_data(header.type);
  });
  if (!page) {
    ev::report_fault("index", page.error().message);
    return false;
  }
  if (page->empty())
    return false;
  {
    std::unique_lock lock{index_mutex_};
    for (const auto& env : *page)
      index_.apply(env);
    position_.store(index_.position(), std::memory_order_release);
  }
  return page->size() == opts_.page;
}

// Writes the changed segments, then the manifest, under the store's lock,
// unless the kept copy is already as far along (another replica's).
void index_follower::keep() {
  kept_at_ = std::chrono::steady_clock::now();
  auto held = log_->lock(manifest_name);
  if (!held)
    return ev::report_fault("index", held.error().message);
  // The kept copy as it stands. One further along is another replica's:
  // left alone. One behind what this follower last kept or loaded was lost
  // or written over: every segment is written again, not only the changed.
  auto stored = log_->get_snapshot(manifest_name);
  if (!stored)
    return ev::report_fault("index", stored.error().message);
  bool whole = kept_position_ > 0;
  if (*stored) {
    auto info = projections::response_index::read_manifest((*stored)->payload);
    if (info && info->position >= position())
      return;
    whole = !info || info->position < kept_position_;
  }
  std::vector<std::pair<projections::segment_ref, std::string>> segments;
  std::string manifest;
  std::uint64_t at = 0;
  {
    std::unique_lock lock{index_mutex_};
    if (whole)
      index_.mark_all_dirty();
    at = index_.position();
    segments = index_.take_dirty_segments();
    manifest = index_.manifest();
  }
  if (segments.empty())
    return;
  // Unless they are written, the segments taken are taken again next time
  // (also when something here throws).
  struct put_back {
    index_follower& f;
    const std::vector<std::pair<projections::segment_ref, std::string>>& segments;
    bool written = false;
    ~put_back() {
      if (written)
        return;
      std::unique_lock lock{f.index_mutex_};
      for (const auto& seg : segments)
        f.index_.mark_dirty(seg.first);
    }
  } guard{*this, segments};
  std::vector<std::pair<std::string, ev::snapshot>> snaps;
  snaps.reserve(segments.size() + 1);
  for (const auto& [ref, payload] : segments)
    snaps.emplace_back(segment_name(ref.n, ref.kind), ev::snapshot{at, payload});
  snaps.emplace_back(manifest_name, ev::snapshot{at, std::move(manifest)});
  if (auto put = log_->put_snapshots(snaps, std::nullopt); !put)
    return ev::report_fault("index", put.error().message);
  guard.written = true;
  kept_position_ = at;
}

} // namespace riposte::actors
