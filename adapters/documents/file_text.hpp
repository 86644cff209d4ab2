// Client-supplied file bytes made into text a model can read: inline
// file_data decoded (base64 or a data URL), UTF-8 text checked, PDFs read
// page by page through poppler. Apart from input resolution so that it can be
// fuzzed on its own (tests/fuzz/file_data_fuzzer).
#pragma once

#include "events/errc.hpp"

#include <string>
#include <string_view>

namespace riposte::adapters::documents {

// Inline file data: a data URL ("data:<type>[;param]*;base64,<data>") or bare
// base64, decoded into `out`; false for anything else.
bool decode_file_data(const std::string& data, std::string& out);

// The text of a file's bytes: UTF-8 text as it is, a PDF's text by page;
// anything else is an error naming the file.
events::result<std::string> file_text(std::string_view bytes, const std::string& filename);

} // namespace riposte::adapters::documents
