// riposte: parse the configuration, open the store, spawn the actors, start
// HTTP, wait for a signal. Wiring only; every fallible step fails fast with a
// one-line reason.
#include "actors/conversations.hpp"
#include "actors/files.hpp"
#include "actors/prompts.hpp"
#include "actors/readiness.hpp"
#include "actors/runtime/index_follower.hpp"
#include "actors/runtime/lease_keeper.hpp"
#include "actors/runtime/thread_policy.hpp"
#include "actors/runtime/thread_pool.hpp"
#include "actors/services.hpp"
#include "actors/supervisor.hpp"
#include "adapters/backends/http_client.hpp"
#include "adapters/backends/ollama.hpp"
#include "adapters/backends/openai_chat.hpp"
#include "adapters/backends/router.hpp"
#include "adapters/fetch/guarded_fetch.hpp"
#include "adapters/observability/metrics.hpp"
#include "adapters/store/store.hpp"
#include "adapters/tools/image_generation.hpp"
#include "adapters/tools/web_search.hpp"
#include "app/config.hpp"
#include "app/replay.hpp"
#include "events/event.hpp"
#include "events/faults.hpp"
#include "events/json_safe.hpp"
#include "http/console.hpp"
#include "http/errors.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"

#include <caf/all.hpp>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>

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

// SIGINT and SIGTERM are blocked in every thread riposte starts and caught by
// the main thread once it waits for them. A handler writing to a pipe, not
// sigwait: should any thread hold them unblocked (one a library made before
// the mask was set), the stop still reaches the main thread instead of
// ending the process uncleanly.
int stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int signo) {
  int saved = errno;
  auto byte = static_cast<unsigned char>(signo);
  [[maybe_unused]] auto n = ::write(stop_pipe[1], &byte, 1); // never blocks: O_NONBLOCK
  errno = saved;
}

