#include "tests/support/metrics_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>

namespace nightjar::test {

std::optional<std::string> http_get(std::uint16_t port, const std::string& path,
                                    std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::string answer;
  bool ok = true;
  while (ok) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ok = false;
      break;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (request.empty() ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if ((p.revents & POLLOUT) && !request.empty()) {
      const ssize_t n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      if (n < 0)
        ok = false;
      else
        request.erase(0, static_cast<std::size_t>(n));
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[8192];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0)
        answer.append(buf, static_cast<std::size_t>(n));
      else if (n == 0)
        break;  // the server closed: the answer is complete
      else if (errno != EAGAIN && errno != EINTR)
        ok = false;
    }
  }
  ::close(fd);
  if (!ok || answer.rfind("HTTP/1.1 200", 0) != 0) return std::nullopt;
  const auto body = answer.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return answer.substr(body + 4);
}

std::optional<double> metric_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

bool wait_for_metric(std::uint16_t port, const std::string& series, double value,
                     std::chrono::steady_clock::time_point deadline) {
  using namespace std::chrono_literals;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto text = http_get(port, "/metrics", 2s))
      if (auto v = metric_value(*text, series); v && *v == value) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

bool wait_for_metric(std::uint16_t port, const std::string& series, double value,
                     std::chrono::milliseconds timeout) {
  return wait_for_metric(port, series, value, std::chrono::steady_clock::now() + timeout);
}

}  // namespace nightjar::test
