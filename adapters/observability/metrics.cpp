// The metric families and their cached children.
#include "adapters/observability/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace riposte::adapters::observability {

namespace {

const std::vector<double> latency_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
const std::vector<double> append_buckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                         0.005,   0.01,   0.025,   0.05,   0.1,   0.25};
const std::vector<double> batch_buckets{1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
const std::vector<double> generation_buckets{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                             5,    10,    30,   60,  120,  300, 600, 1800};
const std::vector<double> phase_buckets{0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                        0.0005,  0.001,    0.0025,  0.005,  0.01,
                                        0.025,   0.05,     0.1,     0.25,   1};
const std::vector<double> rate_buckets{1, 2.5, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000};

// One child per phase name, each with the phase buckets.
template <std::size_t N>
void phases_of(prometheus::Family<prometheus::Histogram>& family,
               const std::array<const char*, N>& names,
               std::array<prometheus::Histogram*, N>& children) {
  for (std::size_t i = 0; i < N; ++i)
    children[i] =
        &family.Add({{"phase", names[i]}}, prometheus::Histogram::BucketBoundaries{phase_buckets});
}

// One observation per phase, in the order phases_of named them.
template <std::size_t N>
void observe_each(const std::array<prometheus::Histogram*, N>& children,
                  const std::array<double, N>& seconds) {
  for (std::size_t i = 0; i < N; ++i)
    children[i]->Observe(seconds[i]);
}

std::string key_of(const void* family, const std::map<std::string, std::string>& labels) {
  std::string key = std::to_string(reinterpret_cast<std::uintptr_t>(family));
  for (const auto& [k, v] : labels)
    key += '\x1f' + k + '=' + v;
  return key;
}

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& r, const char* name,
                                                        const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& r, const char* name,
                                                    const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& r,
                                                            const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

} // namespace

