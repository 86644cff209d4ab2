// The manifest table. `ignored` fields are accepted and have no effect (the
// note says why); `unsupported` ones are refused with unsupported_parameter.
#include "http/compatibility.hpp"

namespace riposte::http {

const std::vector<feature>& compatibility_manifest() {
  using s = support;
  static const std::vector<feature> table{
      // Endpoints
      {"endpoint",
       "POST /v1/responses",
       s::supported,
       "blocking, stream and background",
       {"a_blocking_create_returns_the_whole_response_object",
        "create, retrieve and delete a response"}},
      {"endpoint",
       "GET /v1/responses with Upgrade: websocket (WebSocket mode)",
       s::supported,
       "RFC 6455 on the HTTP listener, authenticated at the upgrade (401 as HTTP); 426 when "
       "--no-websocket is set (Codex then uses HTTP for the session), for Codex's first "
       "protocol (responses_websockets=2026-02-04) or when the client is not version 13; no "
       "subprotocol, no compression. Each response.create message is a POST "
       "/v1/responses body with a type: the same validation, tenancy, tools, formats and "
       "reasoning sealing; stream is implied, background refused. Its events go out as text "
       "frames, each after it is stored, one response at a time per connection in arrival "
       "order (up to 16 waiting); closing the socket cancels the running response",
       {"a_turn_streams_as_text_frames_and_the_next_sends_only_its_new_items",
        "back_to_back_creates_run_one_at_a_time_in_arrival_order",
        "closing_the_socket_mid_response_cancels_it",
        "an_upgrade_is_authenticated_and_refused_cleanly_when_turned_off",
        "a_compacted_history_starts_a_new_chain_on_the_socket",
        "turns over the SDK WebSocket, continued with only their new items",
        "codex exec over the WebSocket: every request on it, the later ones with only their new "
        "items"}},
      {"websocket",
       "connection-local state",
       s::supported,
       "the connection keeps its latest completed (or incomplete) response's context, store: "
       "false included: previous_response_id naming it continues with only the new items. Any "
       "other id is looked up as over HTTP (stored responses of the tenant); a store: false "
       "response of another connection is previous_response_not_found (400). A failed turn "
       "(error event or response.failed) drops the response it continued. Nothing of it is "
       "visible to another connection or tenant",
       {"connection_state_is_the_connections_own",
        "a_turn_streams_as_text_frames_and_the_next_sends_only_its_new_items"}},
      {"websocket",
       "generate: false",
       s::supported,
       "a warm-up: response.created, response.in_progress, response.completed with output [] "
       "and zero usage, no model call; it can be continued like any response",
       {"a_warm_up_completes_without_the_model_and_can_be_continued"}},
      {"websocket",
       "error events",
       s::supported,
       "a request that fails before its response starts gets {type: error, status, error: "
       "{type, code, message, param}} (the HTTP status it would have had) and the connection "
       "goes on; a response that fails later ends with response.failed",
       {"a_bad_create_is_an_error_event_and_the_connection_stays_usable",
        "error events reach the SDK as WebSocketError and the socket goes on"}},
      {"websocket",
       "response.processed",
       s::ignored,
       "Codex's acknowledgement of a processed turn: taken silently",
       {}},
      {"websocket",
       "response.steer, response.inject, response.append, stream_id lanes",
       s::unsupported,
       "an error event (400, param type or stream_id); responses run one at a time per "
       "connection",
       {"a_bad_create_is_an_error_event_and_the_connection_stays_usable",
        "error events reach the SDK as WebSocketError and the socket goes on"}},
      {"websocket",
       "keep-alive",
       s::supported,
       "pings are answered; a silent prefill (no output yet) is kept alive with stored "
       "response.in_progress events every --sse-keepalive-ms (Codex's idle timer counts only "
       "data frames, and every frame that carries an event is one the log holds, so SSE "
       "readers of the same response see them too); silence later gets a ping",
       {"a_long_prefill_is_kept_alive_with_stored_in_progress_events",
        "hostile_frames_close_that_connection_only"}},
      {"websocket",
       "limits",
       s::supported,
       "a message (fragments joined) over --max-websocket-message-bytes (64 MiB) closes the "
       "connection with 1009, decided from the frame header before any payload is kept; "
       "protocol errors close with 1002, bad UTF-8 with 1007, binary messages with 1003; "
       "--max-websockets-per-tenant (64) open per API key, more get 429 "
       "websocket_connection_limit_reached; WebSockets count against --max-connections; a "
       "client 16 MiB behind is disconnected (1008); a peer silent for --websocket-ping-ms is "
       "pinged and one that does not answer within as long again is let go; riposte's close "
       "is followed by a short drain, and nothing the peer sends after it is run",
       {"hostile_frames_close_that_connection_only",
        "a_tenant_holds_a_bounded_number_of_connections",
        "the_size_limit_is_checked_from_the_header",
        "websockets_count_against_the_connection_limit",
        "a_silent_peer_is_pinged_and_let_go_and_a_close_is_answered_properly"}},
      {"endpoint",
       "POST /v1/responses/compact",
       s::supported,
       "the model itself summarizes the conversation (input and/or previous_response_id) "
       "through the backend, under riposte's compaction instructions (the request's own "
       "instructions are not part of the summary), with truncation auto if it does not fit; "
       "the answer is response.compaction: every user message, then one compaction item with "
       "the summary sealed for the tenant; nothing is stored. As input, a compaction item "
       "stands for everything before it except the user's messages",
       {"compact_summarizes_through_the_model_and_its_item_stands_in_for_the_past",
        "compact a chain and continue statelessly from its output"}},
      {"endpoint",
       "POST /v1/responses/input_tokens",
       s::supported,
       "the create pipeline without storing or generating: model check, files, the "
       "previous_response_id chain, truncation; `model` may be left out when --default-model "
       "is set. vLLM, TGI and llama.cpp backends count with the model's own tokenizer and "
       "template (their tokenize endpoints; header x-riposte-token-count: exact); Ollama, "
       "SGLang and LM Studio expose none, so the count is riposte's estimate of the rendered "
       "chat (Llama 3-style BPE pre-tokenization, measured against Llama 3's tokenizer by "
       "the sdk suite; README: Token counts)",
       {"input_tokens_counts_what_a_create_would_send_and_stores_nothing",
        "common_words_numbers_and_punctuation_count_like_bpe_pieces",
        "the token estimate stays close to the real Llama 3 tokenizer",
        "near_the_window_each_kinds_tokenizer_decides_and_far_from_it_nobody_asks"}},
      {"endpoint",
       "POST /v1/prompts, POST /v1/prompts/{id}/versions, GET /v1/prompts/{id}[?version=N], "
       "GET /v1/prompts/{id}/versions, DELETE /v1/prompts/{id}",
       s::supported,
       "riposte's own (OpenAI keeps prompts in its dashboard): a prompt is an event stream of "
       "immutable versions {name, instructions, input messages, metadata}, tenant-scoped; "
       "delete appends prompt_deleted",
       {"prompts_are_versioned_tenant_scoped_and_deleted_by_an_event"}},
      {"endpoint",
       "POST /v1/conversations, GET, POST (metadata) and DELETE /v1/conversations/{id}",
       s::supported,
       "a conversation is an event stream conv_<48 hex> with its own actor, tenant-scoped, on "
       "every store. Create takes items (at most 20: array_above_max_length) and metadata (16 "
       "keys, 64/512 characters: object_above_max_properties); update replaces the metadata "
       "whole (null clears it); delete answers conversation.deleted and leaves the items "
       "findable by reference, as the API documents; no list endpoint (the API has none). "
       "Unknown, deleted or foreign ids: 404 \"Conversation with id '...' not found.\" (code "
       "and param null)",
       {"a_conversation_and_its_items_have_the_apis_shapes_and_order",
        "every_documented_error_is_the_apis", "a_conversation_survives_a_restart_on_rocksdb",
        "a_conversation_survives_a_restart_on_postgres",
        "conversations and their items through the openai SDK"}},
      {"endpoint",
       "POST and GET /v1/conversations/{id}/items, GET and DELETE "
       "/v1/conversations/{id}/items/{item_id}",
       s::supported,
       "items are input items, normalized (string content becomes input_text or output_text "
       "parts, status completed, an id where none was given); a client id must carry its "
       "type's prefix (msg, fc); an id the tenant already stores elsewhere brings the stored "
       "item; an id already in this conversation is item_already_in_conversation. Lists "
       "default to desc, limit 1-100 (20), after counts in the order asked (an unknown after: "
       "404 \"No item found with id '...'\"); first_id and last_id are null on an empty page. "
       "Deleting an item answers the conversation. include is accepted (items are stored "
       "whole)",
       {"a_conversation_and_its_items_have_the_apis_shapes_and_order",
        "every_documented_error_is_the_apis", "concurrent_adds_to_one_conversation_all_land_whole",
        "an agent with OpenAIConversationsSession: runs, getItems, popItem, clearSession"}},
      {"endpoint",
       "GET /v1/responses/{id}",
       s::supported,
       "include[] accepted",
       {"a_blocking_create_returns_the_whole_response_object"}},
      {"endpoint",
       "DELETE /v1/responses/{id}",
       s::supported,
       "soft delete: events stay for audit, reads answer 404",
       {"a_deleted_response_is_gone_for_reads_and_follow_ups"}},
      {"endpoint",
       "GET /v1/responses/{id}/input_items",
       s::supported,
       "limit 1-100, order, after, before",
       {"input_items_page_with_limit_order_after_and_before",
        "input items paginate with the SDK cursor helpers"}},
      {"endpoint",
       "GET /v1/responses/{id}?stream=true&starting_after=N",
       s::supported,
       "replays the log after N, then follows live, with no gap and no duplicate",
       {"resuming_from_every_n_of_a_500_event_response_yields_the_exact_suffix",
        "subscribers_joining_at_any_moment_see_no_gap_and_no_duplicate",
        "a stored response can be streamed again with retrieve({stream: true})"}},
      {"endpoint",
       "riposte replay / riposte audit",
       s::supported,
       "commands: a response's events, rebuilt Response or exact SSE; the global feed with "
       "tenant/type/time filters; read-only beside a running riposte on RocksDB",
       {"replay_and_audit_read_the_store_beside_a_running_server_and_after_it_stops"}},
      {"endpoint",
       "GET /metrics",
       s::supported,
       "Prometheus text: HTTP requests/latency/in-flight by route pattern, responses by model, "
       "mode and status, backend calls by backend/model/operation/status and their latency, "
       "time to first token, output tokens/s, active streams, dropped subscribers, job queue "
       "depth/wait/run time, event-log append latency, batch size and errors, idempotent "
       "replays, readiness results, file bytes stored",
       {"metrics_count_requests_responses_and_appends_by_label",
        "metrics_follow_generations_queues_streams_and_replays"}},
      {"endpoint",
       "GET /healthz, GET /readyz",
       s::supported,
       "healthz: the process answers; readyz: the store takes a write, the backend answers "
       "/api/version and serves --default-model, per check with latency and error; 503 when not "
       "ready; a check silent past --readiness-timeout-ms fails",
       {"healthz_is_alive_and_readyz_checks_store_backend_and_model",
        "readiness_flips_when_the_backend_goes_away_and_comes_back",
        "readiness_flips_when_the_postgres_store_goes_away_and_comes_back"}},
      {"endpoint",
       "POST /v1/files",
       s::supported,
       "multipart: file, purpose (assistants, batch, fine-tune, vision, user_data, evals), "
       "expires_after; --max-upload-bytes (413), --tenant-quota-bytes; bytes in the store as a "
       "blob with a sha256. RESTinio 0.6 reads the request body whole, so the upload limit also "
       "bounds memory",
       {"files are created, listed, read back byte for byte and deleted",
        "malformed_and_incomplete_uploads_are_refused_and_store_nothing",
        "a_tenant_quota_caps_stored_bytes_and_deletes_free_them"}},
      {"endpoint",
       "GET /v1/files, GET /v1/files/{id}, GET /v1/files/{id}/content, DELETE /v1/files/{id}",
       s::supported,
       "tenant-scoped; list by purpose, limit 1-10000, order, after; content streamed one "
       "1 MiB chunk at a time; expired files are deleted by an appended event when next read",
       {"files are created, listed, read back byte for byte and deleted",
        "expired_files_disappear_by_an_appended_event", "files_outlive_a_restart_byte_for_byte"}},
      {"endpoint",
       "GET /v1/audit/events",
       s::supported,
       "riposte's own: every stream's events in global order, admin key only; filtered by "
       "tenant, type and stream_id; stream=true is a live SSE tail (id: the global position, "
       "resumable by after or Last-Event-ID)",
       {"the_audit_feed_is_for_the_admin_key_and_pages_in_global_order",
        "the audit feed streams live as SSE for the admin key, filtered and resumable"}},
      {"endpoint",
       "GET /v1/operator/responses",
       s::supported,
       "riposte's own: the index of responses (tenant, status, model, mode, times, error, "
       "usage) with filters and an after=<id> cursor; the admin key sees every tenant, a "
       "tenant's key its own; kept in the store, so a restart serves it at once",
       {"the_operator_index_lists_responses_by_filter_per_key_and_survives_restarts"}},
      {"endpoint",
       "GET /v1/operator/responses/{id} (/input_items, /events, /timeline)",
       s::supported,
       "riposte's own: one response as its tenant reads it, for the admin key across tenants; "
       "the timeline is riposte replay --timeline as JSON",
       {"the_operator_index_lists_responses_by_filter_per_key_and_survives_restarts"}},
      {"endpoint",
       "GET /v1/operator/conversations",
       s::supported,
       "riposte's own: the index of conversations (tenant, created and last active, items held, "
       "responses run on it, deleted) with filters and an after=<id> cursor; the admin key "
       "sees every tenant, a tenant's key its own; kept with the responses' index",
       {"the_operator_index_lists_conversations_per_key_and_reads_one_across_tenants"}},
      {"endpoint",
       "GET /v1/operator/conversations/{id} (/items, /events)",
       s::supported,
       "riposte's own: one conversation as its tenant reads it, for the admin key across "
       "tenants",
       {"the_operator_index_lists_conversations_per_key_and_reads_one_across_tenants"}},
      {"endpoint",
       "POST /v1/operator/responses/{id}/cancel",
       s::supported,
       "riposte's own: cancels a background response as its tenant would, for the admin key "
       "across tenants (the console's cancel button)",
       {"a running background response is cancelled from its page"}},
      {"endpoint",
       "GET /console",
       s::supported,
       "riposte's own: the operator's console (list with filters, a response's timeline, gap "
       "chart, replay, chain links, audit tail, cancel), built into the binary; a CSP with no "
       "inline script, the key sent as a header and never put in a URL, nothing a model or a "
       "user wrote rendered as HTML",
       {"the console is served with a policy that allows no inline script and no other origin",
        "a response's page shows its timeline, gaps and chain, and hostile text stays text"}},
      {"endpoint",
       "GET /v1/responses/{id}/events",
       s::supported,
       "riposte's own: the response's raw event log (tenant-scoped), limit and after=<seq>",
       {"a_response_s_raw_event_log_pages_by_sequence_number"}},
      {"endpoint",
       "POST /v1/responses/{id}/cancel",
       s::supported,
       "background responses, queued or running (the backend request is aborted); a finished "
       "one comes back unchanged; foreground ones answer 400, as in the API; with replicas on "
       "one PostgreSQL, on any replica (the one running it hears of it through LISTEN/NOTIFY "
       "and the answer is read from the log)",
       {"background_responses_cancel_while_queued_and_while_running",
        "cancel_follows_the_api_for_foreground_and_unknown_responses",
        "a_cancel_on_any_replica_reaches_the_one_that_runs_the_response"}},
      {"endpoint",
       "GET /v1/models",
       s::supported,
       "the backend's /api/tags; created is the model's modified_at (RFC 3339, any offset). "
       "With several backends: the union, each model's owned_by naming the backend that "
       "serves it (a model two backends list is the first configured one's); a Chat "
       "Completions backend's /v1/models, with max_model_len as the window where the server "
       "says it (vLLM, SGLang)",
       {"models_are_listed_from_the_backend", "models list and retrieve",
        "modified_at_times_read_as_epoch_seconds",
        "two_backends_of_two_kinds_serve_their_own_models",
        "model_lists_give_ids_and_the_window_where_the_server_says_it"}},
      {"backend",
       "Chat Completions servers (vLLM, llama.cpp, SGLang, TGI, LM Studio, Ollama /v1)",
       s::supported,
       "--backend KIND:URL; the window is the one the server reports; each kind's stream "
       "dialect is read (reasoning under either name, "
       "every tool-call shape, usage wherever it arrives, every error shape) and each kind is "
       "sent only the fields it applies: GET /compatibility/responses lists, per configured "
       "backend, what is sent and what is not",
       {"every_kind_streams_text_reasoning_and_usage_in_any_split",
        "every_kinds_tool_call_shapes_give_the_same_calls",
        "every_kind_ends_by_length_errors_and_cuts_as_the_api_does",
        "each_kind_gets_only_the_fields_it_applies",
        "a_chat_completions_server_serves_the_responses_api",
        "each_kind_says_its_window_and_a_too_long_input_never_reaches_it"}},
      {"backend",
       "several backends, routed by model",
       s::supported,
       "a model goes to the backend configured for it (models=, prefix=) or else the first "
       "that lists it; /readyz shows each backend and is ready while one serves "
       "(--ready-requires-all-backends: all)",
       {"two_backends_of_two_kinds_serve_their_own_models",
        "prefixes_and_fixed_lists_route_without_asking_and_all_can_be_required",
        "a_backend_runs_within_its_own_concurrency_and_timeout",
        "a_server_still_loading_its_model_is_not_ready"}},
      {"endpoint", "GET /v1/models/{id}", s::supported, "", {"models_are_listed_from_the_backend"}},
      // Request fields
      {"request_field",
       "model",
       s::supported,
       "must be a model the backend serves (400 model_not_found)",
       {"bad_requests_get_precise_errors_and_store_nothing"}},
      {"request_field",
       "input",
       s::supported,
       "string or items: message (user/assistant/system/developer), function_call, "
       "function_call_output, custom_tool_call, custom_tool_call_output, reasoning; every tool "
       "output must answer a call earlier in the input or in the previous_response_id chain "
       "(400 naming input[i].call_id)",
       {"codex_style_requests_map_roles_and_formats_for_ollama",
        "tool_outputs_must_answer_a_call_in_the_input_or_the_chain"}},
      {"request_field",
       "instructions",
       s::supported,
       "a system message; not inherited through previous_response_id",
       {"a_three_turn_conversation_carries_the_whole_chain_but_not_instructions"}},
      {"request_field",
       "previous_response_id",
       s::supported,
       "whole chain, shared in memory; checkpoints every 32 turns; depth limit --max-chain-depth",
       {"a_three_turn_conversation_carries_the_whole_chain_but_not_instructions",
        "a three-turn conversation with previous_response_id",
        "a_long_chain_is_rebuilt_across_checkpoints_after_a_restart"}},
      {"request_field",
       "store",
       s::supported,
       "store:false responses are not retrievable",
       {"store_false_responses_work_but_are_not_retrievable"}},
      {"request_field",
       "metadata",
       s::supported,
       "16 keys, 64-char keys, 512-char values",
       {"a_blocking_create_returns_the_whole_response_object"}},
      {"request_field",
       "temperature",
       s::supported,
       "Ollama options.temperature",
       {"a_blocking_create_returns_the_whole_response_object"}},
      {"request_field",
       "top_p",
       s::supported,
       "Ollama options.top_p",
       {"requests_map_instructions_roles_options_tools_and_format"}},
      {"request_field",
       "presence_penalty, frequency_penalty",
       s::supported,
       "-2 to 2 (Open Responses; the openai SDK's create params do not list them); Ollama "
       "options of the same names, sent only when set; the Response echoes them, 0 by default",
       {"penalties_are_echoed_with_their_defaults_and_reach_the_backend"}},
      {"request_field",
       "max_output_tokens",
       s::supported,
       "Ollama options.num_predict; done_reason length -> incomplete",
       {"length_thinking_and_tool_calls_map_to_response_items"}},
      {"request_field",
       "reasoning.effort",
       s::conditional,
       "Ollama think, per model family (general.architecture from /api/show): gpt-oss takes "
       "the level (low/medium/high; xhigh -> high), other thinking families on/off (true); "
       "none/minimal -> false; models without the thinking capability answer 400 "
       "unsupported_parameter",
       {"length_thinking_and_tool_calls_map_to_response_items",
        "think_is_sent_only_to_models_that_can_think",
        "requests_beyond_the_models_capabilities_are_refused_before_anything_runs"}},
      {"request_field", "reasoning.summary", s::ignored, "Ollama produces no summaries", {}},
      {"request_field",
       "text.format",
       s::supported,
       "json_object -> format \"json\", json_schema -> format <schema> (schema checked with "
       "valijson at request time: 400 text.format.schema); the finished answer is validated "
       "against the schema and a violation ends the response failed, code "
       "output_schema_violation, naming the JSON pointer (blocking: 500), output kept",
       {"codex_style_requests_map_roles_and_formats_for_ollama",
        "structured_outputs_are_checked_against_their_schema",
        "structured_output_verdicts_follow_text_format"}},
      {"request_field", "text.verbosity", s::ignored, "no backend control", {}},
      {"request_field",
       "tools (function)",
       s::supported,
       "mapped to Ollama tools; names, duplicate names and parameter schemas validated. The "
       "Response echoes each with description and parameters (null when not sent) and strict: "
       "as sent, or when not sent whether the schema meets strict mode's rules (every object "
       "closed with additionalProperties false and requiring all its properties), the API's "
       "own fallback. strict is not enforced with Ollama: it has no constrained decoding for "
       "tool calls, and riposte does not check a call's arguments against the schema",
       {"function_tools_are_echoed_with_description_parameters_and_strict",
        "length_thinking_and_tool_calls_map_to_response_items",
        "tool_definitions_and_choices_are_validated_naming_the_param",
        "two parallel calls answered with previous_response_id"}},
      {"request_field",
       "tools (namespace)",
       s::supported,
       "the backend sees namespace__name; the function_call the client gets carries the "
       "original name and namespace",
       {"namespaces_flatten_custom_tools_take_text_and_hosted_tools_stay_out",
        "namespaced_custom_and_hosted_tools_travel_as_declared_in_a_stream"}},
      {"request_field",
       "tools (custom)",
       s::supported,
       "the backend sees a function with one string argument `input` (its description carries "
       "the grammar); calls come back as custom_tool_call items",
       {"backend_calls_map_back_to_the_declared_name_namespace_and_kind",
        "namespaced_custom_and_hosted_tools_travel_as_declared_in_a_stream"}},
      {"request_field",
       "tools (web_search, web_search_preview, ...)",
       s::conditional,
       "with --web-search (searxng:URL or static:PATH) riposte serves it: the model gets a "
       "web_search(query) function; each call becomes a web_search_call item (action search, "
       "query and queries; sources with include web_search_call.action.sources) streamed as "
       "output_item.added, web_search_call.in_progress/searching/completed, output_item.done; "
       "results are filtered by filters.allowed_domains and the operator's "
       "--web-search-block, given to the model as the tool's output, and the model goes on in "
       "the same response (up to 3 searches); the answer carries url_citation annotations for "
       "the result URLs it contains (byte offsets), usage adds every generation up. A provider "
       "error or timeout (--web-search-timeout-ms) ends that call failed and the model is "
       "told; the response goes on. Without --web-search: accepted and not offered",
       {"a_web_search_runs_through_searxng_and_the_answer_cites_it",
        "a_streamed_web_search_steps_through_its_events_in_order",
        "allowed_domains_narrow_the_results_the_model_gets",
        "a_provider_that_fails_or_hangs_fails_the_call_not_the_response",
        "a_static_provider_serves_a_fixed_result_set",
        "codex runs with riposte serving web_search through a SearXNG"}},
      {"request_field",
       "tools (image_generation)",
       s::conditional,
       "with --image-generation (a1111:URL: Automatic1111 POST /sdapi/v1/txt2img; comfyui:URL: "
       "a txt2img workflow POSTed to /prompt, GET /history/{id} polled, the file fetched with "
       "GET /view) riposte serves it: the model gets an image_generation(prompt) function; "
       "each call becomes an image_generation_call item (result base64, size, quality, "
       "output_format, revised_prompt) streamed as output_item.added, "
       "image_generation_call.in_progress/generating/completed, output_item.done, and the "
       "model goes on in the same response. size WxH or auto (1024x1024) within "
       "--image-generation-max-size (over it, or malformed: 400 naming tools[i].size before "
       "anything runs); quality low/medium/high/auto sets the sampler's steps; the providers "
       "make PNG, so output_format is png whatever was asked; no partial images. A provider "
       "error or timeout (--image-generation-timeout-ms) ends that call failed (result null) "
       "and the model is told. Without --image-generation: accepted and not offered",
       {"automatic1111_draws_the_image_the_model_asked_for",
        "comfyui_runs_a_txt2img_workflow_polls_its_history_and_fetches_the_file",
        "a_size_over_the_cap_is_refused_and_a_failing_provider_fails_the_call"}},
      {"request_field",
       "tools (hosted: file_search, code_interpreter, mcp, shell, apply_patch, ...)",
       s::ignored,
       "policy: accepted, echoed in the Response, and not offered to the backend (no local "
       "provider); the request never fails for carrying them",
       {"namespaced_custom_and_hosted_tools_travel_as_declared_in_a_stream"}},
      {"request_field",
       "tool_choice",
       s::conditional,
       "none: no tools offered. A function/custom choice or allowed_tools: only those tools are "
       "offered (the backend enforces the set). required, allowed_tools mode required, a named "
       "choice: Ollama cannot force a call, so riposte adds a system instruction to call one; "
       "not checked after the fact",
       {"tool_choice_none_sends_no_tools",
        "tool_choice_narrows_the_offer_and_asks_for_what_it_cannot_force"}},
      {"request_field",
       "parallel_tool_calls",
       s::supported,
       "false: riposte keeps the first call of a turn and drops the rest (checked after the fact)",
       {"backend_calls_map_back_to_the_declared_name_namespace_and_kind"}},
      {"request_field",
       "max_tool_calls",
       s::supported,
       "calls past the limit are dropped by riposte (checked after the fact)",
       {"backend_calls_map_back_to_the_declared_name_namespace_and_kind"}},
      {"request_field",
       "include",
       s::supported,
       "reasoning.encrypted_content: reasoning items carry their text sealed with AES-256-GCM "
       "(OpenSSL), bound to the tenant; other values are accepted and add nothing",
       {"encrypted_reasoning_round_trips_for_stateless_clients"}},
      {"request_field",
       "prompt_cache_key",
       s::ignored,
       "accepted and echoed (Codex sends it); Ollama keeps one KV cache per loaded model, so "
       "there is nothing to route by; usage.cached_tokens reports what a chain shares",
       {"codex_style_requests_map_roles_and_formats_for_ollama"}},
      {"request_field", "prompt_cache_retention", s::ignored, "", {}},
      {"request_field", "prompt_cache_options", s::ignored, "", {}},
      {"request_field",
       "client_metadata",
       s::ignored,
       "accepted (Codex sends it)",
       {"codex_style_requests_map_roles_and_formats_for_ollama"}},
      {"request_field", "service_tier", s::ignored, "echoed back", {}},
      {"request_field", "safety_identifier", s::ignored, "echoed back", {}},
      {"request_field", "user", s::ignored, "echoed back", {}},
      {"request_field", "top_logprobs", s::ignored, "Ollama reports no logprobs", {}},
      {"request_field", "image", s::ignored, "no image generation yet", {}},
      {"request_field",
       "stream",
       s::supported,
       "SSE; sequence_number is the event's seq in the log; the last subscriber leaving cancels",
       {"a_streamed_response_follows_the_event_grammar_and_ends_as_get_shows_it",
        "create with stream: true yields the whole event grammar and the final response",
        "a_client_that_goes_away_cancels_its_response"}},
      {"request_field",
       "stream_options.include_obfuscation",
       s::supported,
       "padding on delta events, deterministic per (response, seq) so resumed bytes match",
       {"deltas_carry_obfuscation_unless_turned_off"}},
      {"request_field",
       "background",
       s::supported,
       "answers queued at once; the backend pool admits work under --backend-concurrency and "
       "--model-concurrency, round-robin across tenants (FIFO within one); with replicas on one "
       "PostgreSQL the limits and the turns hold across them (one shared queue); requires "
       "store=true; after a restart queued work is queued again and work that was generating "
       "ends failed (server_restarted)",
       {"a_background_response_answers_queued_and_finishes_on_its_own",
        "background responses are polled to completion and cancel follows the API",
        "waiting_work_is_served_round_robin_across_tenants",
        "a_per_model_limit_lets_other_models_through",
        "a_concurrency_limit_and_tenant_turns_hold_across_replicas",
        "a_background_stream_survives_its_client_and_resumes"}},
      {"request_field",
       "truncation",
       s::supported,
       "the window is --context-window MODEL=TOKENS, else the Modelfile's num_ctx, else "
       "--default-context-window (4096), capped by the model's trained context_length; "
       "riposte sends it as options.num_ctx so Ollama runs with exactly that window. "
       "\"disabled\": a context over the window (max_output_tokens kept free) is 400 "
       "context_length_exceeded before the backend is called. \"auto\": the fewest oldest "
       "conversation items are dropped (never instructions, system/developer messages, the "
       "new input, or a call without its output); the Response carries truncation_details "
       "{dropped_items, dropped_item_ids, input_tokens_before, context_window, counted_by}. "
       "Counts are riposte's estimate, or, near the window on vLLM, TGI and llama.cpp, the "
       "backend's tokenizer (counted_by: tokenizer)",
       {"a_200_turn_conversation_crosses_the_window_with_auto_and_fails_with_disabled",
        "truncation_drops_what_the_tokenizer_says_and_a_failed_tokenizer_leaves_the_estimate",
        "a_modelfile_num_ctx_is_the_window_and_a_too_long_input_never_reaches_it",
        "auto_truncation_drops_the_fewest_oldest_items_and_never_splits_a_call",
        "codex reports a context that does not fit the window as its own context error"}},
      {"request_field",
       "prompt",
       s::supported,
       "{id, version, variables} against riposte's own prompt store (/v1/prompts): the "
       "version's instructions come first (the request's instructions follow), its messages "
       "before the request's input; {{name}} takes a string or input_text anywhere, an "
       "input_image or input_file where a user message's text is (it becomes its own part); a "
       "variable the template uses and the request leaves out is 400 "
       "missing_required_parameter, one it does not use 400 unknown_parameter, both naming "
       "prompt.variables.<name>; unknown id or version 404",
       {"a_prompt_becomes_instructions_and_first_messages_with_its_variables",
        "text_fills_in_place_and_an_image_becomes_its_own_part",
        "missing_unknown_and_misplaced_variables_name_themselves"}},
      {"request_field",
       "conversation",
       s::supported,
       "an id or {id}, on a create (blocking, stream, background, WebSocket) and on "
       "input_tokens (not on compact). The conversation is locked for the response from its "
       "acceptance (a second one meanwhile: 400 conversation_locked, param conversation; items "
       "may still be added through the API); its items come before the input; when the "
       "response completes or ends incomplete, its input items and then its output items "
       "(function calls included) are appended as one batch before the end is stored, so a "
       "client that sees response.completed finds them; a failed or cancelled response "
       "appends nothing. store: false still appends (as OpenAI does) and keeps the Response "
       "unretrievable. The Response and its lifecycle events carry conversation: {id}. With "
       "previous_response_id: 400 mutually_exclusive_parameters; unknown, deleted or another "
       "tenant's: 404 \"Conversation with id '...' not found.\" With replicas on one "
       "PostgreSQL the lock and the turns hold across them (the lock is written into the "
       "conversation under the replica's lease).",
       {"a_turn_reads_the_conversation_and_appends_input_then_output",
        "a_tool_loop_over_a_conversation_finds_its_calls",
        "turns_are_refused_locked_and_never_half_appended",
        "an agent keeps its memory in a conversation by conversationId",
        "a_conversation_s_turns_and_lock_hold_across_replicas"}},
      {"request_field",
       "context_management",
       s::supported,
       "[{type: compaction, compact_threshold}]: when a follow-up's context (its chain and "
       "input, by riposte's token count) is over the threshold (none given: 3/4 of the "
       "window), the model first summarizes the chain through the backend; the turn runs on "
       "the user's messages and the summary, opens its output with the sealed compaction "
       "item, and later turns use it in place of what it replaced",
       {"context_management_compacts_a_chain_past_its_threshold"}},
      {"request_field", "moderation", s::unsupported, "riposte runs no moderation", {}},
      {"request_field", "access_programs", s::unsupported, "", {}},
      {"request_field",
       "Idempotency-Key header",
       s::supported,
       "same key and body replays; another body -> 409; kept in the event log; concurrent "
       "creates with one key all get the first one's answer, streams byte for byte",
       {"an_idempotency_key_replays_the_same_response_even_after_a_restart",
        "concurrent_creates_with_one_idempotency_key_all_get_the_same_response",
        "a_streamed_create_replayed_by_its_idempotency_key_is_byte_identical"}},
      // Real clients, unmodified
      {"client",
       "OpenAI SDK (npm openai 7.57)",
       s::supported,
       "every endpoint riposte serves, both streaming helpers, background, cancel, the tool loop",
       {"create, retrieve and delete a response", "two parallel calls answered with "
                                                  "previous_response_id"}},
      {"client",
       "Codex CLI (npm @openai/codex 0.169)",
       s::supported,
       "codex exec with a custom provider (wire_api responses): shell tool call, sealed "
       "reasoning replayed, exit 0; set [features] plugins = false to keep it offline",
       {"codex exec runs a shell tool call through riposte and finishes"}},
      {"client",
       "OpenAI Agents SDK (npm @openai/agents 0.20)",
       s::supported,
       "Responses API mode, function tools, blocking and streamed runs; disable tracing",
       {"an agent with one function tool completes a run",
        "an agent streams its run through riposte"}},
      // Input items
      {"input_item",
       "input_image (data URL)",
       s::conditional,
       "sent as Ollama images to models with the vision capability; others answer 400",
       {"requests_map_instructions_roles_options_tools_and_format",
        "requests_beyond_the_models_capabilities_are_refused_before_anything_runs"}},
      {"input_item",
       "input_image (file_id)",
       s::conditional,
       "the stored file (PNG, JPEG, GIF, WebP) is sent as base64 to models with the vision "
       "capability; others answer 400 unsupported_model_capability naming the part",
       {"files_and_images_by_reference_reach_the_model_as_it_can_read_them"}},
      {"input_item",
       "input_image (http(s) URL)",
       s::conditional,
       "fetched by riposte under a guard: loopback, private, link-local, CGNAT, unique-local "
       "and multicast addresses are refused unless --fetch-allow lists them, every redirect is "
       "checked again, the connection is pinned to the checked address, 32 MiB and "
       "--fetch-timeout-ms bound it; then sent as base64 to vision models",
       {"urls_are_fetched_only_where_the_guard_allows"}},
      {"input_item",
       "compaction (as input)",
       s::supported,
       "opened for its tenant (tampered, foreign or unknown-key content: 400 naming "
       "input[i].encrypted_content); the model sees the summary as a user message in its "
       "place, and nothing before it but the user's own messages",
       {"compact_summarizes_through_the_model_and_its_item_stands_in_for_the_past"}},
      {"input_item",
       "input_file (file_id, file_data)",
       s::supported,
       "text, Markdown, JSON, CSV and code inlined as <file name=...>; PDFs as text through "
       "poppler; other binaries are refused; the stored input keeps the reference, the chain "
       "keeps what the model saw, so follow-ups still read the file",
       {"files_and_images_by_reference_reach_the_model_as_it_can_read_them",
        "pdf_pages_become_text_and_binaries_are_refused"}},
      {"input_item",
       "input_file (file_url)",
       s::supported,
       "fetched under the same guard as image URLs, then read like an uploaded file",
       {"urls_are_fetched_only_where_the_guard_allows"}},
      {"input_item",
       "item_reference",
       s::supported,
       "{type: item_reference, id} (or {id} alone) becomes the stored item with that id: any "
       "input or output item of a stored response of the same tenant, found through an item "
       "index written in the same store write as the item; an id several responses hold "
       "resolves to the newest that still holds it; items of deleted and store:false "
       "responses are not found (404 \"Item with id '…' not found.\", param input). The new "
       "response stores the item itself",
       {"item_references_resolve_to_stored_items_of_the_tenant_only"}},
      {"input_item",
       "reasoning (encrypted_content)",
       s::supported,
       "opened on replay and given back to the model as the assistant's thinking for the turn "
       "in progress (after the last user message: a tool loop, as gpt-oss and qwen3 expect); "
       "earlier turns go without it; content "
       "riposte cannot verify (tampered, another tenant's, another key's) -> 400 naming "
       "input[i].encrypted_content; the key is --reasoning-key-file or one kept in the store",
       {"encrypted_reasoning_round_trips_for_stateless_clients",
        "a_reasoning_key_file_lets_another_store_open_sealed_items",
        "tampered_truncated_and_foreign_tokens_do_not_open",
        "a_chain_renders_the_same_from_cached_segments_as_whole"}},
      // Output items
      {"output_item",
       "compaction",
       s::supported,
       "from context_management compaction: output[0], before the model's items (streamed as "
       "output_item.added/done); encrypted_content is the summary sealed with AES-256-GCM for "
       "the tenant",
       {"context_management_compacts_a_chain_past_its_threshold"}},
      {"output_item",
       "image_generation_call",
       s::conditional,
       "with --image-generation: id ig_..., status completed or failed, result (base64 PNG), "
       "size, quality, output_format, revised_prompt",
       {"automatic1111_draws_the_image_the_model_asked_for"}},
      {"output_item",
       "web_search_call",
       s::conditional,
       "with --web-search: id ws_..., status completed or failed, action {type search, query, "
       "sources}",
       {"a_web_search_runs_through_searxng_and_the_answer_cites_it"}},
      {"output_item",
       "message",
       s::supported,
       "",
       {"text_chunks_in_any_split_give_one_message_item"}},
      {"output_item",
       "reasoning",
       s::conditional,
       "from Ollama thinking (raw reasoning_text)",
       {"thinking_becomes_a_reasoning_item_before_the_message"}},
      {"output_item",
       "function_call",
       s::supported,
       "call_id generated per call; namespace kept",
       {"tool_calls_become_function_call_items_with_string_arguments"}},
      {"output_item",
       "custom_tool_call",
       s::supported,
       "for custom tools; input is the free-form text",
       {"backend_calls_map_back_to_the_declared_name_namespace_and_kind"}},
      // Stream events
      {"event",
       "response.created / in_progress / completed / incomplete / failed",
       s::supported,
       "lifecycle events carry the whole Response as it stood after the event, every field "
       "the openai SDK's types and the Open Responses schema require present",
       {"a_streamed_response_follows_the_event_grammar_and_ends_as_get_shows_it",
        "every_response_carries_every_field_the_references_require"}},
      {"event",
       "a cancelled stream",
       s::supported,
       "no SDK has a cancelled stream event (openai-node 6.45+ rejects unknown types), so a "
       "background response cancelled while streamed ends with response.incomplete carrying "
       "the Response with status cancelled, live and replayed; the SDK's stream helper takes "
       "its final Response from it. Items still being written end incomplete (a hosted call "
       "failed), in the stream's last event and in the stored Response; the same for a "
       "failed response",
       {"a_background_response_cancelled_while_streamed_ends_its_stream"}},
      {"event",
       "response.output_item.added / done, content_part.added / done",
       s::supported,
       "",
       {"a_streamed_response_follows_the_event_grammar_and_ends_as_get_shows_it"}},
      {"event",
       "response.output_text.delta / done",
       s::supported,
       "logprobs is always an array",
       {"a_streamed_response_follows_the_event_grammar_and_ends_as_get_shows_it"}},
      {"event",
       "response.function_call_arguments.delta / done",
       s::supported,
       "the whole arguments in one delta (Ollama sends calls whole); done carries name",
       {"a_streamed_response_follows_the_event_grammar_and_ends_as_get_shows_it"}},
      {"event",
       "response.custom_tool_call_input.delta / done",
       s::supported,
       "the whole input in one delta",
       {"namespaced_custom_and_hosted_tools_travel_as_declared_in_a_stream"}},
      {"event",
       "response.reasoning_text.delta / done",
       s::conditional,
       "from Ollama thinking",
       {"a_streamed_response_follows_the_event_grammar_and_ends_as_get_shows_it"}},
      {"event", "response.reasoning_summary_*", s::unsupported, "Ollama produces no summaries", {}},
      {"event",
       "response.queued",
       s::supported,
       "background responses, before the pool admits them",
       {"a_background_response_answers_queued_and_finishes_on_its_own"}},
      {"event",
       "error",
       s::supported,
       "flat: code, message, param, sequence_number; also when the store fails mid-stream",
       {"streams_report_errors_before_and_during_the_stream",
        "a_stream_whose_store_goes_away_ends_with_an_error_event"}},
      {"event",
       "keep-alive comments",
       s::supported,
       "`: keep-alive` after --sse-keepalive-ms of silence; not events, so numbering is untouched",
       {"a_silent_backend_gets_keep_alive_comments_on_the_stream"}},
      // State
      {"state",
       "usage",
       s::supported,
       "input/output tokens are Ollama's prompt_eval_count/eval_count; "
       "input_tokens_details.cached_tokens is accounting, not control: the prefix a follow-up "
       "shares with its parent turn on the same model with the same instructions (the "
       "parent's prompt, plus its answer unless that began with reasoning), capped by the "
       "input; 0 after truncation. reasoning_tokens report 0 (Ollama does not count them apart)",
       {"a_blocking_create_returns_the_whole_response_object",
        "cached_tokens_count_the_prefix_a_follow_up_shares_with_its_parent"}},
      {"state",
       "x-request-id and the request log",
       s::supported,
       "every reply carries x-request-id (the client's if well-formed, else generated); one JSON "
       "log line per reply with request_id, tenant, route, status, latency_ms, response_id, "
       "model, error_code; --log-level gates lines; only trace logs request bodies",
       {"every_reply_is_logged_as_one_json_line_with_its_request_id",
        "the_log_level_gates_lines_and_only_trace_logs_bodies"}},
      {"state",
       "Ollama /api/chat, streaming and not",
       s::supported,
       "streams (NDJSON) whenever anyone watches (stream, background, a subscriber); a blocking "
       "create nobody streams asks for the whole answer (stream: false); a timeout after the "
       "request went out is 504, before it 502",
       {"a_non_streaming_reply_is_one_object_without_a_newline",
        "a_blocking_create_returns_the_whole_response_object",
        "backend_failures_map_to_502_504_and_a_stored_failed_response"}},
      {"state",
       "restart",
       s::supported,
       "stored responses read back byte-identical",
       {"after_a_restart_get_returns_identical_bytes_and_chains_continue"}},
      {"state",
       "job timeout",
       s::supported,
       "--job-timeout-ms: unfinished after that long (queue wait included) -> failed, code "
       "job_timeout; the backend request is aborted",
       {"a_job_that_outlives_its_timeout_fails_with_job_timeout"}},
      {"state",
       "crash recovery",
       s::supported,
       "responses unfinished at a crash are found from an in-flight marker set (no scan) and "
       "closed at start-up: generating ones end failed (server_restarted), queued background "
       "ones are queued again",
       {"after_a_crash_unfinished_responses_are_closed_at_start_up",
        "markers_are_a_set_per_namespace_that_survives_reopening",
        "kill_9_with_200_responses_in_flight_loses_nothing_on_rocksdb",
        "kill_9_with_200_responses_in_flight_loses_nothing_on_postgres"}},
      {"state",
       "passivation",
       s::supported,
       "idle finished responses leave memory and are rebuilt from snapshot + events on demand",
       {"a_passivated_response_is_rebuilt_from_the_store_on_the_next_read"}},
      {"state",
       "tenants",
       s::supported,
       "API keys bind tenants; other tenants' ids answer 404",
       {"api_keys_bind_tenants_and_other_tenants_see_404"}},
      {"state",
       "errors",
       s::supported,
       "{error:{message,type,param,code}} with the right status",
       {"bad_requests_get_precise_errors_and_store_nothing",
        "errors arrive as the SDK error classes with the OpenAI body"}},
      {"state",
       "hostile input",
       s::supported,
       "bytes that are not UTF-8 text in paths, queries, headers and upload fields -> 400 naming "
       "them; JSON nested past --max-json-depth -> 400 invalid_json; body, URL, header, "
       "connection and read-time limits (see the README's Limits and guarantees); nothing "
       "stored is lost and only the bad request fails",
       {"bytes_that_are_not_utf8_text_in_paths_queries_or_headers_are_a_400_naming_them",
        "json_nested_past_the_depth_limit_anywhere_is_a_400_invalid_json",
        "bodies_past_the_route_limit_get_413_and_past_the_server_cap_lose_the_connection"}},
      {"state",
       "fault containment",
       s::supported,
       "an exception inside riposte fails only its request (500 server_error); supervised "
       "actors restart; a response whose actor fails ends failed; /readyz 503 meanwhile",
       {"an_exception_in_a_supervised_actor_fails_only_the_request_it_was_handling",
        "a_killed_supervised_actor_is_restarted_and_serves_again_within_two_seconds",
        "a_fault_in_a_generating_response_ends_its_stream_failed"}},
      {"state",
       "backend failures",
       s::supported,
       "down 502, too slow 504, cut stream 500 + failed",
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
    features.push_back(
        {{"area", f.area}, {"name", f.name}, {"status", name(f.status)}, {"notes", f.notes}});
  return {{"object", "compatibility_manifest"}, {"api", "responses"}, {"features", features}};
}

} // namespace riposte::http
