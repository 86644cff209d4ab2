// riposte's configuration: every flag, its environment variable, and checks
// that turn a bad value into a one-line reason before anything starts.
#pragma once

#include "adapters/store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace riposte::app {

struct api_key {
  std::string key;
  std::string tenant;
};

// `riposte replay RESPONSE_ID`: a response's events, rebuilt Response, or SSE.
struct replay_options {
  std::string response_id;
  bool sse = false;           // print the exact SSE stream a client saw
  bool response_only = false; // print only the rebuilt Response
  bool timeline = false;      // print the events as a timeline for people
  bool obfuscation = true;    // as stream_options.include_obfuscation
  std::int64_t starting_after = -1;
};

// `riposte audit`: the global event feed, filtered.
struct audit_options {
  std::string tenant;
  std::string type;
  std::uint64_t after = 0;
  std::int64_t since = 0; // unix seconds, 0: no bound
  std::int64_t until = 0;
  std::size_t limit = 0; // 0: everything
  bool follow = false;   // at the end, wait for more (until stopped)
  long follow_every_ms = 500;
};

// One --backend: [NAME=][KIND:]URL[,models=A|B][,prefix=P][,key_env=VAR][,key_file=PATH]
// [,concurrency=N][,timeout_ms=N].
struct backend_spec {
  std::string name; // unique; defaults to the kind (then KIND-2, KIND-3...)
  std::string kind; // ollama (native API) or a Chat Completions kind
  std::string url;  // without a trailing / (or /v1)
  std::vector<std::string> models;
  std::string prefix;
  std::string api_key; // read from key_env or key_file; never logged
  std::size_t concurrency = 0; // generations at once on it (0: --backend-concurrency only)
  long timeout_ms = 0;         // a whole generation (0: --backend-timeout-ms)
};

struct config {
  std::string command = "serve"; // serve | replay | audit
  replay_options replay;
  audit_options audit;
  std::string listen = "127.0.0.1:8080";
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  adapters::store::store_options store;
  std::vector<std::string> backend_flags{"http://127.0.0.1:11434"};
  std::vector<backend_spec> backends; // from backend_flags
  bool ready_requires_all_backends = false;
  std::vector<api_key> api_keys;
  std::string admin_key;
  std::string log_level = "info";
  std::size_t http_threads = 1;
  std::uint64_t http_offload_bytes = 64u << 10; // bodies parsed off the io thread from this size
  std::size_t parse_threads = 2;                // and the threads that parse them
  std::uint64_t max_body_bytes = 32u << 20;
  std::size_t max_json_depth = 64;
  std::size_t max_connections = 1024;
  bool no_websocket = false;
  bool no_index = false;             // no operator index of responses (and no follower thread)
  std::int64_t index_keep_ms = 5000; // how often a changed index is kept in the store
  std::uint64_t max_websocket_message_bytes = 64u << 20;
  std::size_t max_websockets_per_tenant = 64;
  long websocket_ping_ms = 30'000;
  std::size_t max_url_bytes = 16u << 10;
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_headers = 100;
  long read_timeout_ms = 60'000;
  long shutdown_timeout_ms = 10'000;
  long backend_connect_timeout_ms = 5'000;
  long backend_timeout_ms = 600'000;
  std::size_t backend_concurrency = 16;
  std::string backend_client = "native"; // curl or native: the loop for plain-http backends
  std::size_t model_concurrency = 0;
  std::size_t store_threads = 16;
  std::size_t outbound_threads = 8; // URL fetches, web search, image generation
  long passivate_after_ms = 30'000;
  std::size_t max_idle_responses = 10'000;
  std::int64_t max_chain_depth = 1'000;
  long sse_keepalive_ms = 15'000;
  long job_timeout_ms = 0;
  std::string default_model;
  std::string reasoning_key_file;
  std::uint64_t max_upload_bytes = 64u << 20;
  std::uint64_t tenant_quota_bytes = 0;
  std::int64_t min_file_expiry_seconds = 3600;
  std::vector<std::string> fetch_allow;
  long fetch_timeout_ms = 10'000;
  long readiness_timeout_ms = 2'000;
  std::vector<std::string> context_windows; // MODEL=TOKENS
  std::int64_t default_context_window = 4096;
  int exact_count_percent = 85;
  std::string web_search; // searxng:URL or static:PATH
  long web_search_timeout_ms = 10'000;
  std::vector<std::string> web_search_block;
  std::size_t web_search_max_results = 5;
  std::string image_generation; // a1111:URL or comfyui:URL
  long image_generation_timeout_ms = 120'000;
  std::string image_generation_max_size = "1024x1024";
  std::string image_generation_checkpoint = "v1-5-pruned-emaonly.safetensors";
};

// What parsing decided: run with `cfg`, or exit now with `exit_code` (after
// --help, or with a one-line `message` for a bad flag).
struct parse_outcome {
  std::optional<config> cfg;
  int exit_code = 0;
  std::string message;
};

parse_outcome parse_config(int argc, char** argv);

// Reads one --backend value; false with a one-line reason if malformed.
bool parse_backend_spec(const std::string& text, backend_spec& out, std::string& reason);

// Splits "HOST:PORT" ("[::1]:8080" for IPv6); false with a reason if malformed.
bool split_host_port(const std::string& listen, std::string& host, std::uint16_t& port,
                     std::string& reason);

} // namespace riposte::app
