/* The workspace keeper's only process (see workspace_keeper.h). It keeps its container
 * running, and with it the size-limited tmpfs volume of a job's workspace mounted, until
 * the worker removes the container (SIGKILL). Signals it has no handler for do not reach
 * it: it is PID 1 of its container. No libc: a static binary of a few hundred bytes, for
 * an image built FROM scratch, compiled for the worker's own architecture. */

#if defined(__x86_64__)
#define WA_SYS_PPOLL 271
static inline __attribute__((always_inline)) void sleepUntilSignal(void) {
  long ret = WA_SYS_PPOLL;
  register long r10 __asm__("r10") = 0;
  __asm__ volatile("syscall"
                   : "+a"(ret)
                   : "D"(0L), "S"(0L), "d"(0L), "r"(r10)
                   : "rcx", "r11", "memory");
}
#elif defined(__aarch64__)
#define WA_SYS_PPOLL 73
static inline __attribute__((always_inline)) void sleepUntilSignal(void) {
  register long x8 __asm__("x8") = WA_SYS_PPOLL;
  register long x0 __asm__("x0") = 0;
  register long x1 __asm__("x1") = 0;
  register long x2 __asm__("x2") = 0;
  register long x3 __asm__("x3") = 0;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
}
#else
#error "the workspace keeper knows the system calls of x86_64 and aarch64 only"
#endif

/* ppoll with no descriptors and no timeout returns only when a signal is delivered. */
void _start(void) {
  for (;;) sleepUntilSignal();
}
