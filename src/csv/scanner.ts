// Byte-level RFC 4180 row scanner: finds field boundaries in a Buffer without creating strings.

/** Byte value of `"`. */
export const QUOTE = 0x22
/** Byte value of `\n`. */
export const LF = 0x0a
/** Byte value of `\r`. */
export const CR = 0x0d

/** Field flag: plain unquoted field. */
export const FIELD_PLAIN = 0
/** Field flag: quoted field whose content has no doubled quotes. */
export const FIELD_QUOTED = 1
/** Field flag: quoted field containing `""` escapes (content must be unescaped). */
export const FIELD_ESCAPED = 2

/** Row status: well-formed quoting. */
export const ROW_OK = 0
/** Row status: a closing quote followed by something other than a delimiter or line end. */
export const ROW_BAD_QUOTE = 1
/** Row status: a quote that is never closed before the end of the file. */
export const ROW_UNTERMINATED = 2

/** Scans one CSV row at a time; field boundaries of the last row are left in its public arrays. */
export class RowScanner {
  /** Delimiter byte. */
  readonly delim: number
  /** Number of fields found in the last row (may exceed the stored capacity). */
  count = 0
  /** Content start of each field (after an opening quote). */
  starts: Int32Array
  /** Content end of each field (before a closing quote / CR). */
  ends: Int32Array
  /** FIELD_PLAIN, FIELD_QUOTED or FIELD_ESCAPED for each field. */
  flags: Uint8Array
  /** ROW_OK, ROW_BAD_QUOTE or ROW_UNTERMINATED for the last row. */
  status = ROW_OK
  /** Line feeds consumed by the last row (its terminator and quoted newlines). */
  newlines = 0

  constructor (delim: number, capacity = 64) {
    this.delim = delim
    this.starts = new Int32Array(capacity)
    this.ends = new Int32Array(capacity)
    this.flags = new Uint8Array(capacity)
  }

  #push (start: number, end: number, flag: number): void {
    const n = this.count
    if (n === this.starts.length) {
      const cap = n * 2
      const s = new Int32Array(cap); s.set(this.starts); this.starts = s
      const e = new Int32Array(cap); e.set(this.ends); this.ends = e
      const f = new Uint8Array(cap); f.set(this.flags); this.flags = f
    }
    this.starts[n] = start
    this.ends[n] = end
    this.flags[n] = flag
    this.count = n + 1
  }

  /**
   * Scans the row starting at `p` in `b[0, end)`. Returns the offset just past the row's line
   * terminator (or `end` at end of file), or -1 when the row is cut off and `eof` is false.
   */
  scan (b: Buffer, p: number, end: number, eof: boolean): number {
    const d = this.delim
    // Bytes above both the delimiter and LF end no plain field: one comparison for most bytes.
    const hi = d > LF ? d : LF
    this.count = 0
    this.status = ROW_OK
    let nl = 0
    if (p >= end) return eof ? end : -1
    for (;;) {
      if (b[p] === QUOTE) {
        const qs = p + 1
        let q = qs
        let flag = FIELD_QUOTED
        for (;;) {
          while (q < end) {
            const c = b[q]
            if (c === QUOTE) break
            if (c === LF) nl++
            q++
          }
          if (q >= end) {
            if (!eof) return -1
            this.status = ROW_UNTERMINATED
            this.#push(qs, end, flag)
            this.newlines = nl
            return end
          }
          if (q + 1 < end && b[q + 1] === QUOTE) { flag = FIELD_ESCAPED; q += 2; continue }
          if (q + 1 >= end && !eof) return -1
          break
        }
        this.#push(qs, q, flag)
        p = q + 1
        if (p >= end) { this.newlines = nl; return end }
        let c = b[p]
        if (c === d) { p++; continue }
        if (c === CR && p + 1 < end && b[p + 1] === LF) { p++; c = LF }
        if (c === LF) { this.newlines = nl + 1; return p + 1 }
        if (c === CR && p + 1 >= end) { if (!eof) return -1; this.newlines = nl; return end }
        // Text after a closing quote: broken quoting. Skip to the next delimiter or line end.
        this.status = ROW_BAD_QUOTE
        while (p < end) {
          c = b[p]
          if (c === d || c === LF) break
          p++
        }
        if (p >= end) { if (!eof) return -1; this.newlines = nl; return end }
        if (c === d) { p++; continue }
        this.newlines = nl + 1
        return p + 1
      }
      const s = p
      let c = 0
      while (p < end) {
        c = b[p]!
        if (c <= hi && (c === d || c === LF)) break
        p++
      }
      if (p >= end) {
        if (!eof) return -1
        this.#push(s, b[end - 1] === CR && end - 1 >= s ? end - 1 : end, FIELD_PLAIN)
        this.newlines = nl
        return end
      }
      if (c === d) {
        this.#push(s, p, FIELD_PLAIN)
        p++
        if (p >= end) {
          if (!eof) return -1
          this.#push(p, p, FIELD_PLAIN)
          this.newlines = nl
          return end
        }
        continue
      }
      this.#push(s, p > s && b[p - 1] === CR ? p - 1 : p, FIELD_PLAIN)
      this.newlines = nl + 1
      return p + 1
    }
  }
}

/** Offset just past the first line feed at or after `p` in `b[0, end)`, or `end` if none. */
export function skipLine (b: Buffer, p: number, end: number): number {
  const i = b.indexOf(LF, p)
  return i < 0 || i >= end ? end : i + 1
}

/** Copies the content of an escaped quoted field into `out` with `""` collapsed; returns its length. */
export function unescapeInto (b: Buffer, s: number, e: number, out: Buffer): number {
  let o = 0
  for (let i = s; i < e; i++) {
    const c = b[i]!
    out[o++] = c
    if (c === QUOTE) i++
  }
  return o
}
