// The manifest table. `ignored` fields are accepted and have no effect (the
// note says why); `unsupported` ones are refused with unsupported_parameter.
#include "http/compatibility.hpp"

namespace riposte::http {

const std::vector<feature>& compatibility_manifest() {
  using s = support;
  static const std::vector<feature> table{
    // Endpoints
    {"endpoint", "POST /v1/responses", s::supported, "blocking; stream and background come later",
     {"a_blocking_create_returns_the_whole_response_object", "create, retrieve and delete a response"}},
    {"endpoint", "GET /v1/responses/{id}", s::supported, "include[] accepted",
     {"a_blocking_create_returns_the_whole_response_object"}},
    {"endpoint", "DELETE /v1/responses/{id}", s::supported,
     "soft delete: events stay for audit, reads answer 404",
     {"a_deleted_response_is_gone_for_reads_and_follow_ups"}},
    {"endpoint", "GET /v1/responses/{id}/input_items", s::supported,
     "limit 1-100, order, after, before",
     {"input_items_page_with_limit_order_after_and_before",
      "input items paginate with the SDK cursor helpers"}},
    {"endpoint", "POST /v1/responses/{id}/cancel", s::unsupported, "not yet", {}},
    {"endpoint", "GET /v1/models", s::supported, "the backend's /api/tags",
     {"models_are_listed_from_the_backend", "models list and retrieve"}},
    {"endpoint", "GET /v1/models/{id}", s::supported, "", {"models_are_listed_from_the_backend"}},
    // Request fields
    {"request_field", "model", s::supported, "must be a model the backend serves (400 model_not_found)",
     {"bad_requests_get_precise_errors_and_store_nothing"}},
    {"request_field", "input", s::supported,
     "string or items: message (user/assistant/system/developer), function_call, "
     "function_call_output, reasoning",
     {"codex_style_requests_map_roles_and_formats_for_ollama"}},
    {"request_field", "instructions", s::supported,
     "a system message; not inherited through previous_response_id",
     {"a_three_turn_conversation_carries_the_whole_chain_but_not_instructions"}},
    {"request_field", "previous_response_id", s::supported,
     "whole chain, one store read per turn at any depth; depth limit --max-chain-depth",
     {"a_three_turn_conversation_carries_the_whole_chain_but_not_instructions",
      "a three-turn conversation with previous_response_id"}},
    {"request_field", "store", s::supported, "store:false responses are not retrievable",
     {"store_false_responses_work_but_are_not_retrievable"}},
    {"request_field", "metadata", s::supported, "16 keys, 64-char keys, 512-char values",
     {"a_blocking_create_returns_the_whole_response_object"}},
    {"request_field", "temperature", s::supported, "Ollama options.temperature",
     {"a_blocking_create_returns_the_whole_response_object"}},
    {"request_field", "top_p", s::supported, "Ollama options.top_p",
     {"requests_map_instructions_roles_options_tools_and_format"}},
    {"request_field", "max_output_tokens", s::supported,
     "Ollama options.num_predict; done_reason length -> incomplete",
     {"length_thinking_and_tool_calls_map_to_response_items"}},
    {"request_field", "reasoning.effort", s::conditional,
     "Ollama think (low/medium/high; none/minimal -> false) for models with the thinking "
     "capability",
     {"length_thinking_and_tool_calls_map_to_response_items"}},
    {"request_field", "reasoning.summary", s::ignored, "Ollama produces no summaries", {}},
    {"request_field", "text.format", s::supported,
     "json_object -> format \"json\", json_schema -> format <schema>",
     {"codex_style_requests_map_roles_and_formats_for_ollama"}},
    {"request_field", "text.verbosity", s::ignored, "no backend control", {}},
    {"request_field", "tools (function)", s::supported, "mapped to Ollama tools",
     {"length_thinking_and_tool_calls_map_to_response_items"}},
    {"request_field", "tools (other types)", s::ignored,
     "accepted and not sent to the backend until local providers land", {}},
    {"request_field", "tool_choice", s::conditional, "\"none\" drops the tools; others are advisory",
     {"tool_choice_none_sends_no_tools"}},
    {"request_field", "parallel_tool_calls", s::ignored, "the model decides", {}},
    {"request_field", "max_tool_calls", s::ignored, "not enforced yet", {}},
    {"request_field", "include", s::ignored, "accepted; nothing extra to include yet",
     {"codex_style_requests_map_roles_and_formats_for_ollama"}},
    {"request_field", "prompt_cache_key", s::ignored, "accepted (Codex sends it)",
     {"codex_style_requests_map_roles_and_formats_for_ollama"}},
    {"request_field", "prompt_cache_retention", s::ignored, "", {}},
    {"request_field", "prompt_cache_options", s::ignored, "", {}},
    {"request_field", "client_metadata", s::ignored, "accepted (Codex sends it)",
     {"codex_style_requests_map_roles_and_formats_for_ollama"}},
    {"request_field", "service_tier", s::ignored, "echoed back", {}},
    {"request_field", "safety_identifier", s::ignored, "echoed back", {}},
    {"request_field", "user", s::ignored, "echoed back", {}},
    {"request_field", "top_logprobs", s::ignored, "Ollama reports no logprobs", {}},
    {"request_field", "image", s::ignored, "no image generation yet", {}},
    {"request_field", "stream", s::unsupported, "not yet", {}},
    {"request_field", "stream_options", s::ignored, "no streaming yet", {}},
    {"request_field", "background", s::unsupported, "not yet", {}},
    {"request_field", "truncation", s::conditional, "\"disabled\" only; \"auto\" is refused",
     {"every_rejection_names_its_param_and_code"}},
    {"request_field", "prompt", s::unsupported, "no prompt templates yet", {}},
    {"request_field", "conversation", s::unsupported, "no conversations API", {}},
    {"request_field", "context_management", s::ignored, "no compaction yet", {}},
    {"request_field", "moderation", s::unsupported, "riposte runs no moderation", {}},
    {"request_field", "access_programs", s::unsupported, "", {}},
    {"request_field", "Idempotency-Key header", s::supported,
     "same key and body replays; another body -> 409; kept in the event log",
     {"an_idempotency_key_replays_the_same_response_even_after_a_restart"}},
    // Input items
    {"input_item", "input_image (data URL)", s::conditional, "sent as Ollama images",
     {"requests_map_instructions_roles_options_tools_and_format"}},
    {"input_item", "input_image (http URL, file_id)", s::unsupported, "not yet", {}},
    {"input_item", "input_file", s::unsupported, "not yet", {}},
    {"input_item", "item_reference", s::unsupported, "send the item or use previous_response_id",
     {}},
    {"input_item", "reasoning (encrypted_content)", s::ignored,
     "accepted on replay; its text, if any, becomes the assistant's thinking",
     {"codex_style_requests_map_roles_and_formats_for_ollama"}},
    // Output items
    {"output_item", "message", s::supported, "", {"text_chunks_in_any_split_give_one_message_item"}},
    {"output_item", "reasoning", s::conditional, "from Ollama thinking (raw reasoning_text)",
     {"thinking_becomes_a_reasoning_item_before_the_message"}},
    {"output_item", "function_call", s::supported, "call_id generated per call",
     {"tool_calls_become_function_call_items_with_string_arguments"}},
    // State
    {"state", "usage", s::supported,
     "prompt_eval_count/eval_count; cached_tokens and reasoning_tokens report 0",
     {"a_blocking_create_returns_the_whole_response_object"}},
    {"state", "restart", s::supported, "stored responses read back byte-identical",
     {"after_a_restart_get_returns_identical_bytes_and_chains_continue"}},
    {"state", "tenants", s::supported, "API keys bind tenants; other tenants' ids answer 404",
     {"api_keys_bind_tenants_and_other_tenants_see_404"}},
    {"state", "errors", s::supported, "{error:{message,type,param,code}} with the right status",
     {"bad_requests_get_precise_errors_and_store_nothing",
      "errors arrive as the SDK error classes with the OpenAI body"}},
    {"state", "backend failures", s::supported, "down 502, too slow 504, cut stream 500 + failed",
     {"backend_failures_map_to_502_504_and_a_stored_failed_response"}},
  };
  return table;
}

nlohmann::json manifest_json() {
  auto name = [](support s) {
    switch (s) {
      case support::supported: return "supported";
      case support::conditional: return "conditional";
      case support::ignored: return "ignored";
      case support::unsupported: return "unsupported";
    }
    return "unsupported";
  };
  nlohmann::json features = nlohmann::json::array();
  for (const auto& f : compatibility_manifest())
    features.push_back({{"area", f.area},
                        {"name", f.name},
                        {"status", name(f.status)},
                        {"notes", f.notes}});
  return {{"object", "compatibility_manifest"}, {"api", "responses"}, {"features", features}};
}

} // namespace riposte::http
