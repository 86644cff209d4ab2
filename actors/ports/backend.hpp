// What the actors need from an inference backend. Adapters (Ollama, OpenAI
// chat) implement it; the response actor never sees a wire format.
#pragma once

#include "events/errc.hpp"
#include "events/event.hpp"
#include "projections/chain_context.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace riposte::actors {

// A normalized generation request: Responses-shaped items in, so each
// adapter owns the whole mapping to its wire format.
struct generation_request {
  std::string response_id;
  std::string tenant; // for fair scheduling across tenants
  // When the client asked (wall clock, µs): the order of a tenant's work in
  // a queue replicas share. 0: before anything asked since.
  std::int64_t asked_at_us = 0;
  std::string model;
  nlohmann::json instructions;                      // string, or null
  projections::chain_ptr history;                   // the conversation so far, shared
  nlohmann::json items = nlohmann::json::array();   // this turn's input, after the history
  nlohmann::json params = nlohmann::json::object(); // temperature, top_p, text, reasoning, tools...
  std::vector<std::string> capabilities;            // of the model, from the backend
  std::string family;                               // the model's architecture ("gptoss", "qwen3")
  // The context window the backend is asked to run with (0: its own).
  std::int64_t context_window = 0;
  // truncation "auto": this many of the history's oldest conversation items
  // are left out (system and developer messages always stay).
  std::size_t dropped_items = 0;
  // The tools riposte runs itself that the model is offered this round (the
  // request declared them and the operator configured their provider).
  bool offer_web_search = false;
  bool offer_image_generation = false;
  // Output items riposte put before the model's (a compaction item).
  std::int64_t first_output_index = 0;
  // Stream from the backend? A blocking create that nobody watches needs
  // only the finished answer (Ollama's non-streaming /api/chat).
  bool stream = true;
};

// Domain events translated from the backend's reply, in order. The last
// update of a generation has `finished` set and ends with a terminal event
// (completed, incomplete or failed), unless the generation was cancelled.
struct generation_update {
  std::vector<events::event> events;
  bool finished = false;
  // On the update that finishes it, where an HTTP backend's call spent its
  // wall time: when the client's thread took the request, wrote it, saw the
  // reply's first byte, and was done (unset steps are the epoch).
  struct steps {
    std::chrono::steady_clock::time_point taken, sent, first_byte, done;
  };
  std::optional<steps> timing;
};

using update_sink = std::function<void(generation_update)>;

struct model_info {
  std::string id;
  std::int64_t created = 0;
  std::vector<std::string> capabilities;
  std::int64_t context_length = 0; // what the model was trained for
  std::int64_t num_ctx = 0;        // what its Modelfile runs it with (0: not set)
  std::string family;              // architecture, e.g. "llama", "gptoss", "qwen3"
  std::string owned_by;            // the backend that serves it (GET /v1/models)
};

class backend {
public:
  virtual ~backend() = default;
  // Starts a generation; `sink` is called from the backend's own thread.
  // Returns an id for cancel(). Thread-safe.
  virtual std::uint64_t generate(generation_request req, update_sink sink) = 0;
  // Aborts the backend request (its connection is closed). The sink then gets
  // one last update with `finished` and no terminal event.
  virtual void cancel(std::uint64_t id) = 0;
  // The models the backend serves.
  virtual void list_models(std::function<void(events::result<std::vector<model_info>>)> done) = 0;
  // One model's capabilities and context length; not_found when the backend
  // does not serve it.
  virtual void show_model(const std::string& name,
                          std::function<void(events::result<model_info>)> done) = 0;
  // An estimate of the tokens `req` puts in the model's context, from the
  // body the adapter would send. Thread-safe, no I/O.
  virtual std::int64_t count_input_tokens(const generation_request& req) const = 0;
  // Whether the backend serving `model` can count them exactly (its server
  // has a tokenize endpoint that applies the chat template).
  virtual bool counts_exactly(const std::string& model) const {
    (void)model;
    return false;
  }
  // The exact count: a round trip to the server's tokenizer. `done` is
  // called once, from the backend's own thread; an error when the server
  // cannot say (the caller falls back to the estimate).
  virtual void count_exactly(const generation_request& req,
                             std::function<void(events::result<std::int64_t>)> done) {
    (void)req;
    done(events::make_error(events::riposte_errc::backend_unavailable,
                            "this backend has no tokenizer endpoint"));
  }
  // The backend's own version string (a cheap reachability probe).
  virtual void version(std::function<void(events::result<std::string>)> done) = 0;
  // For GET /readyz: can it serve, and what it says about itself. One
  // backend answers with its version; several, with each one's state.
  virtual void health(std::function<void(bool ok, nlohmann::json detail)> done) {
    version([done](events::result<std::string> v) {
      if (!v)
        return done(false, nlohmann::json{{"error", v.error().message}});
      done(true, nlohmann::json{{"version", *v}});
    });
  }
  // The label of the backend that serves `model`, for metrics ("": the
  // pool's own label).
  virtual std::string label_for(const std::string& model) const {
    (void)model;
    return {};
  }
  // How many generations the backend that serves `model` may run at once
  // (0: only the pool's own limit). Generations of one backend share it.
  virtual std::size_t concurrency_for(const std::string& model) const {
    (void)model;
    return 0;
  }
};

} // namespace riposte::actors
