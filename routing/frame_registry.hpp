// FrameRegistry: a node's one table from link frame type (routing/frame.hpp)
// to the handler that owns it. Each component registers the types it
// handles; a frame whose type nobody registered is reported unhandled.
#pragma once

#include <array>
#include <functional>

#include "routing/bytes.hpp"
#include "routing/frame.hpp"

namespace nightjar {

class Link;

class FrameRegistry {
 public:
  using Handler = std::function<void(Link& from, Bytes frame)>;

  // Registers (or replaces) the handler of one type, or of several.
  void on(FrameType type, Handler handler);
  void on(std::initializer_list<FrameType> types, const Handler& handler);
  bool handles(FrameType type) const;
  // Calls the handler of frame[0]'s type. False if the frame is empty or
  // no handler has its type.
  bool dispatch(Link& from, Bytes frame) const;

 private:
  std::array<Handler, 256> handlers_{};
};

}  // namespace nightjar
