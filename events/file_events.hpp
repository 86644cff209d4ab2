// Facts about uploaded files (stream `file_<id>`) and idempotency keys
// (stream `idem_<tenant>_<key>`, whose first event claims the key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace riposte::events {

struct file_uploaded {
  static constexpr std::string_view type = "file_uploaded";
  static constexpr int version = 1;
  std::string file_id;
  std::string filename;
  std::string purpose;
  std::int64_t bytes = 0;
  std::string sha256;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0; // 0: never
};

struct file_deleted {
  static constexpr std::string_view type = "file_deleted";
  static constexpr int version = 1;
  std::string file_id;
};

// An Idempotency-Key was used for the first time: the hash of the request it
// came with and the response it created.
struct idempotency_key_recorded {
  static constexpr std::string_view type = "idempotency_key_recorded";
  static constexpr int version = 1;
  std::string key;
  std::string request_hash;
  std::string response_id;
};

} // namespace riposte::events
