// Files: upload, list, retrieve, read and delete, as store jobs.
#include "actors/files.hpp"

#include "actors/guard.hpp"
#include "events/event.hpp"
#include "events/faults.hpp"
#include "events/ids.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>

namespace riposte::actors {

namespace {

namespace ev = events;
using ev::riposte_errc;

constexpr const char* file_markers = "files";
constexpr char sep = '\x1f';
constexpr std::size_t blob_chunk = 1u << 20;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// tenant \x1f created_us (16 digits) \x1f id \x1f bytes
struct listed {
  std::string tenant, created, id;
  std::int64_t bytes = 0;
};

std::string marker_key(const std::string& tenant, std::int64_t created_us, const std::string& id,
                       std::int64_t bytes) {
  char created[24];
  std::snprintf(created, sizeof created, "%016lld", static_cast<long long>(created_us));
  return tenant + sep + created + sep + id + sep + std::to_string(bytes);
}

std::optional<listed> parse_key(const std::string& key) {
  auto a = key.find(sep);
  auto b = a == std::string::npos ? a : key.find(sep, a + 1);
  auto c = b == std::string::npos ? b : key.find(sep, b + 1);
  if (c == std::string::npos)
    return std::nullopt;
  return listed{key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1, c - b - 1),
                std::atoll(key.substr(c + 1).c_str())};
}

ev::error_info no_such_file(const std::string& id) {
  return ev::make_error(riposte_errc::not_found, "No such File object: " + id, "file_id");
}

// A live file as its events tell it.
struct file_state {
  ev::file_uploaded meta;
  std::string tenant;
  std::int64_t version = 0;
  std::int64_t created_us = 0;
};

// Removes what a deleted or expired file left: its bytes and its marker.
void sweep(ev::event_log& log, const file_state& f, adapters::observability::metrics* stats) {
  (void)log.delete_blob(f.meta.file_id);
  (void)log.delete_marker(file_markers,
                          marker_key(f.tenant, f.created_us, f.meta.file_id, f.meta.bytes));
  if (stats)
    stats->file_bytes().Decrement(static_cast<double>(f.meta.bytes));
}

// The live file `id` of `tenant`. An expired file is deleted here, by an
// appended event, and reads as gone.
ev::result<file_state> load(ev::event_log& log, const std::string& id, const std::string& tenant,
                            adapters::observability::metrics* stats) {
  auto events = log.read(id, 0, 16);
  if (!events || events->empty() || events->front().tenant != tenant)
    return no_such_file(id);
  file_state f;
  f.tenant = tenant;
  f.version = static_cast<std::int64_t>(events->back().seq);
  f.created_us = events->front().recorded_at;
  bool live = false;
  for (const auto& env : *events) {
    auto decoded = ev::decode(env);
    if (!decoded)
      return decoded.error();
    if (auto* up = std::get_if<ev::file_uploaded>(&*decoded)) {
      f.meta = *up;
      live = true;
    } else if (std::holds_alternative<ev::file_deleted>(*decoded)) {
      live = false;
    }
  }
  if (!live)
    return no_such_file(id);
  // A file lives exactly its expires_after from the moment it was stored
  // (the whole seconds of expires_at would cut it short by up to a second).
  if (f.meta.expires_at != 0 &&
      now_micros() >= f.created_us + (f.meta.expires_at - f.meta.created_at) * 1'000'000) {
    auto gone =
        log.append(id, f.version, {ev::make_new_event(ev::file_deleted{id}, tenant, now_micros())});
    if (gone)
      sweep(log, f, stats);
    return no_such_file(id);
  }
  return f;
}

void upload(ev::event_log& log, adapters::observability::metrics* stats, const file_limits& limits,
            const file_upload& up, const reply_for<ev::file_uploaded>& r) {
  auto size = static_cast<std::int64_t>(up.bytes->size());
  // Replicas sharing the store take turns too: the check and the listing
  // that makes it true happen under one lock per tenant.
  std::unique_ptr<ev::event_log::held_lock> turn;
  if (limits.tenant_quota_bytes > 0) {
    auto held = log.lock("file-quota:" + up.tenant);
    if (!held)
      return r(held.error());
    turn = std::move(*held);
    auto keys = log.list_markers(file_markers);
    if (!keys)
      return r(keys.error());
    std::int64_t used = 0;
    for (const auto& key : *keys)
      if (auto l = parse_key(key); l && l->tenant == up.tenant)
        used += l->bytes;
    if (static_cast<std::uint64_t>(used + size) > limits.tenant_quota_bytes)
      return r(ev::make_error(riposte_errc::payload_too_large,
                              "This upload of " + std::to_string(size) +
                                  " bytes would exceed your file storage quota (" +
                                  std::to_string(used) + " of " +
                                  std::to_string(limits.tenant_quota_bytes) + " bytes used).",
                              "file"));
  }
  auto id = ev::make_id("file-", 24);
  auto created_us = now_micros();
  ev::file_uploaded meta{
      id,
      up.filename,
      up.purpose,
      size,
      sha256_hex(*up.bytes),
      created_us / 1'000'000,
      up.expires_after_seconds ? created_us / 1'000'000 + up.expires_after_seconds : 0};
  // Bytes first, then the event that makes them a file, then the listing.
  std::size_t offset = 0;
  auto bytes = up.bytes;
  auto stored = log.put_blob(id, [&]() -> std::optional<std::string> {
    if (offset >= bytes->size())
      return std::nullopt;
    auto piece = bytes->substr(offset, blob_chunk);
    offset += piece.size();
    return piece;
  });
  if (!stored)
    return r(stored.error());
  auto appended = log.append(id, ev::no_stream, {ev::make_new_event(meta, up.tenant, created_us)});
  if (!appended) {
    (void)log.delete_blob(id);
    return r(appended.error());
  }
  if (auto listed = log.put_marker(file_markers, marker_key(up.tenant, created_us, id, size));
      !listed)
    return r(listed.error());
  if (stats)
    stats->file_bytes().Increment(static_cast<double>(size));
  r(std::move(meta));
}

void list(ev::event_log& log, adapters::observability::metrics* stats, const file_query& q,
          const reply_for<file_page>& r) {
  auto keys = log.list_markers(file_markers);
  if (!keys)
    return r(keys.error());
  std::vector<listed> mine;
  for (const auto& key : *keys)
    if (auto l = parse_key(key); l && l->tenant == q.tenant)
      mine.push_back(*l);
  std::sort(mine.begin(), mine.end(), [&](const listed& a, const listed& b) {
    auto ka = a.created + a.id, kb = b.created + b.id;
    return q.ascending ? ka < kb : ka > kb;
  });
  std::size_t start = 0;
  if (!q.after.empty()) {
    auto it =
        std::find_if(mine.begin(), mine.end(), [&](const listed& l) { return l.id == q.after; });
    if (it == mine.end())
      return r(ev::make_error(riposte_errc::invalid_value,
                              "Invalid value for 'after': no file '" + q.after + "' to page from.",
                              "after"));
    start = static_cast<std::size_t>(it - mine.begin()) + 1;
  }
  file_page page;
  for (std::size_t i = start; i < mine.size(); ++i) {
    auto f = load(log, mine[i].id, q.tenant, stats);
    if (!f || (!q.purpose.empty() && f->meta.purpose != q.purpose))
      continue;
    if (static_cast<std::int64_t>(page.data.size()) == q.limit) {
      page.has_more = true;
      break;
    }
    page.data.push_back(std::move(f->meta));
  }
  r(std::move(page));
}

void remove(ev::event_log& log, adapters::observability::metrics* stats, const std::string& id,
            const std::string& tenant, const reply_for<deleted_object>& r) {
  auto f = load(log, id, tenant, stats);
  if (!f)
    return r(f.error());
  auto gone =
      log.append(id, f->version, {ev::make_new_event(ev::file_deleted{id}, tenant, now_micros())});
  if (!gone)
    return r(gone.error().code == riposte_errc::version_conflict ? no_such_file(id) : gone.error());
  sweep(log, *f, stats);
  r(deleted_object{id});
}

// One chunk, then (once the client took it) the next, each a store job of
// its own: no store thread waits for a client.
void send_chunk(thread_pool* pool, ev::event_log* log, std::string id, std::uint64_t index,
                file_reader out) {
  auto piece = log->read_blob_chunk(id, index);
  if (!piece || !*piece)
    return out.done(piece.has_value());
  auto next = [pool, log, id, index, out](bool taken) {
    if (!taken)
      return out.done(false);
    pool->post([=] { send_chunk(pool, log, id, index + 1, out); },
               [out](const std::string&) { out.done(false); });
  };
  out.chunk(std::move(**piece), std::move(next));
}

void read(thread_pool* pool, ev::event_log* log, adapters::observability::metrics* stats,
          const std::string& id, const std::string& tenant, const file_reader& out) {
  auto f = load(*log, id, tenant, stats);
  if (!f)
    return out.head(f.error());
  out.head(f->meta);
  send_chunk(pool, log, id, 0, out);
}

struct pending_upload {
  file_upload up;
  reply_for<ev::file_uploaded> r;
};

struct files_state {
  // With a quota, one tenant's uploads run one at a time (on each replica,
  // and under a store lock across them), so the quota check and the write
  // that uses it cannot interleave with another upload's.
  std::map<std::string, std::deque<pending_upload>> uploads;
};

using files_self = files_actor::stateful_pointer<files_state>;

void next_upload(files_self self, std::shared_ptr<const services> svc, file_limits limits,
                 const std::string& tenant) {
  auto& queue = self->state.uploads[tenant];
  if (queue.empty()) {
    self->state.uploads.erase(tenant);
    return;
  }
  auto job = queue.front();
  auto me = caf::actor_cast<files_actor>(self);
  auto* log = svc->log;
  auto* stats = svc->stats.get();
  auto finished = [me, tenant] { caf::anon_send(me, file_uploaded_atom::value, tenant); };
  svc->store_pool->post(
      [=] {
        upload(*log, stats, limits, job.up, job.r);
        finished();
      },
      [finished](const std::string&) { finished(); });
}

files_actor::behavior_type files(files_self self, std::shared_ptr<const services> svc,
                                 file_limits limits) {
  auto* log = svc->log;
  auto* stats = svc->stats.get();
  auto* pool = svc->store_pool;
  auto post = [svc](std::function<void()> job) { svc->store_pool->post(std::move(job)); };
  auto on_fault = [](const std::string& what) { ev::report_fault("files", what); };
  return guarded_typed<files_actor::behavior_type>(
      self, on_fault,
      [=](file_upload_atom, file_upload& up, reply_for<ev::file_uploaded>& r) {
        if (limits.tenant_quota_bytes == 0)
          return post([=] { upload(*log, stats, limits, up, r); });
        auto tenant = up.tenant;
        auto& queue = self->state.uploads[tenant];
        queue.push_back(pending_upload{std::move(up), std::move(r)});
        if (queue.size() == 1)
          next_upload(self, svc, limits, tenant);
      },
      [=](file_uploaded_atom, const std::string& tenant) {
        auto it = self->state.uploads.find(tenant);
        if (it == self->state.uploads.end())
          return;
        if (!it->second.empty())
          it->second.pop_front();
        next_upload(self, svc, limits, tenant);
      },
      [=](file_list_atom, file_query& q, reply_for<file_page>& r) {
        post([=] { list(*log, stats, q, r); });
      },
      [=](file_get_atom, const std::string& id, const std::string& tenant,
          reply_for<ev::file_uploaded>& r) {
        post([=] {
          auto f = load(*log, id, tenant, stats);
          f ? r(f->meta) : r(f.error());
        });
      },
      [=](file_read_atom, const std::string& id, const std::string& tenant, file_reader& out) {
        pool->post([=] { read(pool, log, stats, id, tenant, out); },
                   [out](const std::string&) { out.done(false); });
      },
      [=](file_delete_atom, const std::string& id, const std::string& tenant,
          reply_for<deleted_object>& r) { post([=] { remove(*log, stats, id, tenant, r); }); },
      // Test hook (RIPOSTE_TEST_FAULTS).
      [=](fault_atom, const std::string&, reply_to&) {
        throw std::runtime_error("injected fault (files)");
      });
}

} // namespace

