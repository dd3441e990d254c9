/**
 * Task names as `trace-cmd report` prints them: from the saved_cmdlines
 * kept in the file (libtraceevent's find_cmdline), `<idle>` for pid 0 and
 * `<...>` for a pid it has no name for. As in libtraceevent's
 * sched_switch/sched_wakeup plugin, those events add names for pids not yet
 * known, for the records after them.
 */

/** saved_cmdlines text → pid → comm. Like tep_parse_saved_cmdlines, it stops at the first malformed line; the first name of a pid wins. */
export function parseSavedCmdlines(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    // sscanf("%d %m[^\n]s"): a number, blanks, then the rest of the line (at least one character).
    const m = /^\s*([+-]?\d+)\s*(\S[^\n]*)$/.exec(line);
    if (m === null) break;
    const pid = Number(m[1]);
    if (!names.has(pid)) names.set(pid, m[2]!);
  }
  return names;
}

export class CommTable {
  /** pid → string id + 1 (0: not resolved yet). */
  private idByPid = new Int32Array(1 << 16);
  private readonly names: Map<number, string>;

  constructor(
    names: Map<number, string>,
    private readonly intern: (s: string) => number,
  ) {
    this.names = names;
  }

  /** The interned comm of `pid`. */
  idOf(pid: number): number {
    if (pid >= 0 && pid < this.idByPid.length) {
      const cached = this.idByPid[pid]!;
      if (cached !== 0) return cached - 1;
    }
    return this.resolve(pid);
  }

  /** tep_register_comm: name `pid` unless it has a name already. */
  register(pid: number, comm: string): void {
    if (pid === 0 || this.names.has(pid)) return;
    this.names.set(pid, comm);
    if (pid > 0 && pid < this.idByPid.length) this.idByPid[pid] = 0;
  }

  private resolve(pid: number): number {
    const name = pid === 0 ? '<idle>' : (this.names.get(pid) ?? '<...>');
    const id = this.intern(name);
    if (pid >= 0 && pid < 1 << 26) {
      if (pid >= this.idByPid.length) {
        let size = this.idByPid.length;
        while (size <= pid) size *= 2;
        const grown = new Int32Array(size);
        grown.set(this.idByPid);
        this.idByPid = grown;
      }
      this.idByPid[pid] = id + 1;
    }
    return id;
  }
}
