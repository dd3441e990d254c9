/**
 * A sweep worker thread: replays the cells the main thread sends, one at a
 * time, and sends back each result as the text `tierlab replay --json`
 * writes. It writes no file; the main thread does (atomically).
 */

import { parentPort } from 'node:worker_threads';
import { isTierlabError } from '@tierlab/memory-tier-api';
import { type PolicyRequest, replay } from '@tierlab/replay';
import type { CellTask } from './plan.js';
import { builtinPolicies } from './policies.js';

/** Main thread to worker. */
export interface WorkerRequest {
  readonly id: number;
  readonly task: CellTask;
}

/** Worker to main thread. */
export type WorkerReply =
  | { readonly type: 'progress'; readonly id: number; readonly phase: 'footprint' | 'replay'; readonly records: number }
  | { readonly type: 'done'; readonly id: number; readonly text: string }
  | { readonly type: 'failed'; readonly id: number; readonly error: { readonly code: string; readonly message: string } };

const port = parentPort;
if (port === null) throw new TypeError('@tierlab/sweep worker.js runs in a worker thread started by runSweep()');

port.on('message', (request: WorkerRequest) => {
  run(request).then(
    (reply) => port.postMessage(reply),
    (error: unknown) => port.postMessage(failed(request.id, error)),
  );
});

async function run({ id, task }: WorkerRequest): Promise<WorkerReply> {
  const policies: PolicyRequest[] = task.policies.map(({ name, options }) => {
    const factory = builtinPolicies.get(name);
    if (factory === undefined) throw new TypeError(`policy '${name}' is not a sweep policy (the main thread checks names)`);
    return { factory, options };
  });
  const result = await replay({
    trace: task.trace,
    machine: task.machine,
    policies,
    seed: task.seed,
    intervalMs: task.intervalMs,
    ...(task.pids.length > 0 ? { pids: task.pids } : {}),
    ...(task.comms.length > 0 ? { comms: task.comms } : {}),
    ...(task.overlay !== null ? { overlay: task.overlay } : {}),
    onProgress: (p) => port!.postMessage({ type: 'progress', id, phase: p.phase, records: p.records } satisfies WorkerReply),
  });
  return { type: 'done', id, text: `${JSON.stringify(result, null, 2)}\n` };
}

function failed(id: number, error: unknown): WorkerReply {
  if (isTierlabError(error)) return { type: 'failed', id, error: { code: error.code, message: error.message } };
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { type: 'failed', id, error: { code: 'INTERNAL', message } };
}
