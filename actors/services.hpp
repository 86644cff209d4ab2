// What the actors share: the store, the pools for blocking store and outbound calls,
// the backend pool, and their settings.
#pragma once

#include "actors/messages.hpp"
#include "actors/ports/backend.hpp"
#include "actors/ports/image_generation.hpp"
#include "actors/ports/web_search.hpp"
#include "actors/response/inputs.hpp"
#include "actors/runtime/append_writer.hpp"
#include "actors/runtime/thread_pool.hpp"
#include "actors/supervisor.hpp"
#include "adapters/crypto/sealer.hpp"
#include "adapters/observability/metrics.hpp"
#include "events/event_log.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace riposte::actors {

// The models' capabilities as the backend pool last read them (it keeps them
// model_cache_ttl): a create reads them here, under a lock, and asks the
// pool (a message there and back, and a request timer) only on a miss.
class model_cache {
public:
  std::optional<model_info> fresh(const std::string& name, std::chrono::milliseconds ttl) const {
    std::lock_guard guard{mutex_};
    auto it = entries_.find(name);
    if (it == entries_.end() || std::chrono::steady_clock::now() - it->second.second >= ttl)
      return std::nullopt;
    return it->second.first;
  }
  void put(const std::string& name, const model_info& info) {
    std::lock_guard guard{mutex_};
    entries_[name] = {info, std::chrono::steady_clock::now()};
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<model_info, std::chrono::steady_clock::time_point>> entries_;
};

struct settings {
  std::chrono::milliseconds passivate_after{30'000}; // idle terminal actors stop
  std::size_t max_idle_responses = 10'000;           // the oldest stop sooner past this
  std::int64_t max_chain_depth = 1'000;              // previous_response_id ancestors
  std::size_t backend_concurrency = 16;              // generations running at once
  std::size_t model_concurrency = 0;                 // per model; 0: only the backend's limit
  std::chrono::milliseconds model_cache_ttl{10'000};
  // Shared by every copy of these settings (the pool's and the services').
  std::shared_ptr<model_cache> models = std::make_shared<model_cache>();
  std::chrono::milliseconds keepalive{15'000}; // SSE comment after this much silence
  std::chrono::milliseconds job_timeout{0};    // creation to end; 0: only the backend timeout
  // A model's capabilities asked of the backend pool: no answer by then fails
  // the create (the pool may be restarting).
  std::chrono::milliseconds model_request_timeout{60'000};
  // Context windows (see context_window()): per model, else the model's
  // Modelfile num_ctx, else this default; 0 leaves the backend's own.
  std::map<std::string, std::int64_t> context_windows;
  std::int64_t default_context_window = 4096;
  // The share of the input budget (percent) an estimated count must reach
  // before the backend's tokenizer is asked for the exact one (a round trip
  // per create would cost every create); above 100: never. A token count
  // (POST /v1/responses/input_tokens) always asks where it can.
  int exact_count_percent = 85;
};

struct services {
  events::event_log* log = nullptr;
  std::string store_kind = "memory"; // rocksdb | postgres | memory: a metrics label
  std::shared_ptr<adapters::observability::metrics> stats;
  thread_pool* store_pool = nullptr;    // blocking store calls
  thread_pool* outbound_pool = nullptr; // URL fetches, web search, image generation
  // Response events are group-committed here when the log commits groups
  // together (RocksDB: one write batch; PostgreSQL: one statement); otherwise
  // (null, memory) each append is a store job, several running at once.
  append_writer* writer = nullptr;
  // Where this process marks the responses it has not finished
  // (event_log::inflight_namespace): start-up and claims close them.
  std::string inflight_ns = "inflight";
  // How often a response another replica runs is read again while someone
  // here waits for it or streams it: a poll behind that replica's news (see
  // event_log::subscribe_news), or alone where there is none.
  std::chrono::milliseconds follow_period{100};
  // The supervised actors, by slot: a restart swaps the handle inside.
  slot_ptr backend_pool_slot;
  slot_ptr registry_slot;
  slot_ptr conversations_slot;
  backend_pool_actor backend_pool() const {
    return caf::actor_cast<backend_pool_actor>(backend_pool_slot ? backend_pool_slot->get()
                                                                 : caf::actor{});
  }
  registry_actor registry() const {
    return registry_slot ? registry_slot->as<registry_actor>() : registry_actor{};
  }
  conversations_actor conversations() const {
    return conversations_slot ? conversations_slot->as<conversations_actor>()
                              : conversations_actor{};
  }
  // A fresh in-memory log for a `store: false` response.
  std::function<std::shared_ptr<events::event_log>()> make_ephemeral_log;
  // Seals reasoning for include ["reasoning.encrypted_content"].
  std::shared_ptr<const adapters::crypto::sealer> reasoning_sealer;
  input_limits inputs;
  // The hosted web_search tool, when the operator configured a provider.
  web_search_settings web_search;
  // The hosted image_generation tool, when the operator configured a provider.
  image_generation_settings images;
  // The backend adapter's token count of a generation (an estimate, no I/O),
  // and the exact one where the model's backend has a tokenizer endpoint
  // (unset: none has).
  std::function<std::int64_t(const generation_request&)> count_tokens;
  std::function<bool(const std::string& model)> counts_exactly;
  std::function<void(const generation_request&, std::function<void(events::result<std::int64_t>)>)>
      count_exactly;
  settings cfg;
};

// What a supervised actor keeps across a restart (its queue, its directory):
// made once, handed to every incarnation.
struct pool_memory;
std::shared_ptr<pool_memory> make_pool_memory();
struct registry_memory;
std::shared_ptr<registry_memory> make_registry_memory();

// Replicas admitting generations together (event_log::shares_admission):
// the log that holds the shared queue and the threads that may wait for it.
// No log: the pool admits alone.
struct shared_admission {
  events::event_log* log = nullptr;
  thread_pool* pool = nullptr;
};

// Spawns the backend pool actor in front of `b` (concurrency limit, queue,
// model-list cache); `stats` (may be null) learns of every backend call,
// labelled `label`. `self_slot` is where the pool's current handle lives
// (the backend's callbacks find it there after a restart).
caf::actor spawn_backend_pool(caf::actor_system& sys, std::shared_ptr<backend> b,
                              const settings& cfg,
                              std::shared_ptr<adapters::observability::metrics> stats = nullptr,
                              std::string label = "backend",
                              std::shared_ptr<pool_memory> memory = nullptr,
                              slot_ptr self_slot = nullptr, shared_admission shared = {});

// Spawns the registry: response ids to response actors, rebuilding and
// passivating them. It watches every response actor: one that dies is
// forgotten, and rebuilt from its log on its next message.
// Hands the registry what other replicas told this one
// (event_log::subscribe_news): appends to responses, cancels, news missed.
void deliver_news(const registry_actor& registry, std::vector<events::log_news>& news);

caf::actor spawn_registry(caf::actor_system& sys, std::shared_ptr<const services> svc,
                          std::shared_ptr<registry_memory> memory = nullptr);

// Microseconds and seconds since the epoch: actors stamp events, projections
// never read a clock.
std::int64_t now_micros();

} // namespace riposte::actors
