// The OpenAI Chat Completions backends (vLLM, llama.cpp's llama-server,
// SGLang, TGI, LM Studio, Ollama's /v1): their streamed replies read into the
// same domain events the Ollama adapter produces. Every server streams its
// own dialect of chat.completion.chunk (../shared/BACKENDS.md): the first
// chunk with or without a role, reasoning under `reasoning` or
// `reasoning_content`, tool calls as fragments or whole, ids repeated,
// missing or null, the last arguments sent twice, the finish on its own
// chunk or on the last token's, usage on a chunk of its own or nowhere, and
// errors as a `data:` object, an `error:` line or an HTTP body of any of
// four shapes. The translator accepts all of them.
#pragma once

#include "actors/ports/backend.hpp"
#include "adapters/backends/output_builder.hpp"
#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace riposte::adapters::backends {

// What one kind of Chat Completions server accepts, so riposte sends each
// field only where it is applied (../shared/BACKENDS.md, "Request fields").
struct chat_profile {
  std::string kind = "openai"; // openai (generic), vllm, llamacpp, sglang, tgi, ollama-v1, lmstudio
  // The assistant message field reasoning goes back under ("": not sent).
  std::string reasoning_field;
  bool tool_choice_required = true; // accepts tool_choice "required"
  bool parallel_tool_calls = true;  // accepts parallel_tool_calls (sent explicitly)
  // response_format: "openai" ({type: json_schema, json_schema}), "tgi"
  // ({type, value}), or "" (not sent).
  std::string response_format = "openai";
  bool response_format_with_tools = true; // false: TGI takes one or the other
  bool reasoning_effort = true;           // accepts reasoning_effort
  // The model name every request carries, whatever the client named ("":
  // the client's). TGI serves one model as "tgi"; any other name is taken
  // for a LoRA adapter.
  std::string served_model;
  // How the server counts a prompt with the model's own tokenizer and chat
  // template: "messages" (vLLM: POST /tokenize with the chat messages),
  // "chat_tokenize" (TGI: POST /chat_tokenize with the whole chat request),
  // "apply_template" (llama.cpp: POST /apply-template, then POST /tokenize
  // of its prompt); "" when it cannot (SGLang's /v1/tokenize takes a plain
  // prompt only; Ollama and LM Studio have no tokenizer endpoint).
  std::string tokenizer;
};

// The profile of a backend kind; nullopt for a kind riposte does not know.
std::optional<chat_profile> chat_profile_for(std::string_view kind);
// Every kind chat_profile_for knows, for messages and the manifest.
std::vector<std::string> chat_kinds();
// What riposte sends to a kind and what it cannot (the manifest's entry).
nlohmann::json chat_profile_manifest(const chat_profile& profile);

// The /v1/chat/completions body for a generation request, as sent, and
// parsed back for tests.
std::string openai_chat_body(const actors::generation_request& req, const chat_profile& profile);
nlohmann::json to_openai_chat(const actors::generation_request& req, const chat_profile& profile);
// The estimated prompt tokens of that body.
std::int64_t openai_chat_tokens(const actors::generation_request& req, const chat_profile& profile);

// One request to a kind's tokenizer endpoint.
struct tokenize_call {
  std::string path;
  nlohmann::json body;
};
// The first (for vLLM and TGI, the only) request counting `chat_body` (the
// /v1/chat/completions body riposte sends) the way the server will: the
// same messages, tools and template.
tokenize_call tokenize_request(const chat_profile& profile, const nlohmann::json& chat_body);
// llama.cpp's second step: the tokens of the prompt /apply-template made
// (its text already holds the template's special tokens).
tokenize_call tokenize_prompt(const std::string& prompt);
// The count a tokenize reply gives: vLLM's `count`, TGI's
// `tokenize_response` or llama.cpp's `tokens` array; -1 when it is none of
// them.
std::int64_t tokenized_count(const nlohmann::json& reply);

struct openai_chat_options {
  std::string base_url; // without /v1
  chat_profile profile;
  std::string api_key; // sent as a Bearer token; never logged
  long connect_timeout_ms = 5'000;
  long timeout_ms = 600'000;
  long max_connections = 64;
};

std::unique_ptr<actors::backend> make_openai_chat_backend(const openai_chat_options& opts);

// A /v1/models reply as model infos: ids, created, and the context length
// where the server says it (max_model_len: vLLM, SGLang).
std::vector<actors::model_info> chat_models(const nlohmann::json& reply);

// What riposte assumes a model can do when its server does not say (every
// Chat Completions server): everything, so the server itself refuses what it
// cannot and its error is passed on.
const std::vector<std::string>& unstated_capabilities();

// The window a server of `kind` says it runs with, from its own endpoint's
// reply (llama.cpp GET /props, TGI GET /info, LM Studio GET
// /api/v0/models/{id}); 0 when it does not say.
std::int64_t chat_window(const std::string& kind, const nlohmann::json& reply);

// What a chat backend's error body says, whichever shape it has: nested
// {"error": {"message", ...}} (vLLM, llama.cpp, Ollama, LM Studio), flat
// {"object": "error", "message"} (SGLang), {"error": "text", "error_type"}
// (TGI), or {"error": {"message", "http_status_code"}} (TGI, mid-stream).
// Empty when the body is none of them.
std::string chat_error_message(const nlohmann::json& body);

// Turns one generation's SSE reply into domain events. Exposed for tests.
class openai_chat_translator {
public:
  // `first_index`: output items riposte itself put before the model's.
  explicit openai_chat_translator(const nlohmann::json& params = nlohmann::json::object(),
                                  std::int64_t first_index = 0);
  explicit openai_chat_translator(const actors::generation_request& req);

  // Feeds raw bytes, split anywhere; complete SSE events become domain
  // events.
  std::vector<events::event> feed(std::string_view bytes);
  // The transfer ended: what it ended with (the finish, [DONE], an error, or
  // nothing) closes the generation.
  std::vector<events::event> finish(long status, const std::string& transport_error, bool timed_out,
                                    bool connect_failed, const std::string& error_body);
  bool done() const { return out_.done(); }

private:
  // A tool call assembled from its fragments.
  struct pending_call {
    std::string id, name, arguments, last_fragment;
  };
  void on_field(std::string_view field, std::string_view value);
  void on_event(std::vector<events::event>& out);
  // An SSE event has data or error lines waiting for its blank line.
  bool event_pending() const { return !data_.empty() || !error_.empty(); }
  void on_chunk(const nlohmann::json& chunk, std::vector<events::event>& out);
  std::int64_t call_index(const nlohmann::json& fragment) const;
  void end(std::vector<events::event>& out);

  output_builder out_;
  std::string buffer_;                         // bytes not yet a whole line
  // The reply so far while no SSE field has come: a server answering with
  // one JSON object (stream false, or an error with status 200) is read
  // whole at the end.
  std::string raw_;
  bool saw_field_ = false;
  std::string data_, error_;                   // the SSE event being read: its data and error lines
  std::string finish_reason_;                  // empty: none yet
  nlohmann::json usage_;                       // the last usage seen (null: none)
  std::int64_t cache_n_ = -1;                  // llama.cpp's timings.cache_n, if sent
  std::map<std::int64_t, pending_call> calls_; // by tool-call index
};

} // namespace riposte::adapters::backends