metrics::metrics()
  : registry_(std::make_shared<prometheus::Registry>())
  , http_requests_(counter_family(*registry_, "riposte_http_requests_total",
                                  "HTTP requests answered, by route pattern, method and status"))
  , http_latency_(histogram_family(*registry_, "riposte_http_request_duration_seconds",
                                   "Time to the response head (streams: to the stream opening)"))
  , in_flight_(gauge_family(*registry_, "riposte_http_requests_in_flight",
                            "HTTP requests received and not yet answered")
                   .Add({}))
  , responses_(counter_family(*registry_, "riposte_responses_total",
                              "Responses that reached their end, by model, mode and final status"))
  , append_latency_(histogram_family(*registry_, "riposte_event_append_seconds",
                                     "Event-log append latency, by store"))
  , append_batch_(histogram_family(*registry_, "riposte_event_append_batch_size",
                                   "Events per append (group commit), by store"))
  , append_errors_(counter_family(*registry_, "riposte_event_append_errors_total",
                                  "Failed event-log appends, by store"))
  , dropped_(counter_family(*registry_, "riposte_stream_subscribers_dropped_total",
                            "Stream subscribers that went away or fell too far behind")
                 .Add({}))
  , streams_active_(
        gauge_family(*registry_, "riposte_streams_active", "SSE subscribers attached to responses")
            .Add({}))
  , backend_requests_(counter_family(*registry_, "riposte_backend_requests_total",
                                     "Backend calls, by backend, model, operation and status"))
  , backend_latency_(histogram_family(*registry_, "riposte_backend_request_duration_seconds",
                                      "Backend call duration (chat: the whole generation)"))
  , first_token_(histogram_family(*registry_, "riposte_time_to_first_token_seconds",
                                  "Backend request sent to its first output delta, by model"))
  , token_rate_(histogram_family(*registry_, "riposte_output_tokens_per_second",
                                 "Output tokens per second after the first token, by model"))
  , queue_depth_(gauge_family(*registry_, "riposte_job_queue_depth",
                              "Generations waiting for a backend slot")
                     .Add({}))
  , queue_wait_(histogram_family(*registry_, "riposte_job_queue_wait_seconds",
                                 "Time a generation waited for a backend slot")
                    .Add({}, prometheus::Histogram::BucketBoundaries{generation_buckets}))
  , job_run_(histogram_family(*registry_, "riposte_job_run_seconds",
                              "Time a generation held its backend slot")
                 .Add({}, prometheus::Histogram::BucketBoundaries{generation_buckets}))
  , idempotent_replays_(counter_family(*registry_, "riposte_idempotent_replays_total",
                                       "Creates answered from an earlier one with the same key")
                            .Add({}))
  , file_bytes_(gauge_family(*registry_, "riposte_file_bytes_stored",
                             "Bytes of the live uploaded files in the store")
                    .Add({}))
  , replicas_differing_(gauge_family(*registry_, "riposte_replicas_config_differing",
                                     "Live replicas on the same store whose backend configuration "
                                     "differs from this one's")
                            .Add({}))
  , response_actors_(gauge_family(*registry_, "riposte_response_actors",
                                  "Response actors in memory: running responses, and finished "
                                  "ones read or written within --passivate-after-ms")
                         .Add({}))
  , create_phase_(histogram_family(*registry_, "riposte_create_phase_seconds",
                                   "Where a blocking create's wall time went, by phase: to_actor "
                                   "(http/ to its actor), prepare (until the backend is asked), "
                                   "backend_first_update, backend_rest (until its last update), "
                                   "store_and_answer (the end stored, the answer handed over)"))
  , backend_wait_(histogram_family(
        *registry_, "riposte_create_backend_wait_seconds",
        "A blocking create's backend_first_update phase, step by step, where the first update "
        "was the last: hand_off (to the HTTP client's thread), connection (readied), backend "
        "(request written to first byte), receive (the rest of the reply), hand_back (to the "
        "actor)"))
  , store_wait_(histogram_family(
        *registry_, "riposte_create_store_wait_seconds",
        "A blocking create's store_and_answer phase, step by step, where the writer answered it: "
        "to_writer (the actor's work, and its earlier write in flight), writer_queue, write "
        "(and its sync), answer"))
  , ready_(gauge_family(*registry_, "riposte_ready",
                        "Last readiness result per check: 1 passed, 0 failed"))
  , ready_checks_(counter_family(*registry_, "riposte_readiness_checks_total",
                                 "Readiness checks run, by check and result"))
  , faults_(counter_family(*registry_, "riposte_faults_total",
                           "Exceptions contained where they happened (only their request "
                           "failed), by place"))
  , prompt_counts_(counter_family(*registry_, "riposte_prompt_token_counts_total",
                                  "Context plans by how their tokens were counted: estimate, "
                                  "exact (the backend's tokenizer) or estimate_fallback"))
  , restarts_(counter_family(*registry_, "riposte_actor_restarts_total",
                             "Supervised actors that died and were started again, by actor"))
  , accept_restarts_(counter_family(*registry_, "riposte_http_accept_restarts_total",
                                    "Times the HTTP acceptor stalled (e.g. out of descriptors) "
                                    "and was started again")
                         .Add({}))
  , idle_closed_(counter_family(*registry_, "riposte_http_idle_connections_closed_total",
                                "Idle connections (between requests, or never sent a byte) "
                                "closed because every connection slot was taken while "
                                "others waited")
                     .Add({}))
  , ws_upgrades_(counter_family(*registry_, "riposte_websocket_upgrades_total",
                                "WebSocket upgrades on /v1/responses by result: accepted, "
                                "unauthorized, disabled, tenant_limit"))
  , ws_open_(gauge_family(*registry_, "riposte_websocket_connections", "WebSocket connections open")
                 .Add({}))
  , ws_messages_(counter_family(*registry_, "riposte_websocket_messages_total",
                                "Messages WebSocket clients sent, by type (response.create, "
                                "response.processed, invalid)"))
  , ws_continuations_(counter_family(*registry_, "riposte_websocket_continuations_total",
                                     "WebSocket turns with previous_response_id, by where the "
                                     "context came from: connection (only new items sent) or "
                                     "store"))
  , conversation_events_(counter_family(*registry_, "riposte_conversation_events_total",
                                        "Events written to conversation streams, by type"))
  , conversation_turns_(counter_family(*registry_, "riposte_conversation_turns_total",
                                       "Responses' turns on a conversation, by result: appended, "
                                       "released (ended without appending) or locked (refused "
                                       "while another ran)")) {
  phases_of(create_phase_, create_phase_names, create_phase_children_);
  phases_of(backend_wait_, backend_wait_names, backend_wait_children_);
  phases_of(store_wait_, store_wait_names, store_wait_children_);
}

void metrics::create_phases(const std::array<double, create_phase_names.size()>& seconds) {
  observe_each(create_phase_children_, seconds);
}

