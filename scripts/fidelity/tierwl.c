/*
 * tierwl: a deterministic workload for the tiering fidelity lab.
 *
 * It touches anonymous memory in a pattern fixed by its arguments, and logs
 * every phase to the kernel's trace (trace_marker), so the accesses the
 * replay sees are the workload's, not the kernel policy's:
 *
 *   tierwl HOT_MB COLD_MB SECONDS [SHIFT_AT_S [PASS_MS]]
 *
 *   1. map HOT_MB and write every page once (the hot set, touched first, so
 *      it is the oldest memory when the node fills);
 *   2. map COLD_MB and write every page once (the cold set);
 *   3. for SECONDS of wall time, read and write one word of every page of
 *      the hot set, pass after pass, in address order. With SHIFT_AT_S, the
 *      hot set moves after that many seconds to the first HOT_MB of the cold
 *      set (a shifting working set: the old one goes cold). SHIFT_AT_S < 0:
 *      no shift. With PASS_MS > 0, a pass that ends early sleeps out the rest
 *      of PASS_MS (a paced workload).
 *   4. write TIERWL_DONE's file (if set) and stop itself (SIGSTOP), so the
 *      lab reads the kernel's counters while the memory is still held; exit
 *      on SIGCONT.
 *
 * Markers (one line each in the trace, written to trace_marker):
 *   tierwl map name=hot start=0x7f.. len=BYTES
 *   tierwl phase=touch-hot | touch-cold | loop | shift
 *   tierwl sweep start=0x7f.. len=BYTES     (a pass begins: one write per page, in address order)
 *   tierwl swept pass=N                      (the pass's last page is written)
 *   tierwl done passes=N
 * The replay takes the sweeps' accesses from these markers (packages/fidelity).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int marker = -1;

static void mark(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (marker >= 0 && n > 0) {
    if (write(marker, buf, (size_t)n) < 0) perror("trace_marker");
  }
  fprintf(stderr, "%s\n", buf);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *map_region(const char *name, size_t bytes) {
  char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  /* 4 KiB pages only: the lab compares base-page counters. */
  madvise(p, bytes, MADV_NOHUGEPAGE);
  mark("tierwl map name=%s start=0x%lx len=%zu", name, (unsigned long)(uintptr_t)p, bytes);
  return p;
}

static void touch_all(volatile char *p, size_t bytes, unsigned long v) {
  for (size_t off = 0; off < bytes; off += 4096) p[off] = (char)(p[off] + v);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s HOT_MB COLD_MB SECONDS [SHIFT_AT_S]\n", argv[0]);
    return 2;
  }
  size_t hot = (size_t)strtoul(argv[1], NULL, 10) << 20;
  size_t cold = (size_t)strtoul(argv[2], NULL, 10) << 20;
  double secs = strtod(argv[3], NULL);
  double shift_at = argc > 4 ? strtod(argv[4], NULL) : -1;
  double pass_s = argc > 5 ? strtod(argv[5], NULL) / 1000.0 : 0;
  if (shift_at >= 0 && hot > cold) {
    fprintf(stderr, "tierwl: a shift needs COLD_MB >= HOT_MB\n");
    return 2;
  }
  marker = open("/sys/kernel/tracing/trace_marker", O_WRONLY);

  char *h = map_region("hot", hot);
  mark("tierwl phase=touch-hot");
  touch_all(h, hot, 1);
  char *c = map_region("cold", cold);
  mark("tierwl phase=touch-cold");
  touch_all(c, cold, 1);

  mark("tierwl phase=loop seconds=%.0f shift_at=%.0f", secs, shift_at);
  double t0 = now_s();
  char *cur = h;
  unsigned long passes = 0;
  for (;;) {
    double t = now_s() - t0;
    if (t >= secs) break;
    if (shift_at >= 0 && cur == h && t >= shift_at) {
      cur = c;
      mark("tierwl phase=shift start=0x%lx len=%zu", (unsigned long)(uintptr_t)c, hot);
    }
    double p0 = now_s();
    mark("tierwl sweep start=0x%lx len=%zu", (unsigned long)(uintptr_t)cur, hot);
    touch_all(cur, hot, passes);
    passes++;
    mark("tierwl swept pass=%lu", passes);
    double left = pass_s - (now_s() - p0);
    if (left > 0) {
      struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  mark("tierwl done passes=%lu", passes);
  const char *done = getenv("TIERWL_DONE");
  if (done != NULL) {
    int fd = open(done, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
    raise(SIGSTOP);
  }
  return 0;
}
