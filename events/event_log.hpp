// The append-only event log every store implements (RocksDB, Postgres, and
// the in-memory log of `store: false` responses), with snapshots, idempotency
// records and file blobs beside it.
#pragma once

#include "events/envelope.hpp"
#include "events/errc.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace riposte::events {

// Expected versions: the seq of the stream's last event, or one of these.
inline constexpr std::int64_t no_stream = -1;   // the stream must not exist yet
inline constexpr std::int64_t any_version = -2; // append whatever the stream holds

// A cached fold of a stream up to and including `seq`.
struct snapshot {
  std::uint64_t seq = 0;
  std::string payload;
};

// The first use of an Idempotency-Key within a tenant.
struct idempotency_record {
  std::string request_hash;
  std::string response_id;
};

// Pulls the next chunk of a blob; std::nullopt ends it.
using chunk_source = std::function<std::optional<std::string>()>;
// Receives chunks in order; returning false stops the read.
using chunk_sink = std::function<bool(std::string_view)>;

// A marker (see event_log::put_marker): a key in a namespace.
struct marker_ref {
  std::string ns, key;
};

// One append of a group commit (see event_log::append_many).
struct append_request {
  std::string stream;
  std::int64_t expected_version = any_version;
  std::vector<new_event> events;
  // false: the caller keeps the events it appended, so the envelopes it gets
  // back may leave `data` null (a log need not copy it).
  bool echo_data = true;
  // Markers written no later than the events: in the same write where the
  // log commits groups, else just before (lazily).
  std::vector<marker_ref> markers;
  // false: the caller needs these events stored, not yet on disk (a
  // blocking create's creation, which nobody is told of before its outcome).
  // Where a log syncs, it then need not wait for the disk, and its readers
  // see these events only once a later sync covers them (durable_position).
  bool durable = true;
  // What the events leave behind, written with them, only where the log
  // says so (snapshots_with_appends) and only if they are stored: snapshots
  // of what they end, and a marker they make stale (removed lazily).
  std::vector<std::pair<std::string, snapshot>> snapshots;
  std::optional<marker_ref> unmark;
};

// News between the processes that share one log (PostgreSQL's
// LISTEN/NOTIFY): positions and ids, never payloads; the log stays the
// source of truth, and news that never arrives only makes a reader wait for
// its next poll.
struct log_news {
  enum class kind {
    appended, // `stream` now ends at `seq` (another process appended)
    cancel,   // whoever runs response `stream` is asked to cancel it for `tenant`
    missed,   // the channel broke: news may have been lost, read everything again
    admitted, // ticket `seq` of the process whose lease_holder() is `stream` was
              // admitted (0: some of its work was; ask)
  };
  kind what = kind::appended;
  std::string stream;
  std::uint64_t seq = 0;
  std::string tenant;
};

// A generation waiting for a slot where processes share admission
// (event_log::admit): its ticket (unique within this process's lease), its
// tenant (tenants take turns, the one served least recently first), when it
// was asked for, and the
// limits it counts against, each a name and how many may run under it at
// once across every process.
struct waiting_job {
  std::uint64_t ticket = 0;
  std::string tenant;
  std::int64_t asked_at_us = 0; // a tenant's work goes oldest first
  std::vector<std::pair<std::string, std::int64_t>> limits;
};

// What event_log::admit answers: every ticket of this process admitted and
// not yet ended, and whether other processes' work still waits (then a slot
// this process no longer needs goes back at once).
struct admission {
  std::vector<std::uint64_t> admitted;
  bool others_waiting = false;
};

// Receives news until it is destroyed.
class news_subscription {
public:
  virtual ~news_subscription() = default;
};

class event_log {
public:
  virtual ~event_log() = default;

  // Appends all events or none. `expected_version` must match the stream's
  // current version (no_stream for a new stream, any_version to skip the
  // check); a mismatch is a version_conflict and nothing is written. Returns
  // the stored envelopes with their seq and global position.
  virtual result<std::vector<envelope>> append(const std::string& stream,
                                               std::int64_t expected_version,
                                               const std::vector<new_event>& events) = 0;

  // Several appends to different streams at once, each all-or-nothing with
  // its own expected version, answered in order. A store may commit them
  // together (RocksDB: one write, one sync for all); by default they are
  // appended one by one.
  virtual std::vector<result<std::vector<envelope>>>
  append_many(const std::vector<append_request>& requests) {
    std::vector<result<std::vector<envelope>>> out;
    out.reserve(requests.size());
    for (const auto& r : requests) {
      std::optional<error_info> failed;
      for (const auto& m : r.markers)
        if (auto marked = put_marker(m.ns, m.key, write_mode::lazy); !marked) {
          failed = marked.error();
          break;
        }
      if (failed)
        out.push_back(*failed);
      else
        out.push_back(append(r.stream, r.expected_version, r.events));
    }
    return out;
  }

