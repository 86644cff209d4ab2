// Fuzz target: the operator index's query parser and its kept segments, and
// the audit feed's query parser. Input: a query string (also read as the
// audit feed's query and as its Last-Event-ID), then after a newline bytes
// read as a kept segment and as a manifest. A query that parses runs against
// a small index of responses and conversations.
#include "events/event.hpp"
#include "http/validate.hpp"
#include "projections/response_index.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

const riposte::projections::response_index& sample() {
  static const auto index = [] {
    namespace ev = riposte::events;
    riposte::projections::response_index ix;
    std::uint64_t position = 0;
    for (int i = 0; i < 40; ++i) {
      auto id = "resp_" + std::to_string(i);
      ev::envelope env;
      env.stream = id;
      env.global_position = ++position;
      env.type = "response_created";
      env.tenant = i % 3 ? "acme" : "globex";
      env.recorded_at = 1'764'000'000'000'000 + i * 1000;
      // Every third runs on one of two conversations.
      auto conv = "conv_" + std::to_string(i % 2);
      if (i < 2) {
        ev::envelope created;
        created.stream = conv;
        created.global_position = ++position;
        created.type = "conversation_created";
        created.tenant = env.tenant;
        created.recorded_at = env.recorded_at;
        created.data = {{"created_at", 1'764'000'000 + i}};
        ix.apply(created);
        env.global_position = ++position;
      }
      nlohmann::json params = nlohmann::json::object();
      if (i % 3 == 0)
        params["conversation"] = {{"id", conv}};
      env.data = {{"model", i % 2 ? "a" : "b"},
                  {"created_at", 1'764'000'000 + i},
                  {"mode", i % 4 ? "blocking" : "stream"},
                  {"params", params}};
      ix.apply(env);
      env.seq = 1;
      env.global_position = ++position;
      env.type = i % 5 ? "response_completed" : "response_failed";
      env.data = {{"code", "backend_timeout"},
                  {"usage", {{"input_tokens", i}, {"output_tokens", 2 * i}}}};
      ix.apply(env);
    }
    return ix;
  }();
  return index;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace rp = riposte::projections;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  auto nl = in.find('\n');
  if (auto filter = riposte::http::parse_index_filter(std::string{in.substr(0, nl)}); filter) {
    if (filter->limit < 1 || filter->limit > 100)
      __builtin_trap();
    if (auto page = sample().query(*filter); page && page->rows.size() > filter->limit)
      __builtin_trap();
  }
  std::string query{in.substr(0, nl)};
  if (auto filter = riposte::http::parse_conversation_filter(query); filter) {
    if (filter->limit < 1 || filter->limit > 100)
      __builtin_trap();
    if (auto page = sample().query(*filter); page && page->rows.size() > filter->limit)
      __builtin_trap();
  }
  if (auto audit = riposte::http::parse_audit_query(query, query); audit) {
    if (audit->limit < 1 || audit->limit > 1000 || audit->tenant.size() > 256)
      __builtin_trap();
  }
  if (nl != std::string_view::npos) {
    std::string rest{in.substr(nl + 1)};
    (void)rp::response_index::read_manifest(rest);
    rp::response_index ix;
    if (ix.load_segment(rest))
      if (auto page = ix.query(rp::index_filter{}); page)
        for (const auto& row : page->rows)
          (void)rp::response_index::to_json(row);
    if (ix.load_segment(rest, rp::segment_kind::conversations))
      if (auto page = ix.query(rp::conversation_filter{}); page)
        for (const auto& row : page->rows)
          (void)rp::response_index::to_json(row);
  }
  return 0;
}
