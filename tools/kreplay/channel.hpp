// The command channel between the controller and each worker process: one SOCK_SEQPACKET
// socketpair per worker, fixed-size messages (a packet is a message, so no framing), and a
// file descriptor riding along with `fork` (SCM_RIGHTS) so that the new child gets its own
// channel without the controller having to be its parent.
#pragma once

#include <cstdint>
#include <string>

namespace kreplay {

enum class cmd_kind : std::uint32_t { run_op = 1, fork = 2, exit = 3 };

struct command {
  cmd_kind kind = cmd_kind::run_op;
  std::uint32_t op_index = 0;
  /// Random-pattern draws the whole run has made before this op: every process replays the
  /// same std::mt19937_64 stream as mmsim's single replayer (sim/replay.cpp do_access).
  std::uint64_t rng_draws = 0;
  /// Host CPU to run the op on (the trace's CPU mapped onto the host's), -1: stay.
  std::int32_t cpu = -1;
};

struct reply {
  std::uint32_t ready = 0;  // 1 in the greeting a new worker sends
  std::int32_t err = 0;     // errno of the op's syscall, 0 on success
  std::int32_t sig = 0;     // signal that ended an access, 0 if none
  std::uint64_t sig_addr = 0;
  std::uint64_t minflt = 0;  // minor faults inside the op's measured window
  std::uint64_t draws = 0;   // random-pattern draws this op made
  std::int32_t child_pid = 0;
  char problem[240] = {};  // the worker could not do what was asked (never a Linux result)
};

/// Sends `c`, with `fd` attached when fd >= 0. False if the peer is gone.
bool send_command(int sock, const command& c, int fd = -1);
/// Blocks for the next command; a received descriptor lands in *fd (else -1).
/// False on EOF (the controller is gone).
bool recv_command(int sock, command& c, int* fd);
bool send_reply(int sock, const reply& r);

enum class recv_status { ok, eof, timeout, error };
/// Waits up to timeout_ms for a reply.
recv_status recv_reply(int sock, reply& r, int timeout_ms);
/// Waits up to timeout_ms for the peer to close its end (a worker's exit). True on EOF.
bool wait_eof(int sock, int timeout_ms);

}  // namespace kreplay
