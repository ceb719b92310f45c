#include "routing/frame_registry.hpp"

namespace nightjar {

void FrameRegistry::on(FrameType type, Handler handler) {
  handlers_[static_cast<std::uint8_t>(type)] = std::move(handler);
}

void FrameRegistry::on(std::initializer_list<FrameType> types, const Handler& handler) {
  for (FrameType t : types) on(t, handler);
}

bool FrameRegistry::handles(FrameType type) const {
  return static_cast<bool>(handlers_[static_cast<std::uint8_t>(type)]);
}

bool FrameRegistry::dispatch(Link& from, Bytes frame) const {
  if (frame.empty()) return false;
  const Handler& h = handlers_[frame[0]];
  if (!h) return false;
  h(from, frame);
  return true;
}

}  // namespace nightjar
