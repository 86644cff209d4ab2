// Fuzz target: an input_file's file_data (a data URL or bare base64) decoded
// and read as text the way a create reads it; the text that comes out must
// be valid UTF-8, so storing and rendering it cannot throw.
#include "adapters/documents/file_text.hpp"
#include "events/json_safe.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in{reinterpret_cast<const char*>(data), size};
  std::string bytes;
  if (!riposte::adapters::documents::decode_file_data(in, bytes))
    bytes = in; // the bytes themselves, as a stored file's would be
  auto text = riposte::adapters::documents::file_text(bytes, "fuzz.txt");
  if (text && !riposte::events::valid_utf8(*text))
    __builtin_trap();
  return 0;
}
