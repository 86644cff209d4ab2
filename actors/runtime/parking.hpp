// A thread waiting for work under its owner's lock, woken with one futex
// call, and with none when it is awake. std::condition_variable costs more
// on every wake: glibc's waiter takes the mutex back marked as contended, so
// its next unlock is a futex call that wakes nobody, and its groups can wake
// a waiter only to put it back to sleep. Where a thread switch is the
// dearest thing a create does (a VM), those calls are on its path.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace riposte::actors {

class parking_spot {
public:
  // With the owner's lock held, before deciding to sleep: what to wait on.
  std::uint32_t ticket() const noexcept { return seq_.load(std::memory_order_relaxed); }

  // Without the lock: sleeps unless a wake was marked after `ticket` (then
  // it returns at once). It may also return for no reason: callers look
  // again under the lock. It counts itself in the kernel first, so a wake
  // marked after it looked is sent; one marked before, it sees here and
  // never makes the call (a syscall the kernel would answer EAGAIN).
  void wait(std::uint32_t ticket) noexcept {
    waiting_.fetch_add(1, std::memory_order_seq_cst);
    if (seq_.load(std::memory_order_seq_cst) == ticket)
      ::syscall(SYS_futex, word(), FUTEX_WAIT_PRIVATE, ticket, nullptr, nullptr, 0);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
  }

  // With the owner's lock held: marks a wake, so that a thread between its
  // ticket and its wait does not sleep; then call wake() without the lock.
  void mark() noexcept { seq_.fetch_add(1, std::memory_order_seq_cst); }

  // A futex call only when a thread may be in the kernel: one between its
  // ticket and its wait sees the mark instead (the seq_cst pair in wait()
  // and here: either this sees it counted, or it sees the mark).
  void wake(int threads = 1) noexcept {
    if (waiting_.load(std::memory_order_seq_cst) > 0)
      ::syscall(SYS_futex, word(), FUTEX_WAKE_PRIVATE, threads, nullptr, nullptr, 0);
  }

private:
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
  std::uint32_t* word() noexcept { return reinterpret_cast<std::uint32_t*>(&seq_); }

  std::atomic<std::uint32_t> seq_{0};
  std::atomic<int> waiting_{0}; // threads in wait(), in the kernel or about to be
};

} // namespace riposte::actors
