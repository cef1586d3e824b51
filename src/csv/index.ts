// Public API of the CSV profiling engine.

export { CsvError, CsvErrorCode, type CsvErrorCodeValue } from './errors.ts'
export { sniffCsv, sniffBuffer, type CsvPreview, type CsvDelimiter } from './sniff.ts'
export { profileCsv, defaultDistinctCap, type CsvProfile, type ProfileOptions, type ProfileProgress } from './profile.ts'
export type { ProfileCheckpoint } from './checkpoint.ts'
export type { ColumnProfile, TopValue } from './finalize.ts'
export type { ColumnType } from './infer.ts'
export { MALFORMED_LINES } from './row-processor.ts'
export type { CsvEncoding } from './text.ts'
export { writeProfileParquet, type ParquetOutput } from './parquet.ts'
export { profileCsvParallel, type ParallelProfileOptions, type ParallelProgress } from './parallel-profile.ts'
export { checkpointBytes, type ParallelCheckpoint } from './parallel-checkpoint.ts'
export { CsvWorkerPool, defaultCsvWorkerPool, writeProfileParquetOn, type CsvWorkerPoolOptions } from './worker-pool.ts'
