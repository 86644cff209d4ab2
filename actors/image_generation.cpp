#include "actors/image_generation.hpp"

namespace riposte::actors {

namespace ev = events;

ev::result<std::pair<int, int>> image_size(const nlohmann::json& tool,
                                           const image_generation_settings& cfg,
                                           const std::string& param) {
  auto size = tool.value("size", nlohmann::json("auto"));
  if (size.is_null() || size == "auto")
    return std::pair{std::min(1024, cfg.max_width), std::min(1024, cfg.max_height)};
  if (!size.is_string())
    return ev::make_error(ev::riposte_errc::invalid_type,
                          "Invalid type for '" + param + "': expected a string such as 1024x1024.",
                          param);
  const auto& text = size.get_ref<const std::string&>();
  auto x = text.find('x');
  int w = 0, h = 0;
  try {
    if (x == std::string::npos || x == 0 || x + 1 >= text.size() ||
        text.find_first_not_of("0123456789x") != std::string::npos)
      throw std::invalid_argument("size");
    w = std::stoi(text.substr(0, x));
    h = std::stoi(text.substr(x + 1));
  } catch (const std::exception&) {
    return ev::make_error(ev::riposte_errc::invalid_value,
                          "Invalid value for '" + param + "': '" + text +
                              "'. Expected WIDTHxHEIGHT such as 1024x1024, or auto.",
                          param);
  }
  if (w < 64 || h < 64 || w > cfg.max_width || h > cfg.max_height)
    return ev::make_error(ev::riposte_errc::invalid_value,
                          "Invalid value for '" + param + "': " + text +
                              " is outside what this server generates (64x64 up to " +
                              std::to_string(cfg.max_width) + "x" + std::to_string(cfg.max_height) +
                              ").",
                          param);
  return std::pair{w, h};
}

} // namespace riposte::actors
