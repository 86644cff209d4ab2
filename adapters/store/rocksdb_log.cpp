// The embedded event log on RocksDB: one column family per keyspace,
// big-endian keys so iteration order is seq / global order, and one
// WriteBatch per append so a batch is stored whole or not at all.
#include "adapters/store/store.hpp"
#include "adapters/store/stream_name.hpp"
#include "events/event.hpp"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

namespace riposte::adapters::store {

namespace {

using events::envelope;
using events::error_info;
using events::make_error;
using events::riposte_errc;
using events::status;
template <class T>
using result = events::result<T>;

error_info store_error(std::string_view what, const rocksdb::Status& st) {
  return make_error(riposte_errc::store_error, std::string{what} + ": " + st.ToString());
}

// events: stream \0 be64(seq) -> envelope JSON
std::string event_key(std::string_view stream, std::uint64_t seq) {
  std::string key;
  key.reserve(stream.size() + 9);
  key.append(stream);
  key.push_back('\0');
  append_be64(key, seq);
  return key;
}

std::string position_key(std::uint64_t position) {
  std::string key;
  append_be64(key, position);
  return key;
}

// audit: be64(first position of one write) -> \0, then for each event the
// write stored, in position order: be32(size) and its event key. One entry
// per write, not per event. (Stores made before hold one entry per event,
// be64(position) -> the event key alone; an event key never starts with NUL.)
// heads: written by earlier versions (a stream's head is now its last event
// key); still opened, since RocksDB opens every column family a store has.
void add_audited(std::string& entry, std::string_view event_key) {
  if (entry.empty())
    entry.push_back('\0');
  auto n = static_cast<std::uint32_t>(event_key.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    entry.push_back(static_cast<char>((n >> shift) & 0xff));
  entry.append(event_key);
}

// The event keys of one audit entry, in position order; false if the
// entry is malformed.
bool read_audited(std::string_view entry, std::vector<std::string_view>& keys) {
  if (entry.empty())
    return false;
  if (entry.front() != '\0') { // one event, as earlier versions wrote it
    keys.push_back(entry);
    return true;
  }
  std::size_t i = 1;
  while (i < entry.size()) {
    if (entry.size() - i < 4)
      return false;
    std::uint32_t n = 0;
    for (int k = 0; k < 4; ++k)
      n = (n << 8) | static_cast<unsigned char>(entry[i + static_cast<std::size_t>(k)]);
    i += 4;
    if (entry.size() - i < n)
      return false;
    keys.push_back(entry.substr(i, n));
    i += n;
  }
  return true;
}

// snapshots: key -> be64(seq) payload. A response's context, "ctx_" and
// its id, is kept under its id and "\0ctx", beside the response's own
// snapshot: ids grow with time (events/ids.hpp), so a flushed table of
// snapshots follows the ones before it instead of spanning every response
// between "ctx_…" and "resp_…". Stores written before keep "ctx_…" keys,
// which a read falls back to.
constexpr std::string_view legacy_context_prefix = "ctx_";
std::string snapshot_key(std::string_view key) {
  if (!key.starts_with(legacy_context_prefix))
    return std::string{key};
  std::string out{key.substr(legacy_context_prefix.size())};
  out.append(std::string_view{"\0ctx", 4});
  return out;
}

// blobs: id \0 be64(chunk) -> bytes; blob_meta: id -> be64(chunks) be64(bytes)
// markers: ns \0 key -> ""
// default: durable_key -> be64(position): every event at or below it is on
// disk once the write that holds this value is. A read-only opener reads the
// WAL, which holds writes not yet synced; it serves events up to this value.
// No value: every event is (a store written without syncs, or by an earlier
// version).
constexpr std::string_view durable_key = "durable_position";
constexpr std::size_t cf_events = 1, cf_audit = 2, cf_heads = 3, cf_snapshots = 4, cf_blobs = 5,
                      cf_blob_meta = 6, cf_markers = 7;
const std::array<std::string, 8> cf_names{rocksdb::kDefaultColumnFamilyName,
                                          "events",
                                          "audit",
                                          "heads",
                                          "snapshots",
                                          "blobs",
                                          "blob_meta",
                                          "markers"};

class rocksdb_log final : public events::event_log {
public:
  rocksdb_log(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
              sync_policy sync, bool read_only)
    : db_(std::move(db))
    , cfs_(std::move(cfs))
    , read_only_(read_only) {
    write_options_.sync = sync == sync_policy::always;
    lazy_options_.sync = false;
  }

  ~rocksdb_log() override {
    // A clean stop leaves nothing for the next start to replay (a read-only
    // open refuses, which is fine), and every event it holds durable.
    if (!read_only_)
      (void)sync();
    (void)db_->Flush(rocksdb::FlushOptions{}, cfs_);
    for (auto* cf : cfs_)
      db_->DestroyColumnFamilyHandle(cf);
    db_->Close();
  }

  status init() {
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator({}, cfs_[cf_audit])};
    it->SeekToLast();
    if (!it->status().ok())
      return store_error("reading the audit index", it->status());
    next_position_ = 1;
    if (it->Valid()) {
      std::vector<std::string_view> keys;
      if (!read_audited(it->value().ToStringView(), keys))
        return events::make_error(riposte_errc::corrupt_event, "the last audit entry is malformed");
      next_position_ = read_be64(it->key().ToStringView()) + keys.size();
    }
    if (read_only_) {
      std::string value;
      auto st = db_->Get({}, cfs_[0], durable_key, &value);
      if (!st.ok() && !st.IsNotFound())
        return store_error("reading the durable position", st);
      if (st.ok() && value.size() == 8)
        read_only_durable_ = read_be64(value);
      return events::ok();
    }
    // Opening recovered (and flushed) whatever the last run wrote: all of it
    // is durable now. Without syncs no value is kept: everything written is.
    if (!write_options_.sync) {
      auto st = db_->Delete(lazy_options_, cfs_[0], durable_key);
      if (!st.ok())
        return store_error("clearing the durable position", st);
      return events::ok();
    }
    return sync();
  }

  std::uint64_t durable_position() const override {
    if (read_only_)
      return std::min(read_only_durable_, next_position_ - 1);
    std::lock_guard guard{positions_mutex_};
    auto below = next_position_;
    if (!in_flight_.empty())
      below = std::min(below, *in_flight_.begin());
    if (!unsynced_.empty())
      below = std::min(below, unsynced_.begin()->first);
    return below - 1;
  }

  // One synced write of the durable position: everything written before it
  // is then on disk.
  status sync() override {
    if (!can_sync())
      return events::ok();
    rocksdb::WriteBatch batch;
    std::uint64_t covers = 0;
    {
      std::lock_guard guard{positions_mutex_};
      covers = lazy_writes_;
      put_durable(batch, written_through_locked());
    }
    auto st = db_->Write(write_options_, &batch);
    if (!st.ok())
      return store_error("syncing the log", st);
    std::lock_guard guard{positions_mutex_};
    synced(covers);
    return events::ok();
  }

  // One append is a group of one: the same checks, write and head cache.
  result<std::vector<envelope>> append(const std::string& stream, std::int64_t expected_version,
                                       const std::vector<events::new_event>& evs) override {
    events::append_request req;
    req.stream = stream;
    req.expected_version = expected_version;
    req.events = evs;
    return std::move(append_many({req}).front());
  }

  bool group_commits() const override { return true; }
  bool snapshots_with_appends() const override { return true; }

  // Group commit: every request that passes its checks goes into one
  // WriteBatch, written (and synced) once.
  std::vector<result<std::vector<envelope>>>
  append_many(const std::vector<events::append_request>& requests) override {
    std::vector<result<std::vector<envelope>>> out(
        requests.size(), result<std::vector<envelope>>{std::vector<envelope>{}});
    // Stripes in index order, each once: no deadlock with single appends.
    std::vector<std::size_t> stripes;
    for (const auto& r : requests)
      stripes.push_back(stripe_index(r.stream));
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(stripes.size());
    for (auto i : stripes)
      locks.emplace_back(stripes_[i]);

    std::vector<std::size_t> accepted;
    std::vector<std::uint64_t> first_seq(requests.size(), 0);
    std::map<std::string, std::int64_t> heads;
    std::size_t total = 0;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const auto& r = requests[i];
      if (auto ok = check_stream_name(r.stream); !ok) {
        out[i] = ok.error();
        continue;
      }
      bool valid = true;
      for (const auto& ev : r.events)
        if (auto v = events::validate(ev); !v) {
          out[i] = v.error();
          valid = false;
          break;
        }
      if (!valid || r.events.empty())
        continue;
      // A stream appended to earlier in this batch is at its new head.
      auto earlier = heads.find(r.stream);
      auto current = earlier != heads.end()
                         ? result<std::int64_t>{earlier->second}
                         : head_of(stripe_index(r.stream), r.stream, r.expected_version);
      if (!current) {
        out[i] = current.error();
        continue;
      }
      if (!version_matches(r.expected_version, *current)) {
        out[i] = version_conflict(r.stream, r.expected_version, *current);
        continue;
      }
      first_seq[i] = static_cast<std::uint64_t>(*current + 1);
      heads[r.stream] = *current + static_cast<std::int64_t>(r.events.size());
      accepted.push_back(i);
      total += r.events.size();
    }
    if (accepted.empty())
      return out;
    // Synced unless no request needs it (and the log syncs at all).
    bool syncs =
        write_options_.sync && std::any_of(accepted.begin(), accepted.end(),
                                           [&](std::size_t i) { return requests[i].durable; });
    std::uint64_t first_position = 0, covers = 0;
    rocksdb::WriteBatch batch;
    {
      std::lock_guard guard{positions_mutex_};
      first_position = next_position_;
      next_position_ += total;
      in_flight_.insert(first_position);
      // What this write makes durable: every event written before it (lazy
      // ones too: one WAL, in order) and its own, up to the first still
      // being written by another thread.
      if (syncs) {
        covers = lazy_writes_;
        auto others = in_flight_.begin();
        put_durable(batch, *others == first_position ? next_position_ - 1 : *others - 1);
      }
    }
    std::string audited;
    auto position = first_position;
    std::vector<std::vector<envelope>> stored(requests.size());
    for (auto i : accepted) {
      const auto& r = requests[i];
      auto seq = first_seq[i];
      stored[i].reserve(r.events.size());
      for (const auto& ev : r.events) {
        envelope env{r.stream, seq, position, ev.type, ev.version, ev.tenant, ev.recorded_at, {}};
        auto key = event_key(r.stream, seq);
        if (ev.text.empty())
          batch.Put(cfs_[cf_events], key, events::serialize(env, ev.data));
        else
          batch.Put(cfs_[cf_events], key, events::serialize_text(env, ev.text));
        add_audited(audited, key);
        if (r.echo_data)
          env.data = events::data_json(ev);
        stored[i].push_back(std::move(env));
        ++seq;
        ++position;
      }
      for (const auto& m : r.markers)
        batch.Put(cfs_[cf_markers], m.ns + '\0' + m.key, "");
      put_snapshots_into(batch, r.snapshots, r.unmark);
    }
    batch.Put(cfs_[cf_audit], position_key(first_position), audited);
    auto st = db_->Write(syncs || !write_options_.sync ? write_options_ : lazy_options_, &batch);
    {
      std::lock_guard guard{positions_mutex_};
      in_flight_.erase(first_position);
      if (st.ok() && syncs)
        synced(covers);
      else if (st.ok() && write_options_.sync)
        unsynced_.emplace(first_position, lazy_writes_++);
    }
    for (const auto& [stream, head] : heads)
      remember_head(stripe_index(stream), stream, st.ok(), head);
    for (auto i : accepted)
      if (st.ok())
        out[i] = std::move(stored[i]);
      else
        out[i] = store_error("appending to '" + requests[i].stream + "'", st);
    return out;
  }

