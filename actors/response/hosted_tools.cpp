// Hosted tool rounds: web searches and image generations the model asked
// for, run off the actor (the providers block) on the outbound pool; their
// answers become events through decide_hosted_results.
#include "actors/response/hosted_rules.hpp"
#include "actors/response/state.hpp"

namespace riposte::actors::response {

namespace {

namespace ev = events;
using json = nlohmann::json;
using ev::riposte_errc;

// One image through the provider (blocking): {image} or {error}.
json generate_image(const image_generation_settings& cfg, const json& tool,
                    const std::string& prompt) {
  if (!cfg.provider)
    return {{"error", "no image provider is configured"}};
  auto size = image_size(tool, cfg, "size");
  if (!size)
    return {{"error", size.error().message}};
  image_request req{prompt, size->first, size->second, tool.value("quality", "auto")};
  ev::result<generated_image> made = ev::make_error(riposte_errc::internal, "");
  try { // a provider's answer is untrusted JSON: nothing it holds may end riposte
    made = cfg.provider->generate(req);
  } catch (const std::exception& e) {
    made =
        ev::make_error(riposte_errc::backend_unavailable,
                       std::string{"the image provider's answer did not make sense: "} + e.what());
  }
  if (!made)
    return {{"error", made.error().message}};
  return {{"image",
           {{"result", made->base64},
            {"output_format", made->format},
            {"revised_prompt", made->revised_prompt},
            {"size", std::to_string(req.width) + "x" + std::to_string(req.height)},
            {"quality", req.quality}}}};
}

// One search through the provider (blocking): {results} or {error}.
json search(const web_search_settings& cfg, const json& tool, const json& call) {
  if (!cfg.provider)
    return {{"error", "no web search provider is configured"}};
  ev::result<std::vector<search_result>> found = std::vector<search_result>{};
  try { // a provider's answer is untrusted JSON: nothing it holds may end riposte
    found = cfg.provider->search(call["action"].value("query", ""));
  } catch (const std::exception& e) {
    found =
        ev::make_error(riposte_errc::backend_unavailable,
                       std::string{"the search provider's answer did not make sense: "} + e.what());
  }
  if (!found)
    return {{"error", found.error().message}};
  json results = json::array();
  for (const auto& r : filter_results(std::move(*found), tool, cfg))
    results.push_back({{"url", r.url}, {"title", r.title}, {"snippet", r.snippet}});
  return {{"results", results}};
}

} // namespace

void run_hosted_tools(response_actor* self) {
  auto& st = self->state;
  enqueue(self, decide_hosted_start(st.turn));
  std::vector<json> calls;
  for (const auto& call : st.turn.hosted_calls)
    calls.push_back(call.second);
  json tool = json::object();       // the request's web_search tool (its filters)
  json image_tool = json::object(); // its image_generation tool (size, quality)
  for (const auto& t : st.cmd.params.value("tools", json::array())) {
    if (t.is_object() && t.value("type", "").rfind("web_search", 0) == 0)
      tool = t;
    if (t.is_object() && t.value("type", "") == "image_generation")
      image_tool = t;
  }
  auto cfg = st.svc->web_search;
  auto images = st.svc->images;
  caf::actor me = self;
  st.svc->outbound_pool->post(
      [=] {
        json answers = json::array();
        for (const auto& call : calls)
          answers.push_back(
              call.value("type", "") == "image_generation_call"
                  ? generate_image(images, image_tool, call.value("revised_prompt", ""))
                  : search(cfg, tool, call));
        caf::anon_send(me, hosted_atom::value, ev::result<json>{std::move(answers)});
      },
      [=](const std::string& what) {
        caf::anon_send(me, hosted_atom::value,
                       ev::result<json>{ev::make_error(riposte_errc::internal, what)});
      });
}

void on_hosted_results(response_actor* self, ev::result<json>& answers) {
  if (!answers)
    return on_fault(self, answers.error().message);
  auto& st = self->state;
  auto outcome = decide_hosted_results(st.cmd, st.turn, *answers);
  enqueue(self, std::move(outcome.events));
  if (outcome.generate_again)
    start_generation(self);
}

} // namespace riposte::actors::response
