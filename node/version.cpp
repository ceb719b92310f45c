#include "node/version.hpp"

namespace nightjar {

std::string_view nightjar_version() {
  return NIGHTJAR_VERSION;
}

}  // namespace nightjar