  // A stream's head is its last event's key: no key of its own to write
  // with every append.
  result<std::int64_t> version(const std::string& stream) override {
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator({}, cfs_[cf_events])};
    it->SeekForPrev(event_key(stream, std::numeric_limits<std::uint64_t>::max()));
    if (!it->status().ok())
      return store_error("reading the head of '" + stream + "'", it->status());
    if (!it->Valid())
      return std::int64_t{events::no_stream};
    auto key = it->key().ToStringView();
    if (key.size() != stream.size() + 9 || !key.starts_with(stream) || key[stream.size()] != '\0')
      return std::int64_t{events::no_stream};
    return static_cast<std::int64_t>(read_be64(key.substr(stream.size() + 1)));
  }

  // A reader is served only what is durable. In the process that writes,
  // a read that finds events of its stream not yet synced syncs them first
  // (it never waits for a later write); a read-only opener cannot.
  result<std::vector<envelope>> read(const std::string& stream, std::uint64_t from_seq,
                                     std::size_t limit) override {
    if (auto ok = check_stream_name(stream); !ok)
      return ok.error();
    bool past_durable = false;
    auto out = read_upto(stream, from_seq, limit, durable_position(), past_durable);
    if (!past_durable || !can_sync())
      return out;
    if (auto synced = sync(); !synced)
      return synced.error();
    return read_upto(stream, from_seq, limit, durable_position(), past_durable);
  }

