// Every metric family riposte exports, declared once at start-up (Prometheus
// naming; no response id is ever a label). Labelled children are cached, so
// the hot path takes one short lock instead of prometheus-cpp's Add().
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace riposte::adapters::observability {

class metrics {
public:
  metrics();

  // One finished HTTP exchange (for streams: when the stream opened).
  void http_request(const std::string& route, const std::string& method, int status,
                    double seconds);
  prometheus::Gauge& http_in_flight() { return in_flight_; }
  // A response reached its end.
  void response_finished(const std::string& model, const std::string& mode,
                         const std::string& status);
  // One append to the event log, and how many events it carried.
  void event_append(const std::string& store, double seconds, std::size_t events, bool ok);
  // The same series for one store, looked up once (the writer records
  // every append of every token).
  struct append_meter {
    prometheus::Histogram* latency;
    prometheus::Histogram* batch;
    prometheus::Counter* errors;
    void record(double seconds, std::size_t events, bool ok) const;
  };
  append_meter meter_for(const std::string& store);
  void subscriber_dropped() { dropped_.Increment(); }
  // SSE subscribers attached to responses right now.
  prometheus::Gauge& streams_active() { return streams_active_; }
  // One backend call ended: operation chat|tags|show|version, status
  // ok|error|cancelled.
  void backend_request(const std::string& backend, const std::string& model,
                       const std::string& operation, const std::string& status, double seconds);
  // Generation timing: request sent to first output delta, and output tokens
  // per second after it.
  void first_token(const std::string& model, double seconds);
  void token_rate(const std::string& model, double tokens_per_second);
  // The generation queue in the backend pool: depth now, time waited for a
  // slot, and time a generation held its slot.
  prometheus::Gauge& queue_depth() { return queue_depth_; }
  void queue_wait(double seconds) { queue_wait_.Observe(seconds); }
  void job_run(double seconds) { job_run_.Observe(seconds); }
  // Bytes of the live files in the store.
  prometheus::Gauge& file_bytes() { return file_bytes_; }
  // Live replicas on the same store that serve differently from this one.
  prometheus::Gauge& replicas_differing() { return replicas_differing_; }
  // Response actors in memory (idle ones leave after --passivate-after-ms).
  prometheus::Gauge& response_actors() { return response_actors_; }
  // Where a blocking create's wall time went, by phase (create_phase_names).
  static constexpr std::array<const char*, 5> create_phase_names{
      "to_actor", "prepare", "backend_first_update", "backend_rest", "store_and_answer"};
  void create_phases(const std::array<double, create_phase_names.size()>& seconds);
  // Its backend_first_update phase, step by step, where the backend's first
  // update was its last (a blocking create nobody streams): to the HTTP
  // client's thread, the connection readied, the backend (request written
  // to first byte), the rest of the reply, and back to the actor.
  static constexpr std::array<const char*, 5> backend_wait_names{"hand_off", "connection",
                                                                 "backend", "receive", "hand_back"};
  void backend_waits(const std::array<double, backend_wait_names.size()>& seconds);
  // Its store_and_answer phase, step by step, where the writer answered it:
  // the actor's work until the batch is handed to the writer (with any
  // earlier write of its own still in flight), the writer's queue, the
  // write (and its sync), and the answer handed over.
  static constexpr std::array<const char*, 4> store_wait_names{"to_writer", "writer_queue", "write",
                                                               "answer"};
  void store_waits(const std::array<double, store_wait_names.size()>& seconds);
  // A create answered from an earlier one with the same Idempotency-Key.
  void idempotent_replay() { idempotent_replays_.Increment(); }
  // One readiness check's result (GET /readyz).
  void readiness(const std::string& check, bool ok);
  // A create or count planned its context by `method`: estimate, exact (the
  // backend's tokenizer), or estimate_fallback (the tokenizer failed).
  void prompt_count(const std::string& method);
  // A failure contained where it happened (see events/faults.hpp).
  void fault(const std::string& where);
  // A supervised actor died and was started again.
  void actor_restart(const std::string& actor);
  // The HTTP acceptor stalled (an accept failed) and was started again.
  void accept_restart() { accept_restarts_.Increment(); }
  // Idle connections closed because every slot was taken and others waited.
  void idle_closed(std::size_t n) { idle_closed_.Increment(static_cast<double>(n)); }
  // WebSocket mode: upgrades by result (accepted, unauthorized, disabled,
  // tenant_limit), connections open, client messages by type, and
  // continuations by where the parent's context came from (connection: the
  // connection's latest response; store: looked up).
  void ws_upgrade(const std::string& result);
  void ws_open(double delta) { ws_open_.Increment(delta); }
  void ws_message(const std::string& type);
  void ws_continuation(const std::string& source);
  // Conversations: the events written to their streams, by type; responses'
  // turns by result (appended, released: ended without appending, locked:
  // refused while another ran).
  void conversation_event(const std::string& type);
  void conversation_turn(const std::string& result);

  // The text exposition format, for GET /metrics.
  std::string serialize() const;

private:
  template <class T>
  T& child(prometheus::Family<T>& family, const std::map<std::string, std::string>& labels,
           std::map<std::string, T*>& cache, const std::vector<double>* buckets = nullptr);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_latency_;
  prometheus::Gauge& in_flight_;
  prometheus::Family<prometheus::Counter>& responses_;
  prometheus::Family<prometheus::Histogram>& append_latency_;
  prometheus::Family<prometheus::Histogram>& append_batch_;
  prometheus::Family<prometheus::Counter>& append_errors_;
  prometheus::Counter& dropped_;
  prometheus::Gauge& streams_active_;
  prometheus::Family<prometheus::Counter>& backend_requests_;
  prometheus::Family<prometheus::Histogram>& backend_latency_;
  prometheus::Family<prometheus::Histogram>& first_token_;
  prometheus::Family<prometheus::Histogram>& token_rate_;
  prometheus::Gauge& queue_depth_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& job_run_;
  prometheus::Counter& idempotent_replays_;
  prometheus::Gauge& file_bytes_;
  prometheus::Gauge& replicas_differing_;
  prometheus::Gauge& response_actors_;
  prometheus::Family<prometheus::Histogram>& create_phase_;
  std::array<prometheus::Histogram*, create_phase_names.size()> create_phase_children_{};
  prometheus::Family<prometheus::Histogram>& backend_wait_;
  std::array<prometheus::Histogram*, backend_wait_names.size()> backend_wait_children_{};
  prometheus::Family<prometheus::Histogram>& store_wait_;
  std::array<prometheus::Histogram*, store_wait_names.size()> store_wait_children_{};
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Counter>& ready_checks_;
  prometheus::Family<prometheus::Counter>& faults_;
  prometheus::Family<prometheus::Counter>& prompt_counts_;
  prometheus::Family<prometheus::Counter>& restarts_;
  prometheus::Counter& accept_restarts_;
  prometheus::Counter& idle_closed_;
  prometheus::Family<prometheus::Counter>& ws_upgrades_;
  prometheus::Gauge& ws_open_;
  prometheus::Family<prometheus::Counter>& ws_messages_;
  prometheus::Family<prometheus::Counter>& ws_continuations_;
  prometheus::Family<prometheus::Counter>& conversation_events_;
  prometheus::Family<prometheus::Counter>& conversation_turns_;
  std::mutex mutex_;
  std::map<std::string, prometheus::Counter*> counters_;
  std::map<std::string, prometheus::Histogram*> histograms_;
  std::map<std::string, prometheus::Gauge*> gauges_;
};

} // namespace riposte::adapters::observability
