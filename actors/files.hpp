// The Files API over the event log: a file is a stream (`file_uploaded`, then
// maybe `file_deleted`) plus a blob holding its bytes; a marker per file
// (namespace `files`, key tenant/created/id/bytes) lists a tenant's files in
// time order without reading every stream. Blocking store work runs on the
// store pool; the actor orders the operations.
#pragma once

#include "actors/messages.hpp"
#include "actors/services.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

namespace riposte::actors {

struct file_limits {
  std::uint64_t max_upload_bytes = 64u << 20;
  std::uint64_t tenant_quota_bytes = 0;   // 0: no quota
  std::int64_t min_expiry_seconds = 3600; // the API's floor for expires_after
};

// Its protocol, files_actor, is in messages.hpp.
caf::actor spawn_files(caf::actor_system& sys, std::shared_ptr<const services> svc,
                       file_limits limits);

// A live file of `tenant` with its bytes (blocking: store threads only).
// Files larger than `max_bytes` are refused rather than read.
struct file_contents {
  std::string filename;
  std::string bytes;
};
events::result<file_contents> read_file_bytes(events::event_log& log, const std::string& id,
                                              const std::string& tenant, std::uint64_t max_bytes);

// Bytes of every live file, for riposte_file_bytes_stored at start-up.
events::result<std::int64_t> stored_file_bytes(events::event_log& log);

} // namespace riposte::actors