  result<std::vector<envelope>> read_upto(const std::string& stream, std::uint64_t from_seq,
                                          std::size_t limit, std::uint64_t durable,
                                          bool& past_durable) {
    past_durable = false;
    auto current = version(stream);
    if (!current)
      return current.error();
    if (*current == events::no_stream)
      return make_error(riposte_errc::not_found, "stream '" + stream + "' does not exist");
    std::vector<envelope> out;
    auto upper = event_key(stream, static_cast<std::uint64_t>(*current) + 1);
    rocksdb::Slice upper_slice{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cfs_[cf_events])};
    for (it->Seek(event_key(stream, from_seq)); it->Valid() && out.size() < limit; it->Next()) {
      auto env = events::parse_envelope(it->value().ToStringView());
      if (!env)
        return env.error();
      if (env->global_position > durable) {
        past_durable = true; // a stream's events are in position order
        break;
      }
      out.push_back(std::move(*env));
    }
    if (!it->status().ok())
      return store_error("reading '" + stream + "'", it->status());
    // A stream none of whose events is durable yet does not exist for readers.
    if (past_durable && out.empty() && (from_seq == 0 || !durable_exists(stream, durable)))
      return make_error(riposte_errc::not_found, "stream '" + stream + "' does not exist");
    return out;
  }

  result<std::vector<envelope>> read_all(std::uint64_t after, std::size_t limit) override {
    return read_feed(after, limit, true, {});
  }
  result<std::vector<envelope>> read_durable(std::uint64_t after, std::size_t limit,
                                             const header_filter& wants_data) override {
    return read_feed(after, limit, false, wants_data);
  }

  // Every position <= visible is durable (or its write failed); what is
  // written past it is synced first where `sync_first` (see read).
  result<std::vector<envelope>> read_feed(std::uint64_t after, std::size_t limit, bool sync_first,
                                          const header_filter& wants_data) {
    std::uint64_t visible = durable_position();
    if (sync_first && can_sync() && after < written_through() && visible < written_through()) {
      if (auto synced = sync(); !synced)
        return synced.error();
      visible = durable_position();
    }
    std::vector<std::string> keys;
    if (after < visible) {
      auto upper = position_key(visible + 1);
      rocksdb::Slice upper_slice{upper};
      rocksdb::ReadOptions ro;
      ro.iterate_upper_bound = &upper_slice;
      std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cfs_[cf_audit])};
      // The entry holding position after + 1 may start before it.
      it->SeekForPrev(position_key(after + 1));
      if (!it->Valid() && it->status().ok())
        it->Seek(position_key(after + 1));
      std::vector<std::string_view> entry;
      for (; it->Valid() && keys.size() < limit; it->Next()) {
        entry.clear();
        if (!read_audited(it->value().ToStringView(), entry))
          return events::make_error(riposte_errc::corrupt_event, "an audit entry is malformed");
        auto position = read_be64(it->key().ToStringView());
        for (auto key : entry) {
          if (position > after && position <= visible && keys.size() < limit)
            keys.emplace_back(key);
          ++position;
        }
      }
      if (!it->status().ok())
        return store_error("reading the audit index", it->status());
    }
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<std::string> values;
    auto statuses =
        db_->MultiGet({}, std::vector<rocksdb::ColumnFamilyHandle*>(keys.size(), cfs_[cf_events]),
                      slices, &values);
    std::vector<envelope> out;
    out.reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!statuses[i].ok())
        return store_error("reading an audited event", statuses[i]);
      // The header first where the caller may not want the data; the whole
      // event only where it does.
      auto env =
          wants_data ? events::parse_envelope_header(values[i]) : events::parse_envelope(values[i]);
      if (env && wants_data && wants_data(*env))
        env = events::parse_envelope(values[i]);
      if (!env)
        return env.error();
      out.push_back(std::move(*env));
    }
    return out;
  }

  status put_snapshot(const std::string& stream, const events::snapshot& snap) override {
    std::string value = position_key(snap.seq);
    value += snap.payload;
    auto st = db_->Put(lazy_options_, cfs_[cf_snapshots], snapshot_key(stream), value);
    if (!st.ok())
      return store_error("writing a snapshot", st);
    return events::ok();
  }

  status put_snapshots(const std::vector<std::pair<std::string, events::snapshot>>& snaps,
                       const std::optional<events::marker_ref>& unmark) override {
    rocksdb::WriteBatch batch;
    put_snapshots_into(batch, snaps, unmark);
    auto st = db_->Write(lazy_options_, &batch);
    if (!st.ok())
      return store_error("writing snapshots", st);
    return events::ok();
  }

  result<std::optional<events::snapshot>> get_snapshot(const std::string& stream) override {
    std::string value;
    auto st = db_->Get({}, cfs_[cf_snapshots], snapshot_key(stream), &value);
    if (st.IsNotFound() && stream.starts_with(legacy_context_prefix))
      st = db_->Get({}, cfs_[cf_snapshots], stream, &value);
    if (st.IsNotFound())
      return std::optional<events::snapshot>{};
    if (!st.ok())
      return store_error("reading a snapshot", st);
    if (value.size() < 8)
      return make_error(riposte_errc::corrupt_event, "snapshot of '" + stream + "' is truncated");
    return std::optional<events::snapshot>{events::snapshot{read_be64(value), value.substr(8)}};
  }

  status put_blob(const std::string& id, const events::chunk_source& source) override {
    if (auto ok = check_stream_name(id); !ok)
      return ok.error();
    if (auto deleted = delete_blob(id); !deleted)
      return deleted;
    // Chunks are written as they arrive; the meta record, written last, makes
    // the blob visible, so a crash mid-upload leaves nothing readable.
    std::uint64_t chunks = 0, bytes = 0;
    while (auto chunk = source()) {
      auto st = db_->Put(write_options_, cfs_[cf_blobs], event_key(id, chunks), *chunk);
      if (!st.ok())
        return store_error("writing a blob chunk", st);
      ++chunks;
      bytes += chunk->size();
    }
    std::string meta = position_key(chunks);
    append_be64(meta, bytes);
    auto st = db_->Put(write_options_, cfs_[cf_blob_meta], id, meta);
    if (!st.ok())
      return store_error("writing blob metadata", st);
    return events::ok();
  }

  // How many chunks the blob has (its metadata), or not_found.
  events::result<std::uint64_t> blob_chunks(const std::string& id) {
    std::string meta;
    auto st = db_->Get({}, cfs_[cf_blob_meta], id, &meta);
    if (st.IsNotFound())
      return make_error(riposte_errc::not_found, "no blob '" + id + "'");
    if (!st.ok())
      return store_error("reading blob metadata", st);
    return read_be64(meta);
  }

  status get_blob(const std::string& id, const events::chunk_sink& sink) override {
    auto chunks = blob_chunks(id);
    if (!chunks)
      return chunks.error();
    std::string chunk;
    for (std::uint64_t i = 0; i < *chunks; ++i) {
      auto st = db_->Get({}, cfs_[cf_blobs], event_key(id, i), &chunk);
      if (!st.ok())
        return store_error("reading a blob chunk", st);
      if (!sink(chunk))
        break;
    }
    return events::ok();
  }

  events::result<std::optional<std::string>> read_blob_chunk(const std::string& id,
                                                             std::uint64_t index) override {
    auto chunks = blob_chunks(id);
    if (!chunks)
      return chunks.error();
    if (index >= *chunks)
      return std::optional<std::string>{};
    std::string chunk;
    auto st = db_->Get({}, cfs_[cf_blobs], event_key(id, index), &chunk);
    if (!st.ok())
      return store_error("reading a blob chunk", st);
    return std::optional<std::string>{std::move(chunk)};
  }

  status delete_blob(const std::string& id) override {
    rocksdb::WriteBatch batch;
    batch.Delete(cfs_[cf_blob_meta], id);
    batch.DeleteRange(cfs_[cf_blobs], event_key(id, 0),
                      event_key(id, std::numeric_limits<std::uint64_t>::max()));
    batch.Delete(cfs_[cf_blobs], event_key(id, std::numeric_limits<std::uint64_t>::max()));
    auto st = db_->Write(write_options_, &batch);
    if (!st.ok())
      return store_error("deleting a blob", st);
    return events::ok();
  }

  status put_marker(const std::string& ns, const std::string& key,
                    write_mode mode = write_mode::durable) override {
    auto st = db_->Put(mode == write_mode::lazy ? lazy_options_ : write_options_, cfs_[cf_markers],
                       ns + '\0' + key, "");
    if (!st.ok())
      return store_error("writing a marker", st);
    return events::ok();
  }

  status delete_marker(const std::string& ns, const std::string& key,
                       write_mode mode = write_mode::durable) override {
    auto st = db_->Delete(mode == write_mode::lazy ? lazy_options_ : write_options_,
                          cfs_[cf_markers], ns + '\0' + key);
    if (!st.ok())
      return store_error("deleting a marker", st);
    return events::ok();
  }

  result<bool> has_marker(const std::string& ns, const std::string& key) override {
    std::string value;
    auto st = db_->Get({}, cfs_[cf_markers], ns + '\0' + key, &value);
    if (st.IsNotFound())
      return false;
    if (!st.ok())
      return store_error("reading a marker", st);
    return true;
  }

  result<std::vector<std::string>> list_markers(const std::string& ns) override {
    auto prefix = ns + '\0';
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator({}, cfs_[cf_markers])};
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
      out.emplace_back(it->key().ToStringView().substr(prefix.size()));
    if (!it->status().ok())
      return store_error("listing markers", it->status());
    return out;
  }