int wait_for_stop(const sigset_t& signals) {
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  for (;;) {
    unsigned char byte = 0;
    auto n = ::read(stop_pipe[0], &byte, 1);
    if (n == 1)
      return byte;
    if (n < 0 && errno != EINTR)
      return 0;
  }
}

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
riposte::events::result<riposte::adapters::crypto::sealer::key>
load_reasoning_key(const riposte::app::config& cfg, riposte::events::event_log& log) {
  using riposte::adapters::crypto::sealer;
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

// The configured backends as one: a single plain backend as itself, several
// (or one with a fixed model list or prefix) behind a router.
std::shared_ptr<riposte::actors::backend> make_backend(const riposte::app::config& cfg) {
  using namespace riposte;
  std::vector<adapters::backends::routed_backend> routed;
  for (const auto& spec : cfg.backends) {
    std::shared_ptr<actors::backend> b;
    if (spec.kind == "ollama") {
      adapters::backends::ollama_options o;
      o.base_url = spec.url;
      o.connect_timeout_ms = cfg.backend_connect_timeout_ms;
      o.timeout_ms = spec.timeout_ms > 0 ? spec.timeout_ms : cfg.backend_timeout_ms;
      o.max_connections = static_cast<long>(cfg.backend_concurrency);
      b = adapters::backends::make_ollama_backend(o);
    } else {
      adapters::backends::openai_chat_options o;
      o.base_url = spec.url;
      o.profile = *adapters::backends::chat_profile_for(spec.kind);
      o.api_key = spec.api_key;
      o.connect_timeout_ms = cfg.backend_connect_timeout_ms;
      o.timeout_ms = spec.timeout_ms > 0 ? spec.timeout_ms : cfg.backend_timeout_ms;
      o.max_connections = static_cast<long>(cfg.backend_concurrency);
      b = adapters::backends::make_openai_chat_backend(o);
    }
    routed.push_back(
        {spec.name, spec.kind, spec.url, spec.models, spec.prefix, std::move(b), spec.concurrency});
  }
  if (routed.size() == 1 && routed.front().models.empty() && routed.front().prefix.empty() &&
      routed.front().concurrency == 0)
    return routed.front().backend;
  return std::make_shared<adapters::backends::backend_router>(std::move(routed),
                                                              cfg.ready_requires_all_backends);
}

// The backends for the start-up line, in precedence order (a model listed by
// two goes to the first); never their keys.
nlohmann::json backends_described(const riposte::app::config& cfg) {
  auto out = nlohmann::json::array();
  for (const auto& spec : cfg.backends) {
    nlohmann::json b{{"name", spec.name}, {"kind", spec.kind}, {"url", spec.url}};
    if (!spec.models.empty())
      b["models"] = spec.models;
    if (!spec.prefix.empty())
      b["prefix"] = spec.prefix;
    if (spec.concurrency > 0)
      b["concurrency"] = spec.concurrency;
    if (spec.timeout_ms > 0)
      b["timeout_ms"] = spec.timeout_ms;
    b["api_key"] = spec.api_key.empty() ? "none" : "set";
    out.push_back(std::move(b));
  }
  return out;
}

// What replicas on one store must agree on: the backends as described
// above, without their addresses and keys (each replica may reach its
// backends its own way), their limits, the default model, and the events
// this build writes (a replica of another release may not read them).
std::string served_config(const riposte::app::config& cfg) {
  auto described = backends_described(cfg);
  for (auto& b : described) {
    b.erase("url");
    b.erase("api_key");
  }
  auto types = nlohmann::json::array();
  for (const auto& info : riposte::events::known_types())
    types.push_back(std::string{info.type} + ".v" + std::to_string(info.version));
  return nlohmann::json{{"backends", std::move(described)},
                        {"backend_concurrency", cfg.backend_concurrency},
                        {"model_concurrency", cfg.model_concurrency},
                        {"default_model", cfg.default_model},
                        {"events", std::move(types)}}
      .dump();
}

// Raises the soft descriptor limit to the hard one, and returns how many
// client connections fit under it: max(64, limit/4) descriptors stay for the
// store, backend and fetch connections and riposte's own, so accepting a
// connection never finds the table full.
std::size_t fit_connections(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return wanted;
  if (lim.rlim_cur < lim.rlim_max) {
    auto raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
      lim = raised;
  }
  if (lim.rlim_cur == RLIM_INFINITY)
    return wanted;
  auto limit = static_cast<std::size_t>(lim.rlim_cur);
  auto reserve = std::max<std::size_t>(64, limit / 4);
  auto room = limit > reserve + 16 ? limit - reserve : 16;
  return std::min(wanted, room);
}

// Test hooks, only with RIPOSTE_TEST_FAULTS=1 in the environment (never a
// flag: no operator turns this on by accident): throw inside or kill a
// supervised actor or a response's actor, and hold descriptors to run the
// process out of them.
void add_test_hooks(std::vector<riposte::http::route>& routes,
                    std::shared_ptr<const riposte::http::authenticator> auth,
                    std::map<std::string, riposte::actors::slot_ptr> slots) {
  using namespace riposte;
  auto held = std::make_shared<std::vector<int>>();
  auto held_mutex = std::make_shared<std::mutex>();
  routes.push_back({"POST", "/v1/_test/fault",
                    [auth, slots](const http::request& req, const std::vector<std::string>&,
                                  http::reply_fn reply) {
                      if (auto ok = auth->check_admin(req); !ok)
                        return reply(http::to_http(ok.error()));
                      auto body = events::parse_untrusted(req.body);
                      auto target = body.is_object() ? body.value("target", "") : "";
                      auto mode = body.is_object() ? body.value("mode", "throw") : "throw";
                      auto id = body.is_object() ? body.value("id", "") : "";
                      auto it = slots.find(target == "response" ? "registry" : target);
                      if (it == slots.end())
                        return reply(http::to_http(events::make_error(
                            events::riposte_errc::invalid_value, "unknown target", "target")));
                      if (mode == "kill" && target != "response") {
                        caf::anon_send_exit(it->second->get(), caf::exit_reason::kill);
                        return reply({200, R"({"killed":true})", "application/json", {}});
                      }
                      // The registry takes (fault, id, mode, reply): an empty id is itself.
                      if (it->first == "registry")
                        caf::anon_send(it->second->get(), actors::fault_atom::value,
                                       target == "response" ? id : std::string{}, mode,
                                       http::reply_with(std::move(reply)));
                      else
                        caf::anon_send(it->second->get(), actors::fault_atom::value, mode,
                                       http::reply_with(std::move(reply)));
                    }});
  routes.push_back(
      {"POST", "/v1/_test/descriptors",
       [auth, held, held_mutex](const http::request& req, const std::vector<std::string>&,
                                http::reply_fn reply) {
         if (auto ok = auth->check_admin(req); !ok)
           return reply(http::to_http(ok.error()));
         auto body = events::parse_untrusted(req.body);
         std::lock_guard guard{*held_mutex};
         if (body.is_object() && body.value("hold", false)) {
           for (;;) { // every descriptor left
             int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
             if (fd < 0)
               break;
             held->push_back(fd);
           }
           // (This reply goes out on a socket already open: it needs none.)
         } else {
           for (int fd : *held)
             ::close(fd);
           held->clear();
         }
         reply({200, "{\"held\":" + std::to_string(held->size()) + "}", "application/json", {}});
       }});
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
  events::set_max_json_depth(cfg.max_json_depth);

  if (cfg.command != "serve") {
    auto log = adapters::store::open_store(cfg.store);
    if (!log)
      return fail(log.error().message);
    if (cfg.command == "replay")
      return app::run_replay(cfg.replay, **log);
    // A read-only RocksDB view is what the store held when it was opened.
    app::log_opener reopen;
    if (cfg.store.uri.rfind("rocksdb:", 0) == 0)
      reopen = [&cfg] { return adapters::store::open_store(cfg.store); };
    return app::run_audit(cfg.audit, **log, reopen);
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr); // threads started below inherit the mask
  if (::pipe2(stop_pipe, O_CLOEXEC) != 0 ||
      ::fcntl(stop_pipe[1], F_SETFL, ::fcntl(stop_pipe[1], F_GETFL) | O_NONBLOCK) != 0)
    return fail("cannot make the stop pipe");
  struct sigaction stop_action {};
  stop_action.sa_handler = on_stop_signal;
  stop_action.sa_flags = SA_RESTART;
  sigemptyset(&stop_action.sa_mask);
  sigaction(SIGINT, &stop_action, nullptr);
  sigaction(SIGTERM, &stop_action, nullptr);

  auto store_options = cfg.store;
  store_options.lease.config = served_config(cfg);
  auto store = adapters::store::open_store(store_options);
  if (!store)
    return fail(store.error().message);
  std::shared_ptr<events::event_log> log = std::move(*store);

  caf::actor_system_config caf_cfg;
  caf_cfg.set("scheduler.max-threads", 2);
  // An actor yields its worker after this many messages: a message another
  // actor queued meanwhile waits at most that long (thread_policy.cpp).
  caf_cfg.set("scheduler.max-throughput", 64);
  // One shared queue: idle workers sleep instead of polling (the
  // work-stealing default spins and naps, burning CPU at low load).
  actors::use_riposte_scheduler(caf_cfg);
  caf::actor_system sys{caf_cfg};

  actors::settings settings;
  settings.passivate_after = std::chrono::milliseconds(cfg.passivate_after_ms);
  settings.max_idle_responses = cfg.max_idle_responses;
  settings.max_chain_depth = cfg.max_chain_depth;
  settings.backend_concurrency = cfg.backend_concurrency;
  settings.model_concurrency = cfg.model_concurrency;
  settings.keepalive = std::chrono::milliseconds(cfg.sse_keepalive_ms);
  settings.job_timeout = std::chrono::milliseconds(cfg.job_timeout_ms);
  settings.default_context_window = cfg.default_context_window;
  settings.exact_count_percent = cfg.exact_count_percent;
  for (const auto& entry : cfg.context_windows) {
    auto eq = entry.rfind('=');
    settings.context_windows[entry.substr(0, eq)] = std::stoll(entry.substr(eq + 1));
  }

  adapters::backends::set_default_http_engine(cfg.backend_client == "native"
                                                  ? adapters::backends::http_engine::native
                                                  : adapters::backends::http_engine::curl);
  auto backend = make_backend(cfg);
  const std::string backend_label = cfg.backends.size() == 1 ? cfg.backends.front().url : "router";

  auto reasoning_key = load_reasoning_key(cfg, *log);
  if (!reasoning_key)
    return fail(reasoning_key.error().message);
  auto sealer = std::make_shared<const adapters::crypto::sealer>(*reasoning_key);

  auto store_pool = std::make_unique<actors::thread_pool>("store", cfg.store_threads);
  // The operator's index follows the feed from here on (the store is open).
  std::shared_ptr<actors::index_follower> index;
  if (!cfg.no_index) {
    actors::index_follower::options io;
    io.keep = std::chrono::milliseconds(cfg.index_keep_ms);
    index = std::make_shared<actors::index_follower>(log, io);
  }
  auto outbound_pool = std::make_unique<actors::thread_pool>("outbound", cfg.outbound_threads);
  auto svc = std::make_shared<actors::services>();
  auto stats = std::make_shared<adapters::observability::metrics>();
  svc->log = log.get();
  svc->inflight_ns = log->inflight_namespace();
  svc->stats = stats;
  svc->store_kind = cfg.store.uri.rfind("rocksdb:", 0) == 0 ? "rocksdb"
                    : cfg.store.uri == "memory"             ? "memory"
                                                            : "postgres";
  if (svc->store_kind == "postgres")
    svc->follow_period = std::chrono::milliseconds(500); // behind the replicas' news
  svc->store_pool = store_pool.get();
  svc->outbound_pool = outbound_pool.get();
  auto writer = std::make_unique<actors::append_writer>(stats, svc->store_kind);
  svc->writer = writer.get();
  if (index) // what the writer stores reaches the index without a read back
    writer->set_tap(log.get(),
                    [index](const auto& reqs, const auto& stored) { index->tap(reqs, stored); });
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
  svc->counts_exactly = [backend](const std::string& model) {
    return backend->counts_exactly(model);
  };
  svc->count_exactly = [backend](const actors::generation_request& req,
                                 std::function<void(events::result<std::int64_t>)> done) {
    backend->count_exactly(req, std::move(done));
  };
  svc->make_ephemeral_log = [] {
    return std::shared_ptr<events::event_log>{adapters::store::make_memory_log()};
  };
  // A contained failure: one error line and a count; nothing else stops.
  events::set_fault_reporter([stats](const events::fault_report& f) {
    stats->fault(f.where);
    nlohmann::json line{{"msg", "fault contained"}, {"where", f.where}, {"error", f.what}};
    if (!f.id.empty())
      line["response_id"] = f.id;
    log_line("error", std::move(line));
  });

  // The long-lived actors, supervised: each is found through its slot, and
  // what it must not lose in a restart (the pool's queue, the registry's
  // directory) lives outside it.
  auto pool_slot = std::make_shared<actors::actor_slot>("backend_pool");
  auto registry_slot = std::make_shared<actors::actor_slot>("registry");
  auto files_slot = std::make_shared<actors::actor_slot>("files");
  auto prompts_slot = std::make_shared<actors::actor_slot>("prompts");
  auto conversations_slot = std::make_shared<actors::actor_slot>("conversations");
  svc->backend_pool_slot = pool_slot;
  svc->registry_slot = registry_slot;
  svc->conversations_slot = conversations_slot;
  actors::file_limits file_limits{cfg.max_upload_bytes, cfg.tenant_quota_bytes,
                                  cfg.min_file_expiry_seconds};
  auto pool_memory = actors::make_pool_memory();
  // Replicas on one PostgreSQL admit generations from one queue there, so
  // that the concurrency limits hold across them.
  actors::shared_admission admission;
  if (log->shares_admission())
    admission = {log.get(), store_pool.get()};
  auto registry_memory = actors::make_registry_memory();
  auto conversations_memory = actors::make_conversations_memory();
  std::vector<actors::supervised> children{
      {pool_slot,
       [=](caf::actor_system& s) {
         return actors::spawn_backend_pool(s, backend, settings, stats, backend_label, pool_memory,
                                           pool_slot, admission);
       }},
      {registry_slot,
       [svc, registry_memory](caf::actor_system& s) {
         return actors::spawn_registry(s, svc, registry_memory);
       }},
      {files_slot, [svc, file_limits](
                       caf::actor_system& s) { return actors::spawn_files(s, svc, file_limits); }},
      {prompts_slot, [svc](caf::actor_system& s) { return actors::spawn_prompts(s, svc); }},
      {conversations_slot,
       [svc, conversations_memory](caf::actor_system& s) {
         return actors::spawn_conversations(s, svc, conversations_memory);
       }},
  };
  caf::actor supervisor = actors::spawn_supervisor(
      sys, std::move(children), [stats](const std::string& name, const std::string& reason) {
        stats->actor_restart(name);
        log_line("error", {{"msg", "actor restarted"}, {"actor", name}, {"reason", reason}});
      });
  // Every way out of main ends the actors (the slots and the services they
  // share hold each other), so the actor system can finish.
  struct stop_on_exit {
    caf::actor supervisor;
    ~stop_on_exit() { caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown); }
  } stop_actors{supervisor};
  // Replicas on one PostgreSQL: keep this one's lease, take over the work of
  // one whose lease ran out, and stop at once should another process hold
  // this one's lease (it can no longer write; a supervisor restarts it).
  std::unique_ptr<actors::lease_keeper> lease;
  if (svc->store_kind == "postgres")
    lease = std::make_unique<actors::lease_keeper>(
        *log, std::chrono::milliseconds(std::max(100L, cfg.store.lease.lease_ms / 3)),
        std::chrono::milliseconds(cfg.store.lease.lease_ms),
        actors::lease_keeper::hooks{
            [svc](std::vector<std::string> ids) {
              log_line("warn", {{"msg", "took over unfinished responses"}, {"count", ids.size()}});
              caf::anon_send(svc->registry(), actors::recover_atom::value, std::move(ids));
            },
            [svc](std::vector<std::string> ids) {
              caf::anon_send(svc->registry(), actors::recover_atom::value, std::move(ids));
            },
            [] {
              log_line("error",
                       {{"msg", "another process holds this replica's lease (same --replica-id, "
                                "or this one stalled past --lease-ms); exiting"}},
                       true);
              std::_Exit(75);
            },
            [](const std::string& what) {
              log_line("warn", {{"msg", "replica lease not renewed"}, {"error", what}});
            },
            [stats](const std::vector<std::string>& ids) {
              stats->replicas_differing().Set(static_cast<double>(ids.size()));
              if (ids.empty())
                log_line("info", {{"msg", "every live replica serves the same backends again"}});
              else
                log_line("warn", {{"msg", "replicas on this store serve different backends "
                                          "(models, kinds, prefixes or limits) or run another "
                                          "release: a request may be answered differently on "
                                          "each"},
                                  {"replicas", ids}});
            }});
  // News from the other replicas: what they appended wakes the actors here
  // that follow it, and a cancel asked for there reaches the actor running
  // it here. Ended before the actors are (declared after them).
  auto news =
      log->subscribe_news([svc, holder = log->lease_holder()](std::vector<events::log_news> batch) {
        // Another replica admitted work of this one from the shared queue:
        // the tickets it names start here; news naming none (0) asks for a
        // look at the queue.
        std::vector<std::uint64_t> tickets;
        bool look = false;
        for (const auto& n : batch)
          if (n.what == events::log_news::kind::admitted && n.stream == holder) {
            if (n.seq == 0)
              look = true;
            else
              tickets.push_back(n.seq);
          }
        if (!tickets.empty())
          caf::anon_send(svc->backend_pool(), actors::admitted_atom::value, std::move(tickets));
        if (look)
          caf::anon_send(svc->backend_pool(), actors::admitted_atom::value, false);
        actors::deliver_news(svc->registry(), batch);
      });
  if (auto bytes = actors::stored_file_bytes(*log))
    stats->file_bytes().Set(static_cast<double>(*bytes));

  // Every answered request (and WebSocket turn): a metric and a log line.
  auto log_answer = [stats](const http::answer& a) {
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
    if (a.note.input_items >= 0)
      line["input_items"] = a.note.input_items;
    if (!a.request_body.empty()) {
      auto body = events::parse_untrusted(a.request_body);
      line["request_body"] = body.is_discarded() ? nlohmann::json(a.request_body) : std::move(body);
    }
    log_line(level, std::move(line));
  };
  std::unordered_map<std::string, std::string> keys;
  for (const auto& k : cfg.api_keys)
    keys[k.key] = k.tenant;
  // Large request bodies and WebSocket messages are parsed here, off the io
  // thread every connection waits on. Declared before the server and after
  // the actor system: its last jobs (sending to actors) run before the
  // system goes.
  auto parse_pool = std::make_unique<actors::thread_pool>("parse", cfg.parse_threads);
  http::offload_policy offload{
      [pool = parse_pool.get()](std::function<void()> job) { pool->post(std::move(job)); },
      cfg.http_offload_bytes};
  http::api_context api;
  api.offload = offload;
  api.default_model = cfg.default_model;
  api.system = &sys;
  api.services = svc;
  api.registry = registry_slot;
  api.backend_pool = pool_slot;
  api.auth = std::make_shared<http::authenticator>(std::move(keys), cfg.admin_key);
  api.sealer = sealer;
  api.files = files_slot;
  api.prompts = prompts_slot;
  api.conversations = conversations_slot;
  api.file_limits = file_limits;
  api.websocket = !cfg.no_websocket;
  api.index = index;
  api.index_pool = index ? store_pool.get() : nullptr;
  api.ws_per_tenant = cfg.max_websockets_per_tenant;
  api.stats = stats;
  api.on_ws_turn = log_answer;
  for (const auto& spec : cfg.backends) {
    nlohmann::json entry{{"name", spec.name}, {"kind", spec.kind}};
    if (auto profile = adapters::backends::chat_profile_for(spec.kind))
      entry.update(adapters::backends::chat_profile_manifest(*profile));
    else
      entry["protocol"] = "Ollama native /api/chat";
    api.backends_manifest.push_back(std::move(entry));
  }

  auto routes = http::responses_routes(api);
  for (auto& r : http::operator_routes(api))
    routes.push_back(std::move(r));
  for (auto& r : http::audit_routes(api))
    routes.push_back(std::move(r));
  for (auto& r : http::console_routes())
    routes.push_back(std::move(r));
  for (auto& r : http::files_routes(api))
    routes.push_back(std::move(r));
  for (auto& r : http::prompts_routes(api))
    routes.push_back(std::move(r));
  for (auto& r : http::conversations_routes(api))
    routes.push_back(std::move(r));
  actors::readiness ready{
      sys, svc, backend,
      actors::readiness_options{
          cfg.default_model,
          std::chrono::milliseconds(cfg.readiness_timeout_ms),
          backend_label,
          {pool_slot, registry_slot, files_slot, prompts_slot, conversations_slot}}};
  for (auto& r : http::ops_routes(ready, stats))
    routes.push_back(std::move(r));
  if (const char* hooks = std::getenv("RIPOSTE_TEST_FAULTS"); hooks && std::string{hooks} == "1")
    add_test_hooks(routes, api.auth,
                   {{"backend_pool", pool_slot},
                    {"registry", registry_slot},
                    {"files", files_slot},
                    {"prompts", prompts_slot},
                    {"conversations", conversations_slot}});
  http::server_options server_opts;
  server_opts.host = cfg.host;
  server_opts.port = cfg.port;
  server_opts.threads = cfg.http_threads;
  server_opts.offload = offload;
  server_opts.max_body_bytes = cfg.max_body_bytes;
  server_opts.max_url_bytes = cfg.max_url_bytes;
  server_opts.max_header_bytes = cfg.max_header_bytes;
  server_opts.max_headers = cfg.max_headers;
  server_opts.read_timeout = std::chrono::milliseconds(cfg.read_timeout_ms);
  server_opts.max_connections = fit_connections(cfg.max_connections);
  if (server_opts.max_connections < cfg.max_connections)
    log_line("warn", {{"msg", "--max-connections lowered to fit the descriptor limit"},
                      {"max_connections", server_opts.max_connections}});
  server_opts.on_accept_restart = [stats] {
    stats->accept_restart();
    log_line("error", {{"msg", "HTTP acceptor stalled (out of descriptors?) and restarted"}});
  };
  server_opts.on_idle_closed = [stats](std::size_t n) { stats->idle_closed(n); };
  // trace is the one level that logs request bodies (user data).
  server_opts.observe_bodies = cfg.log_level == "trace";
  server_opts.on_answer = log_answer;
  server_opts.on_flight = [stats](int delta) { stats->http_in_flight().Increment(delta); };
  server_opts.ws_max_message_bytes = cfg.max_websocket_message_bytes;
  server_opts.ws_ping_interval = std::chrono::milliseconds(cfg.websocket_ping_ms);
  auto server = http::start_server(server_opts, std::move(routes), http::responses_ws_routes(api));
  if (!server)
    return fail(server.error().message);

  log_line("info",
           {{"msg", "riposte listening"},
            {"listen", cfg.host + ":" + std::to_string((*server)->port())},
            {"port", (*server)->port()},
            {"store", cfg.store.uri.rfind("postgres", 0) == 0 ? "postgres" : cfg.store.uri},
            {"backends", backends_described(cfg)}},
           true);
  // Not a start-up condition (a backend may come up later), but say what we
  // see.
  backend->health([](bool ok, nlohmann::json detail) {
    detail["msg"] = ok ? "backend reachable" : "backend not reachable yet";
    log_line(ok ? "info" : "warn", std::move(detail));
  });
  if (cfg.api_keys.empty())
    log_line("warn", {{"msg", "no API keys configured: riposte runs open, as one local tenant"}});

  int sig = wait_for_stop(signals);
  log_line("info", {{"msg", "shutting down"}, {"signal", sig}});
  // A stop that cannot finish (an actor that will not end, a store call that
  // hangs) must still end the process, and so release the store's lock:
  // what was acknowledged is already durable.
  std::thread([timeout = cfg.shutdown_timeout_ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout));
    log_line("error", {{"msg", "clean stop took too long; exiting"}, {"timeout_ms", timeout}},
             true);
    std::_Exit(1);
  }).detach();
  // Stop HTTP first, then the actors holding reply builders, then the store.
  (*server)->stop();
  return 0;
}
