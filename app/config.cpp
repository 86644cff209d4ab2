// Flags and environment variables, parsed with CLI11.
#include "app/config.hpp"

#include "adapters/backends/openai_chat.hpp"
#include "adapters/fetch/guarded_fetch.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

namespace riposte::app {

bool split_host_port(const std::string& listen, std::string& host, std::uint16_t& port,
                     std::string& reason) {
  std::string port_text;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      reason = "--listen must be HOST:PORT or [IPV6]:PORT, not '" + listen + "'";
      return false;
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      reason = "--listen must be HOST:PORT, not '" + listen + "'";
      return false;
    }
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port_text) > 65535) {
    reason = "--listen port must be a number from 0 to 65535, not '" + port_text + "'";
    return false;
  }
  port = static_cast<std::uint16_t>(std::stoul(port_text));
  return true;
}

bool parse_backend_spec(const std::string& text, backend_spec& out, std::string& reason) {
  auto fail = [&](const std::string& why) {
    reason = "--backend '" + text + "': " + why;
    return false;
  };
  // NAME= and KIND: come before the URL; options after the URL's first comma.
  auto url_start = std::min(text.find("http://"), text.find("https://"));
  if (url_start == std::string::npos)
    return fail("no http:// or https:// URL");
  auto scheme_end = text.find("://", url_start) + 3;
  auto prefix_part = text.substr(0, url_start);
  auto comma = text.find(',', url_start);
  out.url =
      text.substr(url_start, comma == std::string::npos ? std::string::npos : comma - url_start);
  if (!prefix_part.empty()) {
    if (prefix_part.back() != ':')
      return fail("expected KIND: before the URL");
    prefix_part.pop_back();
    auto eq = prefix_part.find('=');
    if (eq != std::string::npos) {
      out.name = prefix_part.substr(0, eq);
      prefix_part = prefix_part.substr(eq + 1);
      if (out.name.empty())
        return fail("an empty NAME");
    }
    out.kind = prefix_part;
  }
  if (out.kind.empty())
    out.kind = "ollama";
  auto kinds = adapters::backends::chat_kinds();
  if (out.kind != "ollama" && std::find(kinds.begin(), kinds.end(), out.kind) == kinds.end()) {
    std::string known = "ollama";
    for (const auto& k : kinds)
      known += ", " + k;
    return fail("unknown kind '" + out.kind + "' (known: " + known + ")");
  }
  while (!out.url.empty() && out.url.back() == '/')
    out.url.pop_back();
  // A Chat Completions URL is often written with its /v1; riposte adds it.
  if (out.kind != "ollama" && out.url.size() > 3 &&
      out.url.compare(out.url.size() - 3, 3, "/v1") == 0)
    out.url.resize(out.url.size() - 3);
  if (out.url.size() <= scheme_end - url_start)
    return fail("the URL has no host");
  for (std::size_t at = comma; at != std::string::npos;) {
    auto next = text.find(',', at + 1);
    auto option =
        text.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    at = next;
    auto eq = option.find('=');
    if (eq == std::string::npos)
      return fail("option '" + option + "' is not KEY=VALUE");
    auto key = option.substr(0, eq), value = option.substr(eq + 1);
    if (value.empty())
      return fail("option '" + key + "' is empty");
    if (key == "models") {
      for (std::size_t from = 0; from <= value.size();) {
        auto bar = value.find('|', from);
        auto model = value.substr(from, bar == std::string::npos ? std::string::npos : bar - from);
        if (model.empty())
          return fail("an empty model name in models=");
        out.models.push_back(model);
        if (bar == std::string::npos)
          break;
        from = bar + 1;
      }
    } else if (key == "prefix") {
      out.prefix = value;
    } else if (key == "key_env") {
      const char* key_value = std::getenv(value.c_str());
      if (key_value == nullptr || *key_value == '\0')
        return fail("the environment variable " + value + " is not set");
      out.api_key = key_value;
    } else if (key == "key_file") {
      std::ifstream in{value};
      if (!in || !std::getline(in, out.api_key) || out.api_key.empty())
        return fail("no key could be read from " + value);
      while (!out.api_key.empty() && (out.api_key.back() == '\r' || out.api_key.back() == ' '))
        out.api_key.pop_back();
    } else if (key == "concurrency" || key == "timeout_ms") {
      std::size_t used = 0;
      long long n = 0;
      try {
        n = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || n < 1 || n > 100'000'000)
        return fail(key + " must be a positive whole number");
      if (key == "concurrency")
        out.concurrency = static_cast<std::size_t>(n);
      else
        out.timeout_ms = static_cast<long>(n);
    } else {
      return fail("unknown option '" + key +
                  "' (models, prefix, key_env, key_file, concurrency, timeout_ms)");
    }
  }
  if (out.kind == "ollama" && !out.api_key.empty())
    return fail("an Ollama backend takes no API key");
  return true;
}

