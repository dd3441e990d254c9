/**
 * Our .proto subset of Perfetto's trace processor RPC schema
 * (../proto/trace_processor.proto), loaded once with protobufjs.
 */

import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export interface TpSchema {
  readonly root: protobuf.Root;
  readonly rpcStream: protobuf.Type;
  readonly rpc: protobuf.Type;
  readonly queryArgs: protobuf.Type;
  readonly queryResult: protobuf.Type;
  readonly cellsBatch: protobuf.Type;
  readonly statusResult: protobuf.Type;
}

/** QueryResult.CellsBatch.CellType */
export const CellType = {
  invalid: 0,
  null: 1,
  varint: 2,
  float64: 3,
  string: 4,
  blob: 5,
} as const;

/** TraceProcessorRpc.TraceProcessorMethod */
export const TpMethod = {
  queryStreaming: 3,
} as const;

let cached: TpSchema | undefined;

export function loadTpSchema(): TpSchema {
  if (cached) return cached;
  const file = fileURLToPath(new URL('../proto/trace_processor.proto', import.meta.url));
  const root = new protobuf.Root().loadSync(file, { keepCase: true });
  root.resolveAll();
  cached = {
    root,
    rpcStream: root.lookupType('tierlab.tp.TraceProcessorRpcStream'),
    rpc: root.lookupType('tierlab.tp.TraceProcessorRpc'),
    queryArgs: root.lookupType('tierlab.tp.QueryArgs'),
    queryResult: root.lookupType('tierlab.tp.QueryResult'),
    cellsBatch: root.lookupType('tierlab.tp.QueryResult.CellsBatch'),
    statusResult: root.lookupType('tierlab.tp.StatusResult'),
  };
  return cached;
}
