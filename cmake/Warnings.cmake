# nightjar_warnings: an interface target that every project target links, so
# that third-party headers (included as system headers) are not affected.
add_library(nightjar_warnings INTERFACE)
target_compile_options(nightjar_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
  -Wimplicit-fallthrough)
if(NIGHTJAR_WERROR)
  target_compile_options(nightjar_warnings INTERFACE -Werror)
endif()
if(NIGHTJAR_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12's flow analysis gives false -Wmaybe-uninitialized reports inside
  # libstdc++ (std::function) when instrumented for ASan.
  target_compile_options(nightjar_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
