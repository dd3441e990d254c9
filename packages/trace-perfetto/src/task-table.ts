/**
 * What a Perfetto trace says about each thread: its comm and thread group.
 * FtraceEvent carries only the thread id, so a record's comm and pid come from
 * this table, as it stands before the record. The reader updates it from
 * ProcessTree packets, sched/task events and compact_sched; the writer keeps
 * the same table to know when it must state a thread's comm or tgid (in a
 * ProcessTree packet) for the reader to give the text's records back.
 */

/** tids below this live in typed arrays; larger ones (rare) in a Map. */
const DENSE_LIMIT = 1 << 23;

export class TaskTable {
  /** comm string id + 1 (0: unknown), by tid. */
  private comm = new Int32Array(4096);
  /** tgid + 1 (0: unknown), by tid. */
  private tgid = new Int32Array(4096);
  private readonly sparse = new Map<number, { comm: number; tgid: number }>();

  /** The comm string id of `tid`, or -1. */
  commOf(tid: number): number {
    if (tid >= 0 && tid < this.comm.length) return this.comm[tid]! - 1;
    if (tid >= 0 && tid < DENSE_LIMIT) return -1;
    return this.sparse.get(tid)?.comm ?? -1;
  }

  /** The thread group id of `tid`, or -1. */
  tgidOf(tid: number): number {
    if (tid >= 0 && tid < this.tgid.length) return this.tgid[tid]! - 1;
    if (tid >= 0 && tid < DENSE_LIMIT) return -1;
    return this.sparse.get(tid)?.tgid ?? -1;
  }

  setComm(tid: number, comm: number): void {
    if (tid >= 0 && tid < DENSE_LIMIT) {
      if (tid >= this.comm.length) this.grow(tid);
      this.comm[tid] = comm + 1;
    } else {
      this.entry(tid).comm = comm;
    }
  }

  /** Set (tgid >= 0) or forget (tgid < 0) the thread group of `tid`. */
  setTgid(tid: number, tgid: number): void {
    const value = tgid < 0 ? -1 : tgid;
    if (tid >= 0 && tid < DENSE_LIMIT) {
      if (tid >= this.tgid.length) this.grow(tid);
      this.tgid[tid] = value + 1;
    } else {
      this.entry(tid).tgid = value;
    }
  }

  private entry(tid: number): { comm: number; tgid: number } {
    let e = this.sparse.get(tid);
    if (e === undefined) {
      e = { comm: -1, tgid: -1 };
      this.sparse.set(tid, e);
    }
    return e;
  }

  private grow(tid: number): void {
    let size = this.comm.length;
    while (size <= tid) size *= 2;
    const comm = new Int32Array(Math.min(size, DENSE_LIMIT));
    comm.set(this.comm);
    this.comm = comm;
    const tgid = new Int32Array(comm.length);
    tgid.set(this.tgid);
    this.tgid = tgid;
  }
}

/** CLONE_THREAD (include/uapi/linux/sched.h): the new task joins the parent's thread group. */
export const CLONE_THREAD = 0x10000;

const TASK_COMM_BYTES = 15;

/**
 * The comm a task gets from exec(filename): its last path component cut to
 * 15 bytes (begin_new_exec: __set_task_comm(me, kbasename(bprm->filename))).
 */
export function commAfterExec(filename: string): string {
  const base = filename.slice(filename.lastIndexOf('/') + 1);
  const bytes = Buffer.from(base, 'utf8');
  return bytes.length <= TASK_COMM_BYTES ? base : bytes.subarray(0, TASK_COMM_BYTES).toString('utf8');
}

/** Interns strings into a shared `string[]` (a RawBatch's `strings`). */
export class StringTable {
  private readonly ids = new Map<string, number>();
  constructor(readonly strings: string[]) {
    for (let i = 0; i < strings.length; i++) if (!this.ids.has(strings[i]!)) this.ids.set(strings[i]!, i);
  }
  intern(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
}
