// Images riposte generates itself for a hosted `image_generation` tool,
// through a provider the operator configured (adapters/tools: Automatic1111
// or ComfyUI).
#pragma once

#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace riposte::actors {

struct image_request {
  std::string prompt;
  int width = 1024;
  int height = 1024;
  std::string quality = "auto"; // low, medium, high, auto: the sampler's steps
};

struct generated_image {
  std::string base64; // the image file, base64
  std::string format; // what the provider made: "png"
  std::string revised_prompt;
};

class image_provider {
public:
  virtual ~image_provider() = default;
  // Blocking (outbound pool threads only); bounded by the provider's timeout.
  virtual events::result<generated_image> generate(const image_request& req) const = 0;
};

struct image_generation_settings {
  std::shared_ptr<const image_provider> provider; // null: not offered
  int max_width = 1024;
  int max_height = 1024;
};

} // namespace riposte::actors
