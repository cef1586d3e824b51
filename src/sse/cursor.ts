/** A position in a user's event stream: the server's boot epoch and a sequence number. */
export interface Cursor {
  epoch: string
  seq: number
}

/** The `id:` of an SSE event: `<epoch>-<seq>`. */
export function formatCursor (cursor: Cursor): string {
  return `${cursor.epoch}-${cursor.seq}`
}

/** Parses an `id:`/Last-Event-ID; undefined when it is not one of ours. */
export function parseCursor (text: string | undefined | null): Cursor | undefined {
  if (text == null) return undefined
  const match = /^([a-z0-9]{1,16})-(\d{1,15})$/.exec(text.trim())
  if (match === null) return undefined
  return { epoch: match[1]!, seq: Number(match[2]) }
}
