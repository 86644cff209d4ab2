// Reads the line Ollama streams for each token without a JSON library:
//   {"model":…,"created_at":…,"message":{"role":…,"content":…},"done":false}
// ("thinking" may stand beside "content"). Any other member, any other
// value type, or anything the scanner is unsure of (a lone surrogate,
// malformed UTF-8, a control character) and it answers false: the caller
// then parses the line in full.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace riposte::adapters::backends {

bool read_token_line(std::string_view line, std::string& content, std::string& thinking);

// The last line (`"done":true`) also says how the turn ended:
//   …,"done_reason":"stop","done":true,"total_duration":…,"prompt_eval_count":…,
//   "eval_count":…}
// (integers only; the durations are read and dropped). A blocking reply is
// that one line. Absent members keep these values.
struct line_end {
  bool done = false;
  std::string done_reason = "stop";
  std::int64_t prompt_eval_count = 0, eval_count = 0;
};
bool read_ollama_line(std::string_view line, std::string& content, std::string& thinking,
                      line_end& end);

} // namespace riposte::adapters::backends
