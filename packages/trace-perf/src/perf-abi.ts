/**
 * Numbers of the perf.data format: record types, sample_type bits, header
 * features (include/uapi/linux/perf_event.h, tools/perf/util/event.h,
 * tools/perf/util/header.h, tools/perf/Documentation/perf.data-file-format.txt).
 */

/** `PERFILE2` read as a little-endian u64, split in two u32 (low, high). */
export const MAGIC_LO = 0x46524550; // 'PERF'
export const MAGIC_HI = 0x32454c49; // 'ILE2'

/** sizeof(struct perf_file_header) and sizeof(struct perf_pipe_file_header). */
export const FILE_HEADER_SIZE = 104;
export const PIPE_HEADER_SIZE = 16;

/** sizeof(struct perf_event_header). */
export const EVENT_HEADER_SIZE = 8;

/** enum perf_event_type (kernel records) and enum perf_user_event_type (written by perf). */
export const RecordType = {
  mmap: 1,
  lost: 2,
  comm: 3,
  exit: 4,
  throttle: 5,
  unthrottle: 6,
  fork: 7,
  read: 8,
  sample: 9,
  mmap2: 10,
  lostSamples: 13,
  headerAttr: 64,
  headerEventType: 65,
  headerTracingData: 66,
  headerBuildId: 67,
  finishedRound: 68,
  idIndex: 69,
  auxtraceInfo: 70,
  auxtrace: 71,
  headerFeature: 80,
  compressed: 81,
  finishedInit: 82,
  /** PERF_RECORD_COMPRESSED2 (perf 6.15+): a u64 data_size before the zstd bytes. */
  compressed2: 83,
} as const;

/** enum perf_event_sample_format. */
export const Sample = {
  ip: 1 << 0,
  tid: 1 << 1,
  time: 1 << 2,
  addr: 1 << 3,
  read: 1 << 4,
  callchain: 1 << 5,
  id: 1 << 6,
  cpu: 1 << 7,
  period: 1 << 8,
  streamId: 1 << 9,
  raw: 1 << 10,
  identifier: 1 << 16,
} as const;

/** enum perf_event_read_format. */
export const ReadFormat = {
  totalTimeEnabled: 1 << 0,
  totalTimeRunning: 1 << 1,
  id: 1 << 2,
  group: 1 << 3,
  lost: 1 << 4,
} as const;

/** perf_event_attr.type of tracepoints (PERF_TYPE_TRACEPOINT). */
export const PERF_TYPE_TRACEPOINT = 2;

/** Bit of perf_event_attr's flag word: sample_id_all. */
export const ATTR_FLAG_SAMPLE_ID_ALL = 1 << 18;

/** Feature bits of the file header (enum in tools/perf/util/header.h). */
export const Feature = {
  tracingData: 1,
  compressed: 27,
} as const;

