// An event log held in memory: the log of `store: false` responses (dropped
// when the response ends) and a reference for the conformance suite.
#include "adapters/store/store.hpp"
#include "adapters/store/stream_name.hpp"
#include "events/event.hpp"

#include <map>
#include <mutex>
#include <set>

namespace riposte::adapters::store {

namespace {

using events::envelope;
using events::make_error;
using events::riposte_errc;
template <class T>
using result = events::result<T>;

class memory_log final : public events::marking_log {
public:
  result<std::vector<envelope>>
  append_marked(const std::string& stream, std::int64_t expected_version,
                const std::vector<events::new_event>& evs,
                const std::vector<events::marker_ref>& markers) override {
    if (auto ok = check_stream_name(stream); !ok)
      return ok.error();
    for (const auto& ev : evs)
      if (auto valid = events::validate(ev); !valid)
        return valid.error();
    std::lock_guard guard{mutex_};
    auto& log = streams_[stream];
    auto current = static_cast<std::int64_t>(log.size()) - 1;
    if (!version_matches(expected_version, current)) {
      if (log.empty())
        streams_.erase(stream);
      return version_conflict(stream, expected_version, current);
    }
    for (const auto& m : markers)
      markers_[m.ns].insert(m.key);
    std::vector<envelope> stored;
    for (const auto& ev : evs) {
      envelope env{stream,     log.size(), next_position_++, ev.type,
                   ev.version, ev.tenant,  ev.recorded_at,   events::data_json(ev)};
      log.push_back(env);
      all_.emplace(env.global_position, std::make_pair(stream, env.seq));
      stored.push_back(std::move(env));
    }
    if (log.empty())
      streams_.erase(stream);
    return stored;
  }

  result<std::vector<envelope>> read(const std::string& stream, std::uint64_t from_seq,
                                     std::size_t limit) override {
    std::lock_guard guard{mutex_};
    auto it = streams_.find(stream);
    if (it == streams_.end())
      return make_error(riposte_errc::not_found, "stream '" + stream + "' does not exist");
    std::vector<envelope> out;
    for (auto seq = from_seq; seq < it->second.size() && out.size() < limit; ++seq)
      out.push_back(it->second[seq]);
    return out;
  }

  result<std::int64_t> version(const std::string& stream) override {
    std::lock_guard guard{mutex_};
    auto it = streams_.find(stream);
    return it == streams_.end() ? std::int64_t{events::no_stream}
                                : static_cast<std::int64_t>(it->second.size()) - 1;
  }

  result<std::vector<envelope>> read_all(std::uint64_t after, std::size_t limit) override {
    std::lock_guard guard{mutex_};
    std::vector<envelope> out;
    for (auto it = all_.upper_bound(after); it != all_.end() && out.size() < limit; ++it)
      out.push_back(streams_[it->second.first][it->second.second]);
    return out;
  }

  events::status put_snapshot(const std::string& stream, const events::snapshot& snap) override {
    std::lock_guard guard{mutex_};
    snapshots_[stream] = snap;
    return events::ok();
  }

  result<std::optional<events::snapshot>> get_snapshot(const std::string& stream) override {
    std::lock_guard guard{mutex_};
    auto it = snapshots_.find(stream);
    if (it == snapshots_.end())
      return std::optional<events::snapshot>{};
    return std::optional<events::snapshot>{it->second};
  }

  events::status put_blob(const std::string& id, const events::chunk_source& source) override {
    std::vector<std::string> chunks;
    while (auto chunk = source())
      chunks.push_back(std::move(*chunk));
    std::lock_guard guard{mutex_};
    blobs_[id] = std::move(chunks);
    return events::ok();
  }

  events::status get_blob(const std::string& id, const events::chunk_sink& sink) override {
    std::vector<std::string> chunks;
    {
      std::lock_guard guard{mutex_};
      auto it = blobs_.find(id);
      if (it == blobs_.end())
        return make_error(riposte_errc::not_found, "no blob '" + id + "'");
      chunks = it->second;
    }
    for (const auto& chunk : chunks)
      if (!sink(chunk))
        break;
    return events::ok();
  }

  events::result<std::optional<std::string>> read_blob_chunk(const std::string& id,
                                                             std::uint64_t index) override {
    std::lock_guard guard{mutex_};
    auto it = blobs_.find(id);
    if (it == blobs_.end())
      return make_error(riposte_errc::not_found, "no blob '" + id + "'");
    if (index >= it->second.size())
      return std::optional<std::string>{};
    return std::optional<std::string>{it->second[index]};
  }

  events::status delete_blob(const std::string& id) override {
    std::lock_guard guard{mutex_};
    blobs_.erase(id);
    return events::ok();
  }

  events::status put_marker(const std::string& ns, const std::string& key,
                            write_mode = write_mode::durable) override {
    std::lock_guard guard{mutex_};
    markers_[ns].insert(key);
    return events::ok();
  }

  events::status delete_marker(const std::string& ns, const std::string& key,
                               write_mode = write_mode::durable) override {
    std::lock_guard guard{mutex_};
    markers_[ns].erase(key);
    return events::ok();
  }

  result<std::vector<std::string>> list_markers(const std::string& ns) override {
    std::lock_guard guard{mutex_};
    auto it = markers_.find(ns);
    if (it == markers_.end())
      return std::vector<std::string>{};
    return std::vector<std::string>(it->second.begin(), it->second.end());
  }

private:
  std::mutex mutex_;
  std::uint64_t next_position_ = 1;
  std::map<std::string, std::vector<envelope>> streams_;
  std::map<std::uint64_t, std::pair<std::string, std::uint64_t>> all_;
  std::map<std::string, events::snapshot> snapshots_;
  std::map<std::string, std::vector<std::string>> blobs_;
  std::map<std::string, std::set<std::string>> markers_;
};

} // namespace

std::unique_ptr<events::event_log> make_memory_log() {
  return std::make_unique<memory_log>();
}

} // namespace riposte::adapters::store
