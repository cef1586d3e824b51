/** Bytes of the reused buffer: text is handed on a megabyte at a time. */
const SINK_BYTES = 1 << 20

/**
 * Writes text as UTF-8 into one reused buffer and hands each full one to `flush` (a view, valid during the call):
 * a large text written piece by piece is never one string, and each piece dies young. Text gathered into megabyte
 * strings lived long enough to be promoted to the old generation, where it waited for a full collection.
 */
export class Utf8Sink {
  readonly #out = Buffer.allocUnsafeSlow(SINK_BYTES)
  readonly #flush: (bytes: Uint8Array) => void
  #used = 0

  constructor (flush: (bytes: Uint8Array) => void) {
    this.#flush = flush
  }

  /** Appends `text`. */
  write (text: string): void {
    // At most 3 bytes per UTF-16 code unit.
    if (this.#used + text.length * 3 > this.#out.length) this.end()
    if (text.length * 3 > this.#out.length) { this.#flush(Buffer.from(text)); return }
    this.#used += this.#out.write(text, this.#used)
  }

  /** Hands on what is gathered. */
  end (): void {
    if (this.#used > 0) this.#flush(this.#out.subarray(0, this.#used))
    this.#used = 0
  }
}

/**
 * The JSON text of `values` as an array, written an element at a time, in pieces of about a megabyte: no string of the
 * whole array, and no copy of its bytes into one buffer. Each piece has a buffer of its own (never a pool's slice), so
 * it can be transferred to another thread.
 */
export function jsonArrayBytes (values: readonly unknown[]): Uint8Array[] {
  const chunks: Uint8Array[] = []
  const sink = new Utf8Sink((bytes) => { chunks.push(new Uint8Array(bytes)) })
  sink.write('[')
  for (let i = 0; i < values.length; i++) sink.write((i === 0 ? '' : ',') + JSON.stringify(values[i] ?? null))
  sink.write(']')
  sink.end()
  return chunks
}
