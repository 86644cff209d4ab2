// Must compile: http sends commands to the actors.
#include "actors/messages.hpp"
