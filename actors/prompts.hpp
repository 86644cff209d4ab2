// Prompt templates over the event log: a prompt is a stream `pmpt_<id>` of
// immutable versions (`prompt_version_created`) until `prompt_deleted`. A
// response's `prompt: {id, version, variables}` becomes its instructions and
// its first input messages, with every {{variable}} filled in.
#pragma once

#include "actors/messages.hpp"
#include "actors/services.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace riposte::actors {

// Its protocol, prompts_actor, is in messages.hpp.
caf::actor spawn_prompts(caf::actor_system& sys, std::shared_ptr<const services> svc);

// The {{variable}} names a version uses, in order of first use.
std::vector<std::string> prompt_variables(const nlohmann::json& instructions,
                                          const nlohmann::json& input);

// A version with `variables` filled in: its instructions
// (string or null) and its input messages. A variable the template uses and
// the request leaves out, one the template does not know, or a file or image
// where only text can go is a 400 naming prompt.variables.<name>.
struct rendered_prompt {
  nlohmann::json instructions;
  nlohmann::json input = nlohmann::json::array();
};
events::result<rendered_prompt> render_prompt(const events::prompt_version_created& version,
                                              const nlohmann::json& variables);

// The request's prompt reference resolved against the store (blocking:
// store threads only): the version it names (latest when none), rendered.
events::result<rendered_prompt> resolve_prompt(events::event_log& log, const std::string& tenant,
                                               const nlohmann::json& reference);

} // namespace riposte::actors
