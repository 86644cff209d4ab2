// Picks the store implementation from the `--store` URI.
#include "adapters/store/store.hpp"

namespace riposte::adapters::store {

events::result<std::unique_ptr<events::event_log>> open_store(const store_options& opts) {
  const std::string& uri = opts.uri;
  if (uri.rfind("rocksdb:", 0) == 0) {
    auto path = uri.substr(8);
    if (path.empty())
      return events::make_error(events::riposte_errc::invalid_request,
                                "--store rocksdb: needs a path, e.g. rocksdb:./data", "store");
    return open_rocksdb_log(path, opts.sync, opts.read_only);
  }
  if (uri.rfind("postgres://", 0) == 0 || uri.rfind("postgresql://", 0) == 0)
    return open_postgres_log(uri, opts.pool_size, opts.sync, opts.lease);
  if (uri == "memory")
    return make_memory_log();
  return events::make_error(
      events::riposte_errc::invalid_request,
      "--store must be rocksdb:PATH, postgres://... or memory, not '" + uri + "'", "store");
}

} // namespace riposte::adapters::store
