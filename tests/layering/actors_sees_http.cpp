// Must not compile: actors know no HTTP.
#include "http/server.hpp"
