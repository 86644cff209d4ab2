// Sealed reasoning for stateless clients: with include
// ["reasoning.encrypted_content"], reasoning items carry their text sealed
// with AES-256-GCM (OpenSSL), bound to the tenant; a client that replays the
// item gets its reasoning back to the model, and nobody can forge or move one
// between tenants.
#pragma once

#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace riposte::adapters::crypto {

class sealer {
public:
  using key = std::array<unsigned char, 32>;

  explicit sealer(const key& k)
    : key_(k) {}

  // A fresh random key.
  static key random_key();
  // A key from text: 64 hex digits or the base64 of 32 bytes (whitespace
  // around it ignored).
  static events::result<key> parse_key(const std::string& text);
  static std::string to_hex(const key& k);

  // base64(version | nonce | ciphertext | tag) of the JSON payload.
  std::string seal(const std::string& tenant, const nlohmann::json& payload) const;
  // The payload, or an error when the token was not sealed by this key for
  // this tenant (tampered, truncated, another tenant's, another key's).
  events::result<nlohmann::json> open(const std::string& tenant, const std::string& token) const;

private:
  key key_;
};

} // namespace riposte::adapters::crypto
