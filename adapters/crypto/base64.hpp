// Base64 through OpenSSL (EVP_EncodeBlock / EVP_DecodeBlock).
#pragma once

#include <string>
#include <string_view>

namespace riposte::adapters::crypto {

std::string base64_encode(std::string_view bytes);
// Canonical base64 only (padding, no whitespace, zero bits past the data):
// false for anything else.
bool base64_decode(std::string_view text, std::string& out);

} // namespace riposte::adapters::crypto
