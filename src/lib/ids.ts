import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
let lastTime = 0
let lastRandom = new Uint8Array(10)

/** A time-ordered, URL-safe id (ULID layout, lower case): later ids sort after earlier ones, even within a millisecond. */
export function newId (): string {
  const now = Date.now()
  if (now === lastTime) {
    // Same millisecond: increment the random part so ids stay strictly increasing.
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      lastRandom[i] = (lastRandom[i]! + 1) & 0xff
      if (lastRandom[i] !== 0) break
    }
  } else {
    lastTime = now
    lastRandom = randomBytes(10)
  }
  let out = timePart(now)
  // 80 random bits as 16 base-32 characters, 5 bits at a time.
  let bits = 0
  let value = 0
  for (const byte of lastRandom) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return out
}

/** The least id of a millisecond: every id made at `time` or later sorts after it, every earlier one before. */
export function idFloor (time: number): string {
  return timePart(time) + '0'.repeat(16)
}

// The 48-bit millisecond time as 10 base-32 characters.
function timePart (time: number): string {
  let out = ''
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[time % 32] + out
    time = Math.floor(time / 32)
  }
  return out
}

/** A random secret of `bytes` bytes, base64url. */
export function newSecret (bytes = 24): string {
  return randomBytes(bytes).toString('base64url')
}