caf::actor spawn_files(caf::actor_system& sys, std::shared_ptr<const services> svc,
                       file_limits limits) {
  return caf::actor_cast<caf::actor>(sys.spawn(files, std::move(svc), limits));
}

ev::result<file_contents> read_file_bytes(ev::event_log& log, const std::string& id,
                                          const std::string& tenant, std::uint64_t max_bytes) {
  auto f = load(log, id, tenant, nullptr);
  if (!f)
    return f.error();
  if (static_cast<std::uint64_t>(f->meta.bytes) > max_bytes)
    return ev::make_error(riposte_errc::invalid_value, "File " + id + " is " +
                                                           std::to_string(f->meta.bytes) +
                                                           " bytes; inputs may be at most " +
                                                           std::to_string(max_bytes) + " bytes.");
  file_contents out{f->meta.filename, {}};
  out.bytes.reserve(static_cast<std::size_t>(f->meta.bytes));
  auto read = log.get_blob(id, [&](std::string_view piece) {
    out.bytes.append(piece);
    return out.bytes.size() <= max_bytes;
  });
  if (!read)
    return read.error();
  return out;
}

ev::result<std::int64_t> stored_file_bytes(ev::event_log& log) {
  auto keys = log.list_markers(file_markers);
  if (!keys)
    return keys.error();
  std::int64_t total = 0;
  for (const auto& key : *keys)
    if (auto l = parse_key(key))
      total += l->bytes;
  return total;
}

} // namespace riposte::actors
