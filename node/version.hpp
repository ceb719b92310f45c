// The version of this build (CMake's project version), for --version, the
// nightjar_build_info metric and the storage API's info answer.
#pragma once

#include <string_view>

namespace nightjar {

std::string_view nightjar_version();

}  // namespace nightjar