private:
  // A response's end: its snapshots, and its in-flight marker gone.
  void put_snapshots_into(rocksdb::WriteBatch& batch,
                          const std::vector<std::pair<std::string, events::snapshot>>& snaps,
                          const std::optional<events::marker_ref>& unmark) {
    // In key order (a context snapshot's key follows its response's): the
    // memtable's insert then continues from the last instead of searching
    // the whole skip list again.
    std::vector<std::pair<std::string, const events::snapshot*>> keyed;
    keyed.reserve(snaps.size());
    for (const auto& [stream, snap] : snaps)
      keyed.emplace_back(snapshot_key(stream), &snap);
    std::stable_sort(keyed.begin(), keyed.end(), // the later of one key stays later
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, snap] : keyed) {
      std::string value = position_key(snap->seq);
      value += snap->payload;
      batch.Put(cfs_[cf_snapshots], key, value);
    }
    if (unmark)
      batch.Delete(cfs_[cf_markers], unmark->ns + '\0' + unmark->key);
  }

  bool can_sync() const { return !read_only_ && write_options_.sync; }

  // Every position at or below it is written (or its write failed).
  std::uint64_t written_through() const {
    std::lock_guard guard{positions_mutex_};
    return written_through_locked();
  }
  std::uint64_t written_through_locked() const {
    return in_flight_.empty() ? next_position_ - 1 : *in_flight_.begin() - 1;
  }

  // With positions_mutex_ held.
  void put_durable(rocksdb::WriteBatch& batch, std::uint64_t through) {
    std::string value;
    append_be64(value, through);
    batch.Put(cfs_[0], durable_key, value);
  }
  // A synced write that began once `covers` lazy writes had ended is done:
  // they are on disk. With positions_mutex_ held.
  void synced(std::uint64_t covers) {
    std::erase_if(unsynced_, [&](const auto& w) { return w.second < covers; });
  }
  // Is the stream's first event durable?
  bool durable_exists(const std::string& stream, std::uint64_t durable) {
    std::string value;
    if (!db_->Get({}, cfs_[cf_events], event_key(stream, 0), &value).ok())
      return false;
    auto env = events::parse_envelope(value);
    return env && env->global_position <= durable;
  }

  std::size_t stripe_index(const std::string& stream) const {
    return std::hash<std::string>{}(stream) % stripes_.size();
  }

  // A stream's head, with its stripe locked: from the cache of heads this
  // process wrote (it owns the database), else from the store. A stream that
  // must be new (every create's first append) is looked for by its first
  // key: events are never deleted, so no first event means no stream, and a
  // point lookup that the tables' bloom filters mostly answer costs a
  // fraction of the iterator that finds a head.
  result<std::int64_t> head_of(std::size_t stripe, const std::string& stream,
                               std::int64_t expected) {
    auto& cache = head_cache_[stripe];
    if (auto it = cache.find(stream); it != cache.end())
      return it->second;
    if (expected == events::no_stream) {
      std::string ignored;
      auto st = db_->Get({}, cfs_[cf_events], event_key(stream, 0), &ignored);
      if (st.IsNotFound())
        return std::int64_t{events::no_stream}; // not cached: it is about to be written
      if (!st.ok())
        return store_error("reading the head of '" + stream + "'", st);
    }
    auto current = version(stream);
    if (current)
      cache.emplace(stream, *current);
    return current;
  }

  // After a write, with the stripe locked: a failed one leaves the head unknown.
  void remember_head(std::size_t stripe, const std::string& stream, bool written,
                     std::int64_t head) {
    auto& cache = head_cache_[stripe];
    if (!written) {
      cache.erase(stream);
      return;
    }
    if (cache.size() >= head_cache_per_stripe)
      cache.clear(); // bounded: streams rarely written are read again
    cache[stream] = head;
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  bool read_only_ = false;
  rocksdb::WriteOptions write_options_;
  rocksdb::WriteOptions lazy_options_; // one WAL: the next synced write carries these
  // Appends to one stream are serialized by its stripe; others run in parallel.
  std::array<std::mutex, 64> stripes_;
  static constexpr std::size_t head_cache_per_stripe = 1024;
  std::array<std::unordered_map<std::string, std::int64_t>, 64> head_cache_;
  // Global positions handed out but not yet written, and those written
  // without a sync since (first position -> the how-manieth lazy write),
  // bound what readers see (durable_position).
  mutable std::mutex positions_mutex_;
  std::uint64_t next_position_ = 1;
  std::set<std::uint64_t> in_flight_;
  std::map<std::uint64_t, std::uint64_t> unsynced_;
  std::uint64_t lazy_writes_ = 0;
  std::uint64_t read_only_durable_ = UINT64_MAX; // from durable_key
};

