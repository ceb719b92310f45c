// Result<T, E>: the value-or-error type that everything fed by the network
// returns instead of throwing (C++20 has no std::expected). Parsers, crypto
// checks and the link layer all use it; exceptions are kept for start-up and
// configuration errors only.
#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace nightjar {

template <class E>
struct Failure {
  E error;
};

// `return fail(WireError::truncated);` converts to any Result<T, WireError>.
template <class E>
constexpr Failure<E> fail(E e) {
  return Failure<E>{e};
}

template <class T, class E>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = E;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Failure<E> f) : v_(std::in_place_index<1>, std::move(f.error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const E& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Forward an error to a caller whose Result has a different value type.
  Failure<E> failure() const { return Failure<E>{error()}; }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  using error_type = E;
  Result() = default;
  Result(Failure<E> f) : err_(std::move(f.error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return !err_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const E& error() const {
    assert(!ok());
    return *err_;
  }
  Failure<E> failure() const { return Failure<E>{error()}; }

 private:
  std::optional<E> err_;
};

}  // namespace nightjar