parse_outcome parse_config(int argc, char** argv) {
  config cfg;
  CLI::App app{"riposte: a stateful OpenAI Responses API gateway for self-hosted LLM backends.\n"
               "Every flag can also be set with the environment variable named beside it."};
  app.option_defaults()->always_capture_default();
  app.get_formatter()->column_width(40);

  app.add_option("--listen", cfg.listen, "HOST:PORT to serve HTTP on (port 0: any free port)")
      ->envname("RIPOSTE_LISTEN");
  app.add_option("--store", cfg.store.uri,
                 "Event store: rocksdb:PATH (embedded) or postgres://USER@HOST:PORT/DB")
      ->envname("RIPOSTE_STORE");
  std::string sync = "always";
  app.add_option("--store-sync", sync,
                 "always: fsync every append before it is acknowledged (survives power loss); "
                 "none: leave flushing to the OS (survives a crash of riposte, faster)")
      ->check(CLI::IsMember({"always", "none"}))
      ->envname("RIPOSTE_STORE_SYNC");
  app.add_option("--store-pool", cfg.store.pool_size, "Postgres connections in the pool")
      ->check(CLI::Range(1, 256))
      ->envname("RIPOSTE_STORE_POOL");
  std::string replica_id;
  app.add_option("--replica-id", replica_id,
                 "This replica's name among those sharing one PostgreSQL (default: the host "
                 "name); a process started with a live replica's name takes its work over")
      ->check([](const std::string& v) {
        return v.empty() || v.size() > 128 ||
                       v.find_first_of(std::string("\0\x1f", 2)) != std::string::npos
                   ? std::string{"1 to 128 bytes, no NUL or US"}
                   : std::string{};
      })
      ->envname("RIPOSTE_REPLICA_ID");
  app.add_option("--lease-ms", cfg.store.lease.lease_ms,
                 "PostgreSQL: how long a replica's lease on its work lasts unless renewed "
                 "(renewed every third of it); another replica takes the work of one whose "
                 "lease ran out")
      ->check(CLI::Range(300L, 600'000L))
      ->envname("RIPOSTE_LEASE_MS");
  app.add_option("--backend", cfg.backend_flags,
                 "[NAME=][KIND:]URL[,models=A|B][,prefix=P][,key_env=VAR][,key_file=PATH]"
                 "[,concurrency=N][,timeout_ms=N], "
                 "repeatable (env: space-separated). KIND: ollama (native API, the default) or a "
                 "Chat Completions server: openai, vllm, llamacpp, sglang, tgi, ollama-v1, "
                 "lmstudio. A model goes to the first backend that is configured for it or lists "
                 "it")
      ->delimiter(' ')
      ->envname("RIPOSTE_BACKEND");
  app.add_flag("--ready-requires-all-backends", cfg.ready_requires_all_backends,
               "GET /readyz answers ready only while every backend answers (default: while one "
               "does)")
      ->envname("RIPOSTE_READY_REQUIRES_ALL_BACKENDS");
  std::vector<std::string> keys;
  app.add_option("--api-key", keys,
                 "KEY[:TENANT], repeatable; with none, riposte runs open as one local tenant "
                 "(env: comma-separated)")
      ->delimiter(',')
      ->envname("RIPOSTE_API_KEY");
  std::string keys_file;
  app.add_option("--api-keys-file", keys_file,
                 "File of API keys, one KEY[:TENANT] per line (# comments), added to --api-key")
      ->check(CLI::ExistingFile)
      ->envname("RIPOSTE_API_KEYS_FILE");
  app.add_option("--admin-key", cfg.admin_key,
                 "Key for operator routes (the audit feed); with no keys at all they are open")
      ->envname("RIPOSTE_ADMIN_KEY");
  app.add_option("--log-level", cfg.log_level,
                 "trace, debug, info, warn or error; trace also logs request bodies (user data)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->envname("RIPOSTE_LOG_LEVEL");
  app.add_option("--http-threads", cfg.http_threads, "HTTP io threads")
      ->check(CLI::Range(1, 64))
      ->envname("RIPOSTE_HTTP_THREADS");
  app.add_option("--http-offload-bytes", cfg.http_offload_bytes,
                 "Request bodies and WebSocket messages this large or larger are parsed on the "
                 "parse threads, not the HTTP io thread (0: never)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 34))
      ->envname("RIPOSTE_HTTP_OFFLOAD_BYTES");
  app.add_option("--parse-threads", cfg.parse_threads,
                 "Threads that parse large request bodies and WebSocket messages")
      ->check(CLI::Range(1, 64))
      ->envname("RIPOSTE_PARSE_THREADS");
  app.add_option("--max-body-bytes", cfg.max_body_bytes, "Largest request body accepted")
      ->check(CLI::Range(std::uint64_t{1024}, std::uint64_t{1} << 34))
      ->envname("RIPOSTE_MAX_BODY_BYTES");
  app.add_option("--max-json-depth", cfg.max_json_depth,
                 "Deepest nesting of arrays and objects in a JSON body (and in a backend's reply)")
      ->check(CLI::Range(8, 10'000))
      ->envname("RIPOSTE_MAX_JSON_DEPTH");
  app.add_option("--max-connections", cfg.max_connections,
                 "Open client connections at once (more wait in the kernel's backlog); capped "
                 "below the descriptor limit")
      ->check(CLI::Range(1, 1'000'000))
      ->envname("RIPOSTE_MAX_CONNECTIONS");
  app.add_flag("--no-index", cfg.no_index,
               "Keep no operator index of responses (GET /v1/operator/responses answers 404)")
      ->envname("RIPOSTE_NO_INDEX");
  app.add_option("--index-keep-ms", cfg.index_keep_ms,
                 "How often a changed operator index is kept in the store, so a restart loads "
                 "it instead of reading the whole log")
      ->check(CLI::Range(100, 3'600'000))
      ->envname("RIPOSTE_INDEX_KEEP_MS");
  app.add_flag("--no-websocket", cfg.no_websocket,
               "Turn the WebSocket mode of /v1/responses off: an upgrade is answered 426 and "
               "clients use HTTP")
      ->envname("RIPOSTE_NO_WEBSOCKET");
  app.add_option("--max-websocket-message-bytes", cfg.max_websocket_message_bytes,
                 "Largest WebSocket message a client may send (a response.create with its whole "
                 "history); larger closes the connection with 1009")
      ->check(CLI::Range(std::uint64_t{1024}, std::uint64_t{1} << 32))
      ->envname("RIPOSTE_MAX_WEBSOCKET_MESSAGE_BYTES");
  app.add_option("--max-websockets-per-tenant", cfg.max_websockets_per_tenant,
                 "WebSocket connections one API key may hold open (they also count against "
                 "--max-connections)")
      ->check(CLI::Range(1, 1'000'000))
      ->envname("RIPOSTE_MAX_WEBSOCKETS_PER_TENANT");
  app.add_option("--websocket-ping-ms", cfg.websocket_ping_ms,
                 "Ping a WebSocket peer silent this long; one that does not answer within as long "
                 "again (half-open), or whose writes are stuck twice as long, is disconnected")
      ->check(CLI::Range(100L, 3'600'000L))
      ->envname("RIPOSTE_WEBSOCKET_PING_MS");
  app.add_option("--max-url-bytes", cfg.max_url_bytes, "Longest request URL")
      ->check(CLI::Range(256, 1 << 20))
      ->envname("RIPOSTE_MAX_URL_BYTES");
  app.add_option("--max-header-bytes", cfg.max_header_bytes, "Longest request header value")
      ->check(CLI::Range(256, 1 << 20))
      ->envname("RIPOSTE_MAX_HEADER_BYTES");
  app.add_option("--max-headers", cfg.max_headers, "Most request headers")
      ->check(CLI::Range(8, 10'000))
      ->envname("RIPOSTE_MAX_HEADERS");
  app.add_option("--read-timeout-ms", cfg.read_timeout_ms,
                 "Time to read a whole request, headers and body")
      ->check(CLI::Range(100L, 3'600'000L))
      ->envname("RIPOSTE_READ_TIMEOUT_MS");
  app.add_option("--shutdown-timeout-ms", cfg.shutdown_timeout_ms,
                 "Longest a clean stop may take before riposte exits anyway")
      ->check(CLI::Range(100L, 600'000L))
      ->envname("RIPOSTE_SHUTDOWN_TIMEOUT_MS");

  app.add_option("--backend-connect-timeout-ms", cfg.backend_connect_timeout_ms,
                 "Give up connecting to the backend after this long (502)")
      ->check(CLI::Range(1L, 600'000L))
      ->envname("RIPOSTE_BACKEND_CONNECT_TIMEOUT_MS");
  app.add_option("--backend-timeout-ms", cfg.backend_timeout_ms,
                 "Longest a whole backend generation may take (504)")
      ->check(CLI::Range(100L, 86'400'000L))
      ->envname("RIPOSTE_BACKEND_TIMEOUT_MS");
  app.add_option("--backend-client", cfg.backend_client,
                 "The HTTP client for plain http:// backends by address or localhost: curl "
                 "(libcurl's multi interface) or native (riposte's own loop); https and host "
                 "names always use libcurl")
      ->check(CLI::IsMember({"curl", "native"}))
      ->envname("RIPOSTE_BACKEND_CLIENT");
  app.add_option("--backend-concurrency", cfg.backend_concurrency,
                 "Generations sent to the backend at once; the rest wait in order")
      ->check(CLI::Range(1, 4096))
      ->envname("RIPOSTE_BACKEND_CONCURRENCY");
  app.add_option("--model-concurrency", cfg.model_concurrency,
                 "Generations of one model at once (0: only --backend-concurrency); waiting "
                 "work is served round-robin across tenants")
      ->check(CLI::Range(0, 4096))
      ->envname("RIPOSTE_MODEL_CONCURRENCY");
  app.add_option("--store-threads", cfg.store_threads, "Threads for blocking store calls")
      ->check(CLI::Range(1, 256))
      ->envname("RIPOSTE_STORE_THREADS");
  app.add_option("--outbound-threads", cfg.outbound_threads,
                 "Threads for outbound calls (URL inputs, web search, image generation), apart "
                 "from the store's")
      ->check(CLI::Range(1, 256))
      ->envname("RIPOSTE_OUTBOUND_THREADS");
  app.add_option("--passivate-after-ms", cfg.passivate_after_ms,
                 "Idle finished responses leave memory after this long (they stay stored)")
      ->check(CLI::Range(0L, 86'400'000L))
      ->envname("RIPOSTE_PASSIVATE_AFTER_MS");
  app.add_option("--max-idle-responses", cfg.max_idle_responses,
                 "Idle finished responses kept in memory at most; past it the oldest leave "
                 "before --passivate-after-ms (they stay stored)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}))
      ->envname("RIPOSTE_MAX_IDLE_RESPONSES");
  app.add_option("--max-chain-depth", cfg.max_chain_depth,
                 "Longest previous_response_id chain accepted")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}))
      ->envname("RIPOSTE_MAX_CHAIN_DEPTH");

  app.add_option("--job-timeout-ms", cfg.job_timeout_ms,
                 "A response not finished this long after creation (queue wait included) ends "
                 "failed with code job_timeout; 0: off")
      ->check(CLI::Range(0L, 86'400'000L))
      ->envname("RIPOSTE_JOB_TIMEOUT_MS");
  app.add_option("--max-upload-bytes", cfg.max_upload_bytes,
                 "Largest file POST /v1/files takes (413 beyond)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 34))
      ->envname("RIPOSTE_MAX_UPLOAD_BYTES");
  app.add_option("--tenant-quota-bytes", cfg.tenant_quota_bytes,
                 "Bytes of files one tenant may keep stored; 0: no quota")
      ->envname("RIPOSTE_TENANT_QUOTA_BYTES");
  app.add_option("--min-file-expiry-seconds", cfg.min_file_expiry_seconds,
                 "Shortest expires_after[seconds] accepted (the API's is 3600; lower it for "
                 "demos and tests)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600}))
      ->envname("RIPOSTE_MIN_FILE_EXPIRY_SECONDS");
  app.add_option("--fetch-allow", cfg.fetch_allow,
                 "CIDR that image_url/file_url fetches may reach although it is loopback, "
                 "private or link-local (repeatable)")
      ->check([](const std::string& v) {
        return riposte::adapters::fetch::valid_cidr(v) ? std::string{}
                                                       : "not a CIDR such as 10.0.0.0/8: " + v;
      })
      ->envname("RIPOSTE_FETCH_ALLOW")
      ->delimiter(',');
  app.add_option("--fetch-timeout-ms", cfg.fetch_timeout_ms,
                 "Longest an image_url/file_url fetch may take, redirects included")
      ->check(CLI::Range(100L, 600'000L))
      ->envname("RIPOSTE_FETCH_TIMEOUT_MS");
  app.add_option("--reasoning-key-file", cfg.reasoning_key_file,
                 "32-byte AES key (64 hex digits or base64) sealing encrypted reasoning; "
                 "without it a key is generated once and kept in the store")
      ->check(CLI::ExistingFile)
      ->envname("RIPOSTE_REASONING_KEY_FILE");
  app.add_option("--context-window", cfg.context_windows,
                 "MODEL=TOKENS: the context window riposte plans for and asks the backend to "
                 "run that model with (repeatable)")
      ->check([](const std::string& v) {
        auto eq = v.rfind('=');
        bool ok = eq != std::string::npos && eq > 0 && eq + 1 < v.size() &&
                  v.find_first_not_of("0123456789", eq + 1) == std::string::npos &&
                  v.size() - eq - 1 <= 9 && std::stoll(v.substr(eq + 1)) >= 256;
        return ok ? std::string{} : "not MODEL=TOKENS with at least 256 tokens: " + v;
      })
      ->envname("RIPOSTE_CONTEXT_WINDOW")
      ->delimiter(',');
  app.add_option("--default-context-window", cfg.default_context_window,
                 "Context window of a model without --context-window or a num_ctx in its "
                 "Modelfile (capped by what the model was trained for; 0: the backend's own, "
                 "unchecked)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{100'000'000}))
      ->envname("RIPOSTE_DEFAULT_CONTEXT_WINDOW");
  app.add_option("--exact-count-percent", cfg.exact_count_percent,
                 "Ask the backend's tokenizer (vLLM, TGI, llama.cpp) for a create's exact prompt "
                 "tokens once the estimate reaches this share of the window left after "
                 "max_output_tokens (0: every create; 101: never; token counts always ask)")
      ->check(CLI::Range(0, 101))
      ->envname("RIPOSTE_EXACT_COUNT_PERCENT");
  app.add_option("--web-search", cfg.web_search,
                 "Serve the hosted web_search tool through searxng:http://HOST:PORT (SearXNG's "
                 "JSON API) or static:PATH (a fixed result set); unset: the tool is accepted and "
                 "not offered")
      ->envname("RIPOSTE_WEB_SEARCH");
  app.add_option("--web-search-timeout-ms", cfg.web_search_timeout_ms,
                 "Longest one search may take; slower is a failed web_search_call")
      ->check(CLI::Range(100L, 120'000L))
      ->envname("RIPOSTE_WEB_SEARCH_TIMEOUT_MS");
  app.add_option("--web-search-block", cfg.web_search_block,
                 "A domain whose results (and subdomains') are never used (repeatable)")
      ->envname("RIPOSTE_WEB_SEARCH_BLOCK")
      ->delimiter(',');
  app.add_option("--web-search-max-results", cfg.web_search_max_results,
                 "Results the model gets per search")
      ->check(CLI::Range(1, 20))
      ->envname("RIPOSTE_WEB_SEARCH_MAX_RESULTS");
  app.add_option("--image-generation", cfg.image_generation,
                 "Serve the hosted image_generation tool through a1111:http://HOST:PORT "
                 "(Automatic1111's txt2img API) or comfyui:http://HOST:PORT (a txt2img "
                 "workflow); unset: the tool is accepted and not offered")
      ->envname("RIPOSTE_IMAGE_GENERATION");
  app.add_option("--image-generation-timeout-ms", cfg.image_generation_timeout_ms,
                 "Longest one image may take; slower is a failed image_generation_call")
      ->check(CLI::Range(100L, 1'800'000L))
      ->envname("RIPOSTE_IMAGE_GENERATION_TIMEOUT_MS");
  app.add_option("--image-generation-max-size", cfg.image_generation_max_size,
                 "Largest WIDTHxHEIGHT a request's image_generation size may ask for (larger: 400)")
      ->check([](const std::string& v) {
        auto x = v.find('x');
        bool ok = x != std::string::npos && x > 0 && x + 1 < v.size() && x <= 5 &&
                  v.size() - x - 1 <= 5 &&
                  v.find_first_not_of("0123456789x") == std::string::npos &&
                  v.find('x', x + 1) == std::string::npos;
        return ok ? std::string{} : "not WIDTHxHEIGHT such as 1024x1024: " + v;
      })
      ->envname("RIPOSTE_IMAGE_GENERATION_MAX_SIZE");
  app.add_option("--image-generation-checkpoint", cfg.image_generation_checkpoint,
                 "The checkpoint file a ComfyUI workflow loads")
      ->envname("RIPOSTE_IMAGE_GENERATION_CHECKPOINT");
  app.add_option("--default-model", cfg.default_model,
                 "A model the backend must serve for GET /readyz to answer ready")
      ->envname("RIPOSTE_DEFAULT_MODEL");
  app.add_option("--readiness-timeout-ms", cfg.readiness_timeout_ms,
                 "GET /readyz reports a check that has not answered by then as failed")
      ->check(CLI::Range(10L, 60'000L))
      ->envname("RIPOSTE_READINESS_TIMEOUT_MS");
  app.add_option("--sse-keepalive-ms", cfg.sse_keepalive_ms,
                 "Send an SSE comment after this much silence (long prefills)")
      ->check(CLI::Range(10L, 3'600'000L))
      ->envname("RIPOSTE_SSE_KEEPALIVE_MS");

  auto* replay = app.add_subcommand(
      "replay", "Print a response's events and the Response rebuilt from them, or the exact SSE "
                "stream a client saw (--sse). Works on a stopped store, and read-only beside a "
                "running riposte on RocksDB.");
  replay->add_option("response_id", cfg.replay.response_id, "The response (resp_...)")->required();
  replay->add_flag("--sse", cfg.replay.sse, "Print the SSE stream instead");
  replay->add_flag("--response", cfg.replay.response_only, "Print only the rebuilt Response");
  replay->add_flag("--timeline", cfg.replay.timeline,
                   "Print the events for people: offsets from the first, runs of deltas "
                   "collapsed, failures flagged, totals");
  replay->add_flag("!--no-obfuscation", cfg.replay.obfuscation,
                   "SSE without obfuscation padding (include_obfuscation=false)");
  replay->add_option("--starting-after", cfg.replay.starting_after,
                     "SSE: only the events after this sequence number");
  replay->fallthrough();
  auto* audit = app.add_subcommand(
      "audit", "Print the global event feed as JSON lines, oldest first, with filters.");
  audit->add_option("--tenant", cfg.audit.tenant, "Only this tenant's events");
  audit->add_option("--type", cfg.audit.type, "Only events of this type (e.g. response_created)");
  audit->add_option("--after", cfg.audit.after, "Only events after this global position");
  audit->add_option("--since", cfg.audit.since, "Only events recorded at or after (unix seconds)");
  audit->add_option("--until", cfg.audit.until, "Only events recorded before (unix seconds)");
  audit->add_option("--limit", cfg.audit.limit, "At most this many events (0: all)");
  audit->add_flag("--follow", cfg.audit.follow,
                  "At the end of the feed, print new events as they are stored (until stopped)");
  audit
      ->add_option("--follow-every-ms", cfg.audit.follow_every_ms,
                   "How often --follow looks for new events")
      ->check(CLI::Range(10L, 60'000L));
  audit->fallthrough();
  app.require_subcommand(0, 1);

  parse_outcome out;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out.message = app.help();
    return out;
  } catch (const CLI::ParseError& err) {
    out.exit_code = 2;
    out.message = err.what();
    return out;
  }
  if (replay->parsed())
    cfg.command = "replay";
  if (audit->parsed())
    cfg.command = "audit";
  if (cfg.command != "serve")
    cfg.store.read_only = true;
  else {
    // Only a serving process holds a lease; replay and audit only read.
    if (replica_id.empty()) {
      char host[256] = {};
      replica_id = ::gethostname(host, sizeof host - 1) == 0 && host[0] != 0 ? host : "riposte";
    }
    cfg.store.lease.id = replica_id;
  }
  std::string reason;
  if (!split_host_port(cfg.listen, cfg.host, cfg.port, reason)) {
    out.exit_code = 2;
    out.message = reason;
    return out;
  }
  std::map<std::string, int> kinds_seen;
  for (const auto& flag : cfg.backend_flags) {
    backend_spec spec;
    if (!parse_backend_spec(flag, spec, reason)) {
      out.exit_code = 2;
      out.message = reason;
      return out;
    }
    if (spec.name.empty()) {
      auto n = ++kinds_seen[spec.kind];
      spec.name = n == 1 ? spec.kind : spec.kind + "-" + std::to_string(n);
    }
    for (const auto& other : cfg.backends)
      if (other.name == spec.name) {
        out.exit_code = 2;
        out.message = "--backend: two backends are named '" + spec.name + "'";
        return out;
      }
    cfg.backends.push_back(std::move(spec));
  }
  if (cfg.backends.empty()) {
    out.exit_code = 2;
    out.message = "--backend: at least one backend is needed";
    return out;
  }
  cfg.store.sync =
      sync == "none" ? adapters::store::sync_policy::none : adapters::store::sync_policy::always;
  if (!keys_file.empty()) {
    std::ifstream in{keys_file};
    std::string line;
    while (std::getline(in, line)) {
      auto start = line.find_first_not_of(" \t\r");
      if (start == std::string::npos || line[start] == '#')
        continue;
      auto end = line.find_last_not_of(" \t\r");
      keys.push_back(line.substr(start, end - start + 1));
    }
  }
  for (const auto& entry : keys) {
    auto colon = entry.find(':');
    api_key k{entry.substr(0, colon),
              colon == std::string::npos ? "default" : entry.substr(colon + 1)};
    if (k.key.empty() || k.tenant.empty()) {
      out.exit_code = 2;
      out.message = "--api-key must be KEY or KEY:TENANT with neither part empty";
      return out;
    }
    cfg.api_keys.push_back(std::move(k));
  }
  out.cfg = std::move(cfg);
  return out;
}

} // namespace riposte::app
