// riposte: parse the configuration, open the store, spawn the actors, start
// HTTP, wait for a signal. Wiring only; every fallible step fails fast with a
// one-line reason.
#include "actors/files.hpp"
#include "actors/metrics.hpp"
#include "actors/prompts.hpp"
#include "actors/readiness.hpp"
#include "actors/scheduler.hpp"
#include "actors/services.hpp"
#include "actors/store_executor.hpp"
#include "adapters/backends/ollama.hpp"
#include "adapters/fetch/guarded_fetch.hpp"
#include "adapters/store/store.hpp"
#include "adapters/tools/image_generation.hpp"
#include "adapters/tools/web_search.hpp"
#include "app/config.hpp"
#include "app/replay.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int level_rank(std::string_view level) {
  constexpr std::string_view order[] = {"trace", "debug", "info", "warn", "error"};
  for (int i = 0; i < 5; ++i)
    if (order[i] == level)
      return i;
  return 2;
}

std::atomic<int> log_threshold{2}; // --log-level

// One JSON object per line on stderr; io threads log concurrently.
void log_line(std::string_view level, nlohmann::json fields, bool always = false) {
  if (!always && level_rank(level) < log_threshold.load(std::memory_order_relaxed))
    return;
  static std::mutex mutex;
  fields["ts"] = now_ms();
  fields["level"] = level;
  // Bodies may hold invalid UTF-8: replaced, never a throw.
  auto line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
  std::lock_guard guard{mutex};
  std::cerr << line << std::flush;
}

int fail(const std::string& reason) {
  std::cerr << "riposte: " << reason << '\n';
  return 1;
}

// The key sealing encrypted reasoning: from --reasoning-key-file, or made
// once and kept in the store (a marker), so sealed items outlive restarts.
// Two rivals racing on one new store both settle on the smallest key.
riposte::events::result<riposte::actors::sealer::key>
load_reasoning_key(const riposte::app::config& cfg, riposte::events::event_log& log) {
  using riposte::actors::sealer;
  if (!cfg.reasoning_key_file.empty()) {
    std::ifstream in{cfg.reasoning_key_file};
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto k = sealer::parse_key(text);
    if (!k)
      return riposte::events::make_error(k.error().code,
                                         cfg.reasoning_key_file + ": " + k.error().message);
    return k;
  }
  constexpr const char* ns = "reasoning_key";
  auto keys = log.list_markers(ns);
  if (keys && keys->empty()) {
    if (auto put = log.put_marker(ns, sealer::to_hex(sealer::random_key())); !put)
      return put.error();
    keys = log.list_markers(ns);
  }
  if (!keys)
    return keys.error();
  return sealer::parse_key(*std::min_element(keys->begin(), keys->end()));
}

} // namespace

