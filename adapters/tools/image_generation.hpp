// Image providers for the hosted image_generation tool.
#pragma once

#include "actors/ports/image_generation.hpp"

#include <memory>
#include <string>

namespace riposte::adapters::tools {

// "a1111:http://host:port" (Automatic1111's POST /sdapi/v1/txt2img) or
// "comfyui:http://host:port" (POST /prompt with a txt2img workflow, poll
// GET /history/{id}, fetch GET /view). `checkpoint`: the model file a
// ComfyUI workflow loads (A1111 uses the one it has loaded).
events::result<std::shared_ptr<const actors::image_provider>>
make_image_provider(const std::string& spec, long timeout_ms, std::string checkpoint);

} // namespace riposte::adapters::tools