  // Does append_many commit a group together (one write, one sync)? If not,
  // callers are better off appending from several threads at once.
  virtual bool group_commits() const { return false; }
  // Does append_many write a request's snapshots and unmark in the events'
  // own write? If not, callers write them after (put_snapshots).
  virtual bool snapshots_with_appends() const { return false; }

  // Every event at or below this global position is on disk (or, where the
  // log was opened without syncs, written). Readers (read, read_all) serve
  // nothing above it; an appender of events that were not durable
  // (append_request::durable) waits for it to pass them, or calls sync().
  // A log that makes every append durable before it returns: all of them.
  virtual std::uint64_t durable_position() const { return UINT64_MAX; }
  // Makes everything appended so far durable.
  virtual status sync() { return ok(); }

  // Events of one stream with seq >= from_seq, at most `limit`. A stream
  // that does not exist is not_found.
  virtual result<std::vector<envelope>> read(const std::string& stream, std::uint64_t from_seq,
                                             std::size_t limit) = 0;

  // The stream's current version: the seq of its last event, or no_stream.
  virtual result<std::int64_t> version(const std::string& stream) = 0;

  // The audit feed: events of every stream with global position > `after`,
  // in global order, at most `limit`. Never skips an event that a later call
  // could still return below a position it already returned.
  virtual result<std::vector<envelope>> read_all(std::uint64_t after, std::size_t limit) = 0;
  // The same feed as far as it is durable now, without making more of it
  // durable (read_all syncs what is written and waits): for a follower that
  // polls, which must not add syncs to the writers'. With `wants_data`, an
  // event whose header (stream, seq, position, type, tenant, time; data
  // null) it refuses may come with `data` left null (a log that can skip
  // building it does).
  using header_filter = std::function<bool(const envelope& header)>;
  virtual result<std::vector<envelope>> read_durable(std::uint64_t after, std::size_t limit,
                                                     const header_filter& wants_data = {}) {
    (void)wants_data;
    return read_all(after, limit);
  }

  // Snapshots are a cache of what the events say: written without waiting
  // for the disk (a crash may lose the last ones; they are rebuilt).
  virtual status put_snapshot(const std::string& stream, const snapshot& snap) = 0;
  virtual result<std::optional<snapshot>> get_snapshot(const std::string& stream) = 0;
  // What a response writes once it has ended: its snapshots and, lazily, the
  // removal of a marker, in one write where the log can. By default one by
  // one, stopping at the first failure.
  virtual status put_snapshots(const std::vector<std::pair<std::string, snapshot>>& snaps,
                               const std::optional<marker_ref>& unmark) {
    for (const auto& [stream, snap] : snaps)
      if (auto put = put_snapshot(stream, snap); !put)
        return put;
    if (unmark)
      return delete_marker(unmark->ns, unmark->key, write_mode::lazy);
    return ok();
  }

  virtual status put_blob(const std::string& id, const chunk_source& source) = 0;
  // Streams the blob in chunks; not_found when there is none.
  virtual status get_blob(const std::string& id, const chunk_sink& sink) = 0;
  // One chunk of a blob by its index (chunks are written as put_blob's source
  // gave them), or nothing past the last one: lets a slow reader take a
  // blob a chunk at a time without holding a store thread between chunks.
  virtual result<std::optional<std::string>> read_blob_chunk(const std::string& id,
                                                             std::uint64_t index) = 0;
  virtual status delete_blob(const std::string& id) = 0;

  // Markers: a small set of keys per namespace, e.g. the responses still in
  // flight, so start-up finds them without scanning every stream.
  //
  // write_mode::lazy does not wait for the disk. The log writes in order, so
  // a lazy write followed by a durable one (an append) is as durable as that
  // one: this is how a response is marked in flight without a sync of its own.
  enum class write_mode { durable, lazy };
  virtual status put_marker(const std::string& ns, const std::string& key,
                            write_mode mode = write_mode::durable) = 0;
  virtual status delete_marker(const std::string& ns, const std::string& key,
                               write_mode mode = write_mode::durable) = 0;
  virtual result<std::vector<std::string>> list_markers(const std::string& ns) = 0;
  virtual result<bool> has_marker(const std::string& ns, const std::string& key) {
    auto all = list_markers(ns);
    if (!all)
      return all.error();
    for (const auto& k : *all)
      if (k == key)
        return true;
    return false;
  }