int main(int argc, char** argv) {
  using namespace riposte;
  auto parsed = app::parse_config(argc, argv);
  if (!parsed.cfg) {
    (parsed.exit_code == 0 ? std::cout : std::cerr)
        << (parsed.exit_code == 0 ? "" : "riposte: ") << parsed.message << '\n';
    return parsed.exit_code;
  }
  const auto& cfg = *parsed.cfg;
  log_threshold = level_rank(cfg.log_level);

  if (cfg.command != "serve") {
    auto log = adapters::store::open_store(cfg.store);
    if (!log)
      return fail(log.error().message);
    return cfg.command == "replay" ? app::run_replay(cfg.replay, **log)
                                   : app::run_audit(cfg.audit, **log);
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr); // threads started below inherit the mask

  auto store = adapters::store::open_store(cfg.store);
  if (!store)
    return fail(store.error().message);
  std::shared_ptr<events::event_log> log = std::move(*store);

  caf::actor_system_config caf_cfg;
  caf_cfg.set("scheduler.max-threads", 2);
  // One shared queue: idle workers sleep instead of polling (the
  // work-stealing default spins and naps, burning CPU at low load).
  actors::use_riposte_scheduler(caf_cfg);
  caf::actor_system sys{caf_cfg};

  actors::settings settings;
  settings.passivate_after = std::chrono::milliseconds(cfg.passivate_after_ms);
  settings.max_chain_depth = cfg.max_chain_depth;
  settings.backend_concurrency = cfg.backend_concurrency;
  settings.model_concurrency = cfg.model_concurrency;
  settings.keepalive = std::chrono::milliseconds(cfg.sse_keepalive_ms);
  settings.job_timeout = std::chrono::milliseconds(cfg.job_timeout_ms);
  settings.default_context_window = cfg.default_context_window;
  for (const auto& entry : cfg.context_windows) {
    auto eq = entry.rfind('=');
    settings.context_windows[entry.substr(0, eq)] = std::stoll(entry.substr(eq + 1));
  }

  adapters::backends::ollama_options ollama;
  ollama.base_url = cfg.backend;
  ollama.connect_timeout_ms = cfg.backend_connect_timeout_ms;
  ollama.timeout_ms = cfg.backend_timeout_ms;
  ollama.max_connections = static_cast<long>(cfg.backend_concurrency);
  std::shared_ptr<actors::backend> backend = adapters::backends::make_ollama_backend(ollama);

  auto reasoning_key = load_reasoning_key(cfg, *log);
  if (!reasoning_key)
    return fail(reasoning_key.error().message);
  auto sealer = std::make_shared<const actors::sealer>(*reasoning_key);

  auto executor = std::make_unique<actors::store_executor>(cfg.store_threads);
  auto svc = std::make_shared<actors::services>();
  auto stats = std::make_shared<actors::metrics>();
  svc->log = log.get();
  svc->stats = stats;
  svc->store_kind = cfg.store.uri.rfind("rocksdb:", 0) == 0 ? "rocksdb"
                    : cfg.store.uri == "memory"             ? "memory"
                                                            : "postgres";
  svc->executor = executor.get();
  auto writer = std::make_unique<actors::append_writer>(stats, svc->store_kind);
  svc->writer = writer.get();
  svc->reasoning_sealer = sealer;
  adapters::fetch::fetch_policy fetch_policy;
  fetch_policy.allow = cfg.fetch_allow;
  fetch_policy.timeout = std::chrono::milliseconds(cfg.fetch_timeout_ms);
  fetch_policy.max_bytes = svc->inputs.max_file_bytes;
  svc->inputs.fetch =
      [fetch_policy](const std::string& url) -> events::result<actors::fetched_resource> {
    auto got = adapters::fetch::guarded_fetch(url, fetch_policy);
    if (!got)
      return got.error();
    return actors::fetched_resource{std::move(got->bytes), std::move(got->content_type)};
  };
  svc->cfg = settings;
  if (!cfg.web_search.empty()) {
    auto provider = adapters::tools::make_web_search(cfg.web_search, cfg.web_search_timeout_ms);
    if (!provider)
      return fail(provider.error().message);
    svc->web_search.provider = std::move(*provider);
  }
  if (!cfg.image_generation.empty()) {
    auto provider = adapters::tools::make_image_provider(
        cfg.image_generation, cfg.image_generation_timeout_ms, cfg.image_generation_checkpoint);
    if (!provider)
      return fail(provider.error().message);
    svc->images.provider = std::move(*provider);
  }
  {
    auto& size = cfg.image_generation_max_size;
    auto x = size.find('x');
    svc->images.max_width = std::stoi(size.substr(0, x));
    svc->images.max_height = std::stoi(size.substr(x + 1));
  }
  svc->web_search.blocked_domains = cfg.web_search_block;
  svc->web_search.max_results = cfg.web_search_max_results;
  svc->count_tokens = [backend](const actors::generation_request& req) {
    return backend->count_input_tokens(req);
  };
  svc->make_ephemeral_log = [] {
    return std::shared_ptr<events::event_log>{adapters::store::make_memory_log()};
  };
  svc->backend_pool = actors::spawn_backend_pool(sys, backend, settings, stats, cfg.backend);
  caf::actor pool = svc->backend_pool;
  caf::actor registry = actors::spawn_registry(sys, svc);
  actors::file_limits file_limits{cfg.max_upload_bytes, cfg.tenant_quota_bytes,
                                  cfg.min_file_expiry_seconds};
  caf::actor files = actors::spawn_files(sys, svc, file_limits);
  caf::actor prompts = actors::spawn_prompts(sys, svc);
  if (auto bytes = actors::stored_file_bytes(*log))
    stats->file_bytes().Set(static_cast<double>(*bytes));

  std::unordered_map<std::string, std::string> keys;
  for (const auto& k : cfg.api_keys)
    keys[k.key] = k.tenant;
  http::api_context api;
  api.default_model = cfg.default_model;
  api.registry = &registry;
  api.backend_pool = &pool;
  api.auth = std::make_shared<http::authenticator>(std::move(keys), cfg.admin_key);
  api.sealer = sealer;
  api.files = &files;
  api.prompts = &prompts;
  api.file_limits = file_limits;

  auto routes = http::responses_routes(api);
  for (auto& r : http::files_routes(api))
    routes.push_back(std::move(r));
  for (auto& r : http::prompts_routes(api))
    routes.push_back(std::move(r));
  routes.push_back(
      {"GET", "/healthz",
       [](const http::request&, const std::vector<std::string>&, http::reply_fn reply) {
         reply({200, R"({"status":"ok"})", "application/json", {}});
       }});
  actors::readiness ready{
      sys, svc, backend,
      actors::readiness_options{cfg.default_model,
                                std::chrono::milliseconds(cfg.readiness_timeout_ms), cfg.backend}};
  routes.push_back(
      {"GET", "/readyz",
       [&ready](const http::request&, const std::vector<std::string>&, http::reply_fn reply) {
         ready.check([reply = std::move(reply)](bool ok, nlohmann::json body) {
           reply({ok ? 200 : 503, body.dump(), "application/json", {}});
         });
       }});
  routes.push_back(
      {"GET", "/metrics",
       [stats](const http::request&, const std::vector<std::string>&, http::reply_fn reply) {
         reply({200, stats->serialize(), "text/plain; version=0.0.4", {}});
       }});
  http::server_options server_opts;
  server_opts.host = cfg.host;
  server_opts.port = cfg.port;
  server_opts.threads = cfg.http_threads;
  server_opts.max_body_bytes = cfg.max_body_bytes;
  // trace is the one level that logs request bodies (user data).
  server_opts.observe_bodies = cfg.log_level == "trace";
  server_opts.on_answer = [stats](const http::answer& a) {
    stats->http_request(a.route, a.method, a.status, a.seconds);
    auto level = a.status >= 500 ? "error" : a.status >= 400 ? "warn" : "info";
    if (level_rank(level) < log_threshold.load(std::memory_order_relaxed))
      return;
    nlohmann::json line{{"msg", "request"},   {"request_id", a.request_id},
                        {"route", a.route},   {"method", a.method},
                        {"status", a.status}, {"latency_ms", a.seconds * 1000.0}};
    for (auto [key, value] :
         {std::pair{"tenant", &a.note.tenant}, std::pair{"response_id", &a.note.response_id},
          std::pair{"model", &a.note.model}, std::pair{"error_code", &a.error_code}})
      if (!value->empty())
        line[key] = *value;
    if (!a.request_body.empty()) {
      auto body = nlohmann::json::parse(a.request_body, nullptr, false);
      line["request_body"] = body.is_discarded() ? nlohmann::json(a.request_body) : std::move(body);
    }
    log_line(level, std::move(line));
  };
  server_opts.on_flight = [stats](int delta) { stats->http_in_flight().Increment(delta); };
  auto server = http::start_server(server_opts, std::move(routes));
  if (!server)
    return fail(server.error().message);

  log_line("info",
           {{"msg", "riposte listening"},
            {"listen", cfg.host + ":" + std::to_string((*server)->port())},
            {"port", (*server)->port()},
            {"store", cfg.store.uri.rfind("postgres", 0) == 0 ? "postgres" : cfg.store.uri},
            {"backend", cfg.backend}},
           true);
  // Not a start-up condition (Ollama may come up later), but say what we see.
  backend->version([backend_url = cfg.backend](events::result<std::string> v) {
    if (v)
      log_line("info", {{"msg", "backend reachable"}, {"backend", backend_url}, {"version", *v}});
    else
      log_line("warn", {{"msg", "backend not reachable yet"},
                        {"backend", backend_url},
                        {"error", v.error().message}});
  });
  if (cfg.api_keys.empty())
    log_line("warn", {{"msg", "no API keys configured: riposte runs open, as one local tenant"}});

  int sig = 0;
  sigwait(&signals, &sig);
  log_line("info", {{"msg", "shutting down"}, {"signal", sig}});
  // Stop HTTP first, then the actors holding reply builders, then the store.
  (*server)->stop();
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(files, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(prompts, caf::exit_reason::user_shutdown);
  return 0;
}