void metrics::backend_waits(const std::array<double, backend_wait_names.size()>& seconds) {
  observe_each(backend_wait_children_, seconds);
}

void metrics::store_waits(const std::array<double, store_wait_names.size()>& seconds) {
  observe_each(store_wait_children_, seconds);
}

template <class T>
T& metrics::child(prometheus::Family<T>& family, const std::map<std::string, std::string>& labels,
                  std::map<std::string, T*>& cache, const std::vector<double>* buckets) {
  auto key = key_of(&family, labels);
  std::lock_guard guard{mutex_};
  auto it = cache.find(key);
  if (it != cache.end())
    return *it->second;
  T* made = nullptr;
  if constexpr (std::is_same_v<T, prometheus::Histogram>)
    made = &family.Add(labels, prometheus::Histogram::BucketBoundaries{*buckets});
  else
    made = &family.Add(labels);
  cache.emplace(key, made);
  return *made;
}

void metrics::http_request(const std::string& route, const std::string& method, int status,
                           double seconds) {
  child(http_requests_, {{"route", route}, {"method", method}, {"status", std::to_string(status)}},
        counters_)
      .Increment();
  child(http_latency_, {{"route", route}, {"method", method}}, histograms_, &latency_buckets)
      .Observe(seconds);
}

void metrics::response_finished(const std::string& model, const std::string& mode,
                                const std::string& status) {
  child(responses_, {{"model", model}, {"mode", mode}, {"status", status}}, counters_).Increment();
}

void metrics::event_append(const std::string& store, double seconds, std::size_t events, bool ok) {
  meter_for(store).record(seconds, events, ok);
}

metrics::append_meter metrics::meter_for(const std::string& store) {
  return {&child(append_latency_, {{"store", store}}, histograms_, &append_buckets),
          &child(append_batch_, {{"store", store}}, histograms_, &batch_buckets),
          &child(append_errors_, {{"store", store}}, counters_)}; // exported from 0
}

void metrics::append_meter::record(double seconds, std::size_t events, bool ok) const {
  latency->Observe(seconds);
  batch->Observe(static_cast<double>(events));
  if (!ok)
    errors->Increment();
}

void metrics::backend_request(const std::string& backend, const std::string& model,
                              const std::string& operation, const std::string& status,
                              double seconds) {
  child(backend_requests_,
        {{"backend", backend}, {"model", model}, {"operation", operation}, {"status", status}},
        counters_)
      .Increment();
  child(backend_latency_, {{"backend", backend}, {"model", model}, {"operation", operation}},
        histograms_, &generation_buckets)
      .Observe(seconds);
}

void metrics::first_token(const std::string& model, double seconds) {
  child(first_token_, {{"model", model}}, histograms_, &generation_buckets).Observe(seconds);
}

void metrics::token_rate(const std::string& model, double tokens_per_second) {
  child(token_rate_, {{"model", model}}, histograms_, &rate_buckets).Observe(tokens_per_second);
}

void metrics::readiness(const std::string& check, bool ok) {
  child(ready_, {{"check", check}}, gauges_).Set(ok ? 1 : 0);
  child(ready_checks_, {{"check", check}, {"result", ok ? "pass" : "fail"}}, counters_).Increment();
}

void metrics::fault(const std::string& where) {
  child(faults_, {{"where", where}}, counters_).Increment();
}

void metrics::prompt_count(const std::string& method) {
  child(prompt_counts_, {{"method", method}}, counters_).Increment();
}

void metrics::ws_upgrade(const std::string& result) {
  child(ws_upgrades_, {{"result", result}}, counters_).Increment();
}

void metrics::ws_message(const std::string& type) {
  child(ws_messages_, {{"type", type}}, counters_).Increment();
}

void metrics::ws_continuation(const std::string& source) {
  child(ws_continuations_, {{"source", source}}, counters_).Increment();
}

void metrics::conversation_event(const std::string& type) {
  child(conversation_events_, {{"type", type}}, counters_).Increment();
}

void metrics::conversation_turn(const std::string& result) {
  child(conversation_turns_, {{"result", result}}, counters_).Increment();
}

void metrics::actor_restart(const std::string& actor) {
  child(restarts_, {{"actor", actor}}, counters_).Increment();
}

std::string metrics::serialize() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

} // namespace riposte::adapters::observability
