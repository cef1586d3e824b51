/**
 * Whether JSON text nests arrays and objects deeper than `max`. A scan of the text, without recursion, so that
 * 100,000 brackets cost a loop, not a stack overflow; run before JSON.parse ever sees the text.
 */
export function jsonTooDeep (text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}
