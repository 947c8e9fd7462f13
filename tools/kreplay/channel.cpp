#include "tools/kreplay/channel.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>

namespace kreplay {

bool send_command(int sock, const command& c, int fd) {
  iovec iov{const_cast<command*>(&c), sizeof c};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    cmsghdr* h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(h), &fd, sizeof fd);
  }
  ssize_t n;
  do n = sendmsg(sock, &m, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof c);
}

bool recv_command(int sock, command& c, int* fd) {
  iovec iov{&c, sizeof c};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  ssize_t n;
  do n = recvmsg(sock, &m, 0);
  while (n < 0 && errno == EINTR);
  if (fd) *fd = -1;
  if (n != static_cast<ssize_t>(sizeof c)) return false;
  for (cmsghdr* h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && fd)
      std::memcpy(fd, CMSG_DATA(h), sizeof(int));
  return true;
}

bool send_reply(int sock, const reply& r) {
  ssize_t n;
  do n = send(sock, &r, sizeof r, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof r);
}

namespace {
// poll() with a deadline that survives EINTR. 1: readable (or hung up), 0: timed out, -1: error.
int wait_readable(int sock, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{sock, POLLIN, 0};
    const int r = poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (r > 0) return 1;
    if (r == 0) return 0;
    if (errno != EINTR) return -1;
  }
}
}  // namespace

recv_status recv_reply(int sock, reply& r, int timeout_ms) {
  const int w = wait_readable(sock, timeout_ms);
  if (w == 0) return recv_status::timeout;
  if (w < 0) return recv_status::error;
  ssize_t n;
  do n = recv(sock, &r, sizeof r, 0);
  while (n < 0 && errno == EINTR);
  if (n == 0) return recv_status::eof;
  if (n != static_cast<ssize_t>(sizeof r)) return recv_status::error;
  r.problem[sizeof r.problem - 1] = 0;
  return recv_status::ok;
}

bool wait_eof(int sock, int timeout_ms) {
  for (;;) {
    if (wait_readable(sock, timeout_ms) != 1) return false;
    char buf[sizeof(reply)];
    const ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR) return false;  // ECONNRESET after a crash is not an exit
  }
}

}  // namespace kreplay
