/**
 * The comm of every thread, as `perf script` tracks it (tools/perf/util/
 * machine.c and thread.c): a thread is keyed by tid; a new one is named
 * `:TID` until a PERF_RECORD_COMM names it; PERF_RECORD_FORK replaces the
 * child thread and copies the parent's comm when the parent had one set;
 * tid 0 is `swapper` (machine__idle_thread). Typed arrays indexed by tid.
 */

const NO_THREAD = -2;
/** The thread still has its `:TID` name. */
const DEFAULT_COMM = -1;

export class ThreadTable {
  /** Per tid: the thread's pid (NO_THREAD when there is no thread). */
  private pid = new Int32Array(1 << 16).fill(NO_THREAD);
  /** Per tid: local comm id, or DEFAULT_COMM. */
  private comm = new Int32Array(1 << 16);
  /** Local comm id -> id in the output string table (-1 until first printed). */
  private commOut = new Int32Array(256).fill(-1);
  private readonly commNames: string[] = [];
  private readonly commIds = new Map<string, number>();
  /** Output string id of `:TID` names, per tid (-1 until printed). */
  private defaultOut = new Int32Array(1 << 16).fill(-1);

  constructor(private readonly intern: (s: string) => number) {
    this.findnew(0, 0);
    this.setComm(0, 'swapper');
  }

  /**
   * machine__findnew_thread(pid, tid) for a sample or loss record, then the
   * output string id of its comm (interned on first use).
   */
  commOf(pid: number, tid: number): number {
    if (tid < 0) return this.intern(':-1');
    if (tid >= this.pid.length || this.pid[tid] === NO_THREAD) this.findnew(pid, tid);
    else if (this.pid[tid] === -1 && pid !== -1) this.pid[tid] = pid;
    const local = this.comm[tid]!;
    if (local === DEFAULT_COMM) {
      let out = this.defaultOut[tid]!;
      if (out < 0) {
        out = this.intern(`:${tid}`);
        this.defaultOut[tid] = out;
      }
      return out;
    }
    let out = this.commOut[local]!;
    if (out < 0) {
      out = this.intern(this.commNames[local]!);
      this.commOut[local] = out;
    }
    return out;
  }

  /** PERF_RECORD_COMM (machine__process_comm_event). */
  processComm(pid: number, tid: number, comm: string): void {
    if (tid < 0) return;
    this.findnew(pid, tid);
    this.setComm(tid, comm);
  }

  /** PERF_RECORD_FORK (machine__process_fork_event): the child thread is made anew. */
  processFork(pid: number, tid: number, ppid: number, ptid: number): void {
    if (tid < 0 || ptid < 0) return;
    this.findnew(ppid, ptid);
    if (this.pid[ptid] !== ppid) {
      // "removing erroneous parent thread": made anew, with no comm.
      this.create(ppid, ptid);
    }
    const parentComm = this.comm[ptid]!;
    this.create(pid, tid);
    if (parentComm !== DEFAULT_COMM) this.comm[tid] = parentComm;
  }

  /** The comm string for local id `local` (tests and diagnostics). */
  private setComm(tid: number, comm: string): void {
    // perf script prints comm in a right-aligned column that the text reader trims.
    const name = trimSpaces(comm);
    let local = this.commIds.get(name);
    if (local === undefined) {
      local = this.commNames.length;
      this.commNames.push(name);
      this.commIds.set(name, local);
      if (local >= this.commOut.length) {
        const grown = new Int32Array(this.commOut.length * 2).fill(-1);
        grown.set(this.commOut);
        this.commOut = grown;
      }
    }
    this.comm[tid] = local;
  }

  private findnew(pid: number, tid: number): void {
    if (tid >= this.pid.length) this.grow(tid);
    const known = this.pid[tid]!;
    if (known === NO_THREAD) this.create(pid, tid);
    else if (known === -1 && pid !== -1) this.pid[tid] = pid;
  }

  private create(pid: number, tid: number): void {
    if (tid >= this.pid.length) this.grow(tid);
    this.pid[tid] = pid;
    this.comm[tid] = DEFAULT_COMM;
  }

  private grow(tid: number): void {
    let size = this.pid.length;
    while (size <= tid) size *= 2;
    const pid = new Int32Array(size).fill(NO_THREAD);
    pid.set(this.pid);
    const comm = new Int32Array(size);
    comm.set(this.comm);
    const defaultOut = new Int32Array(size).fill(-1);
    defaultOut.set(this.defaultOut);
    this.pid = pid;
    this.comm = comm;
    this.defaultOut = defaultOut;
  }
}

function trimSpaces(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) === 32) start++;
  while (end > start && s.charCodeAt(end - 1) === 32) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}
