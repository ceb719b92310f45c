// Settings: a small reader of dotted settings from a command line and an INI
// file, after i2pd's config code. A program lists its settings in a table of
// SettingSpec (dotted name "section.key", command-line name, argument, default,
// range, help); read_command_line and read_config_file collect the raw text of
// each (the command line wins over the file), and get<T>(name) is the one
// typed accessor: it parses the value or the default, checks the range, and on
// the first bad value records one error line naming the option or the file,
// section and key. Boost.Program_options does the tokenising.
//
// node/node_config.cpp holds nightjar-node's table and reads it through this.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "routing/endpoint.hpp"
#include "routing/result.hpp"

namespace nightjar {

enum class SettingKind {
  flag,      // true/false in the file; on the command line a switch without a value
  text,      // any text
  path,      // a file or directory; relative paths in the file are the file's
  endpoint,  // HOST:PORT
  count,     // a whole number in [min, max]
  size,      // a byte count with an optional K/M/G/T suffix, in [min, max]
};

struct SettingSpec {
  std::string_view name;    // "section.key"; no dot: the command line only
  std::string_view option;  // command-line name without "--"; empty: the file only
  SettingKind kind = SettingKind::text;
  std::string_view arg;       // what the value looks like, for help: "HOST:PORT"
  std::string_view fallback;  // the default, as text; empty: none
  std::string_view help;
  std::uint64_t min = 0;
  std::uint64_t max = UINT64_MAX;
  char short_option = 0;  // e.g. 'h'
};

class Settings {
 public:
  explicit Settings(std::span<const SettingSpec> specs) : specs_(specs) {}

  // Reads `args` (without the program name). False on an error (error()).
  bool read_command_line(std::span<const std::string> args);
  // Reads an INI file's text; settings already given on the command line are
  // kept. `file` names it in errors and anchors its relative paths.
  bool read_config_file(const std::string& file, const std::string& text);

  // Given on the command line or in the file.
  bool has(std::string_view name) const { return values_.count(name) > 0; }
  // The value (or the default) as T. T: bool, std::string, an unsigned
  // integer type, Endpoint, std::filesystem::path. On a bad value (or none
  // and no default) records the error and returns T{}.
  template <class T>
  T get(std::string_view name);
  // Index of the value in `words` (for settings that pick one of a few).
  std::size_t choice(std::string_view name, std::initializer_list<std::string_view> words);
  // Records an error about `name`'s value (for checks made by the caller).
  void reject(std::string_view name, const std::string& why);
  // Records an error line as it is (only the first error is kept).
  void add_error(std::string line) {
    if (error_.empty()) error_ = std::move(line);
  }
  // "--listen" or "node.conf: [network] listen": where `name`'s value came
  // from, for messages.
  std::string where(std::string_view name) const;

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  // The help text for every setting in the table.
  std::string describe() const;

 private:
  struct Value {
    std::string text;
    std::optional<std::string> file;  // set: from this config file
  };
  const SettingSpec* spec(std::string_view name) const;
  const SettingSpec* spec_by_option(std::string_view option) const;
  // The text to parse: the value given, else the default; nullopt (and an
  // error recorded) when there is neither.
  std::optional<std::string> text_of(std::string_view name, const SettingSpec*& out);
  Result<std::uint64_t, std::string> number(const SettingSpec& s, std::string_view text) const;
  std::filesystem::path resolve(std::string_view name, const std::string& text) const;

  std::span<const SettingSpec> specs_;
  std::map<std::string, Value, std::less<>> values_;
  std::string error_;
};

// Value parsers (exposed for tests).
// "512", "64K", "512M", "10G", "1T": binary multiples; "KiB" and a trailing
// "B" are accepted too, as are lower-case suffixes.
Result<std::uint64_t, std::string> parse_size(std::string_view text);
Result<std::uint64_t, std::string> parse_count(std::string_view text);
// "true"/"false", "yes"/"no", "on"/"off", "1"/"0".
Result<bool, std::string> parse_flag(std::string_view text);

// --- get<T> ----------------------------------------------------------------

template <class T>
T Settings::get(std::string_view name) {
  const SettingSpec* s = nullptr;
  auto text = text_of(name, s);
  if (!text) return T{};
  if constexpr (std::is_same_v<T, bool>) {
    auto v = parse_flag(*text);
    if (v) return *v;
    reject(name, v.error());
    return false;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (text->empty()) reject(name, "empty value");
    return *text;
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    if (text->empty()) reject(name, "empty path");
    return resolve(name, *text);
  } else if constexpr (std::is_same_v<T, Endpoint>) {
    auto v = Endpoint::parse(*text);
    if (v) return *v;
    reject(name, v.error());
    return Endpoint{};
  } else {
    static_assert(std::is_unsigned_v<T> && !std::is_same_v<T, bool>, "unsupported setting type");
    auto v = number(*s, *text);
    if (!v) {
      reject(name, v.error());
      return T{};
    }
    if (*v > std::numeric_limits<T>::max()) {  // a table range wider than T
      reject(name, "too large");
      return T{};
    }
    return static_cast<T>(*v);
  }
}

}  // namespace nightjar