// Memtable insert hints: an insert starts from where the last one with the
// same prefix went instead of searching the whole skip list again. An
// event's key is its stream's name and a seq that grows by one with each
// append; an audit key is a global position that grows. A stream's own
// hint starts empty, and its first insert would search the whole list: the
// first young_events of every stream share one hint instead (ids grow with
// time, so a new stream comes after the last one, and a blocking create's
// events are all young); a longer stream (deltas) takes its own from there.
// (Left out once, when the index's scale test missed its time with it in
// two runs of four on a machine a stray build shared; on a quiet one it
// passed four of four, as fast as without it.) Not for blobs: in RocksDB
// 7.8 a range deletion reuses the hints of the point keys and trips an
// assertion.
class counter_prefix final : public rocksdb::SliceTransform {
public:
  static constexpr unsigned char young_events = 16;
  const char* Name() const override { return "riposte.counter_prefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const auto* seq = key.data() + key.size() - 8;
    if (std::all_of(seq, seq + 7, [](char c) { return c == 0; }) &&
        static_cast<unsigned char>(seq[7]) < young_events)
      return {key.data(), 0};
    return {key.data(), key.size() - 8};
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 8; }
};

// A marker's namespace, up to its first separator ("inflight", "id" of the
// item index): each namespace's keys are written in the order ids grow, so
// each keeps its own insert hint instead of the namespaces taking turns at
// the skip list's one.
class namespace_prefix final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "riposte.namespace_prefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    std::size_t n = 0;
    while (n < key.size() && key[n] != '\0' && key[n] != '\x1f')
      ++n;
    return {key.data(), n};
  }
  bool InDomain(const rocksdb::Slice&) const override { return true; }
};

} // namespace

