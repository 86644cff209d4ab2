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

struct file_upload {
  std::string tenant;
  std::string filename;
  std::string purpose;
  std::int64_t expires_after_seconds = 0; // 0: never
  std::shared_ptr<const std::string> bytes;
};

struct file_query {
  std::string tenant;
  std::string purpose; // empty: any
  std::int64_t limit = 10'000;
  bool ascending = false;
  std::string after; // a file id
};

// A file's bytes on their way out: `head` once (the file object, or why
// not), then `chunk` per piece, then `done`. `chunk` never blocks: it calls
// `next(true)` once the client has taken the piece (false: it is gone), and
// only then is the next piece read. A slow reader holds one chunk of memory
// and no thread.
struct file_reader {
  std::function<void(events::result<nlohmann::json>)> head;
  std::function<void(std::string piece, std::function<void(bool)> next)> chunk;
  std::function<void(bool ok)> done;
};

using file_upload_atom = caf::atom_constant<caf::atom("fupload")>;
using file_list_atom = caf::atom_constant<caf::atom("flist")>;
using file_get_atom = caf::atom_constant<caf::atom("fget")>;
using file_read_atom = caf::atom_constant<caf::atom("fread")>;
using file_delete_atom = caf::atom_constant<caf::atom("fdelete")>;

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

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::file_upload)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::file_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(riposte::actors::file_reader)
