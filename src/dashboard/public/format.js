// How numbers, times and results read on the page.

const number = new Intl.NumberFormat('en-US')

/** 1536 → "1.5 KiB". */
export function formatBytes (bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++ }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** An ETA in ms → "about 3 min left". */
export function formatEta (ms) {
  if (ms == null || !Number.isFinite(ms) || ms <= 0) return ''
  const s = Math.round(ms / 1000)
  if (s < 60) return `about ${Math.max(1, s)} s left`
  if (s < 3600) return `about ${Math.round(s / 60)} min left`
  return `about ${(s / 3600).toFixed(1)} h left`
}

/** An ISO time → a short local time (date too when not today). */
export function formatTime (iso) {
  if (iso == null) return ''
  const date = new Date(iso)
  const today = new Date().toDateString() === date.toDateString()
  return today ? date.toLocaleTimeString() : date.toLocaleString()
}

/** The percent a job's bar shows: 100 once completed; while unfinished, undefined (an indeterminate bar) if unknown. */
export function percentOf (job) {
  if (job.state === 'completed') return 100
  const percent = job.progress?.percent
  if (percent != null) return percent
  return job.state === 'queued' || job.state === 'running' ? undefined : 0
}

const show = (value) => typeof value === 'number' ? number.format(value) : String(value)

/** Up to 8 `[label, value]` pairs summing up a result: its `summary` object if it has one, else its plain fields. */
export function summaryOf (result) {
  if (result == null) return []
  if (typeof result !== 'object') return [['result', show(result)]]
  const source = result.summary !== null && typeof result.summary === 'object' ? result.summary : result
  return Object.entries(source)
    .filter(([, value]) => value === null || ['string', 'number', 'boolean'].includes(typeof value))
    .slice(0, 8)
    .map(([key, value]) => [key, value === null ? '—' : show(value)])
}