result<std::unique_ptr<events::event_log>> open_rocksdb_log(const std::string& path,
                                                            sync_policy sync, bool read_only) {
  std::error_code ec;
  if (!read_only)
    std::filesystem::create_directories(path, ec); // RocksDB creates only the last level
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  // A write-ahead log file lives until every column family has flushed what
  // it holds; the quiet ones (markers) would keep gigabytes of it for
  // the next start to replay. Past this size RocksDB flushes them instead.
  options.max_total_wal_size = 64u << 20;
  // One writer thread commits groups: no concurrent inserts to allow, and
  // the insert hints below need them off.
  options.allow_concurrent_memtable_write = false;
  rocksdb::ColumnFamilyOptions cf_options;
  // 32 MiB memtables: what a start after a crash replays stays small.
  cf_options.OptimizeLevelStyleCompaction(128u << 20);
  auto counted = cf_options;
  counted.memtable_insert_with_hint_prefix_extractor = std::make_shared<counter_prefix>();
  // Whole-key bloom filters: a create's check that its stream is new is a
  // lookup of a key no table holds, nor any memtable (whose own filter
  // spares that lookup a walk down the skip list): 160 KiB per 32 MiB
  // memtable, over 10 bits for each of the ~100k events one holds.
  counted.memtable_prefix_bloom_size_ratio = 0.005;
  counted.memtable_whole_key_filtering = true;
  // (The other families' options otherwise, their block cache included.)
  rocksdb::BlockBasedTableOptions tables;
  if (const auto* shared = cf_options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>())
    tables = *shared;
  tables.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  counted.table_factory.reset(rocksdb::NewBlockBasedTableFactory(tables));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  auto marked = cf_options;
  marked.memtable_insert_with_hint_prefix_extractor = std::make_shared<namespace_prefix>();
  for (std::size_t i = 0; i < cf_names.size(); ++i)
    descriptors.emplace_back(cf_names[i], i == cf_events || i == cf_audit ? counted
                                          : i == cf_markers               ? marked
                                                                          : cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = read_only ? rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &raw)
                      : rocksdb::DB::Open(options, path, descriptors, &handles, &raw);
  if (!st.ok())
    return store_error("cannot open RocksDB store at '" + path + "'", st);
  auto log = std::make_unique<rocksdb_log>(std::unique_ptr<rocksdb::DB>{raw}, std::move(handles),
                                           sync, read_only);
  if (auto ok = log->init(); !ok)
    return ok.error();
  return std::unique_ptr<events::event_log>{std::move(log)};
}

} // namespace riposte::adapters::store
