// Opening the configured store: `rocksdb:PATH` (embedded default) or
// `postgres://...` / `postgresql://...`.
#pragma once

#include "events/errc.hpp"
#include "events/event_log.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace riposte::adapters::store {

// When an append is made durable: `always` fsyncs the write-ahead log before
// the append returns (survives power loss); `none` leaves it to the OS (survives
// a process crash, may lose the last writes on power loss).
enum class sync_policy { always, none };

// Replicas sharing one PostgreSQL: this process's name among them and how
// long its lease lasts unless renewed. No id: no lease (a command that only
// reads, a test).
struct replica_lease {
  std::string id;
  long lease_ms = 6000;
  // What this replica serves, as text: replicas whose text differs are
  // reported (event_log::differing_replicas).
  std::string config;
};

struct store_options {
  std::string uri = "rocksdb:./data";
  sync_policy sync = sync_policy::always;
  std::size_t pool_size = 4; // Postgres connections
  bool read_only = false;     // RocksDB: open beside a running riposte, for reading
  replica_lease lease;        // PostgreSQL only
};

events::result<std::unique_ptr<events::event_log>> open_store(const store_options& opts);

events::result<std::unique_ptr<events::event_log>>
open_rocksdb_log(const std::string& path, sync_policy sync, bool read_only = false);

// Applies pending schema migrations, then opens `pool_size` connections.
events::result<std::unique_ptr<events::event_log>>
open_postgres_log(const std::string& uri, std::size_t pool_size, sync_policy sync,
                  const replica_lease& lease = {});

// A log that lives in memory only (for `store: false` responses and tests).
std::unique_ptr<events::event_log> make_memory_log();

} // namespace riposte::adapters::store
