// Reads the line Ollama streams for each token without a JSON library:
//   {"model":…,"created_at":…,"message":{"role":…,"content":…},"done":false}
// ("thinking" may stand beside "content"). Any other member, any other
// value type, or anything the scanner is unsure of (a lone surrogate,
// malformed UTF-8, a control character) and it answers false: the caller
// then parses the line in full.
#pragma once

#include <string>
#include <string_view>

namespace riposte::adapters::backends {

bool read_token_line(std::string_view line, std::string& content, std::string& thinking);

} // namespace riposte::adapters::backends
