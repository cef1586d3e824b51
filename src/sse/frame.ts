/** One SSE event as written on the wire; `data` must be one line (JSON is). */
export function sseFrame (event: string, id: string, data: string): string {
  return `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`
}

/** The reconnection hint: base plus random jitter, so that clients dropped together do not return together. */
export function retryFrame (baseMs: number, jitterMs: number, random = Math.random): string {
  return `retry: ${baseMs + Math.floor(random() * jitterMs)}\n\n`
}