  // Replicas sharing one store (PostgreSQL). Each process holds a lease on
  // the responses it runs, whose in-flight markers live in its own
  // namespace; a store that one process opens alone (RocksDB locks it,
  // memory) holds them all, for good.
  virtual std::string inflight_namespace() const { return "inflight"; }
  // false: another process took the lease over; this one can no longer
  // write and must stop.
  virtual result<bool> renew_lease() { return true; }
  // A lock every process sharing the store respects, named by the caller,
  // held until the guard is destroyed (the process dying lets it go too).
  // Where one process holds the store alone there is nothing to lock
  // against: the guard is empty.
  struct held_lock {
    virtual ~held_lock() = default;
  };
  virtual result<std::unique_ptr<held_lock>> lock(const std::string& name) {
    (void)name;
    return std::unique_ptr<held_lock>{};
  }
  // The live replicas that serve differently from this one (another
  // backend configuration), as the last renewal found them.
  virtual std::vector<std::string> differing_replicas() const { return {}; }
  // Moves to this process the in-flight markers of replicas whose lease ran
  // out (and unowned ones an older riposte left); returns their keys.
  virtual result<std::vector<std::string>> claim_orphans() { return std::vector<std::string>{}; }
  // The lease this process writes under, as "id/epoch"; empty where no
  // other process shares the store (nothing it decides need be written
  // down for others).
  virtual std::string lease_holder() const { return {}; }
  // Whether `holder` (some process's lease_holder()) still holds its lease:
  // false once it ended, was taken over, or its replica's work was claimed.
  virtual result<bool> lease_held(const std::string& holder) { return holder == lease_holder(); }
  // News from the other processes that share this log, passed to
  // `on_news` on a thread of the log's own until the subscription is
  // destroyed; nullptr where no other process shares it. A process never
  // hears its own news.
  virtual std::unique_ptr<news_subscription>
  subscribe_news(std::function<void(std::vector<log_news>)> on_news) {
    (void)on_news;
    return nullptr;
  }
  // Tells the other processes (cancel requests; appends are told by the log
  // itself). Never waits for the store; news may be lost.
  virtual void tell(const log_news& news) { (void)news; }
  // Admission shared by the processes on this store, so that a limit holds
  // across all of them; false where one process holds the store alone and
  // admits by itself.
  virtual bool shares_admission() const { return false; }
  // Whether another process may share the store now (a live lease besides
  // this one's, or news heard from one).
  virtual bool has_peers() const { return false; }
  // Adds `arrived` to the shared queue, drops `ended` (run, or no longer
  // wanted), admits what the limits now allow (any process's work, tenants
  // in turn; the other processes are told), and returns every ticket of this
  // process admitted and not yet ended (and whether others' work waits).
  virtual result<admission> admit(const std::vector<waiting_job>& arrived,
                                  const std::vector<std::uint64_t>& ended) {
    (void)arrived;
    (void)ended;
    return admission{};
  }
  // Claims an Idempotency-Key for a tenant by opening its stream with an
  // `idempotency_key_recorded` event. Returns the record now stored: the new
  // one, or the one an earlier request claimed first.
  result<idempotency_record> claim_idempotency(const std::string& tenant, const std::string& key,
                                               const idempotency_record& record,
                                               std::int64_t recorded_at);
  // The record of an already claimed key, if any.
  result<std::optional<idempotency_record>> find_idempotency(const std::string& tenant,
                                                             const std::string& key);
};

// A log that writes each append's markers with its events, all or nothing
// (one transaction, one lock): it implements append_marked, and append and
// append_many go through it one request at a time.
class marking_log : public event_log {
public:
  result<std::vector<envelope>> append(const std::string& stream, std::int64_t expected_version,
                                       const std::vector<new_event>& events) override {
    return append_marked(stream, expected_version, events, {});
  }
  std::vector<result<std::vector<envelope>>>
  append_many(const std::vector<append_request>& requests) override {
    std::vector<result<std::vector<envelope>>> out;
    out.reserve(requests.size());
    for (const auto& r : requests)
      out.push_back(append_marked(r.stream, r.expected_version, r.events, r.markers));
    return out;
  }

protected:
  virtual result<std::vector<envelope>> append_marked(const std::string& stream,
                                                      std::int64_t expected_version,
                                                      const std::vector<new_event>& events,
                                                      const std::vector<marker_ref>& markers) = 0;
};

// The stream that holds an idempotency key's record.
std::string idempotency_stream(std::string_view tenant, std::string_view key);

} // namespace riposte::events
