import { jsonTooDeep } from '../lib/json-depth.ts'
import { tooDeep, tooLarge } from '../plugins/body-guard.ts'
import type { UploadPart } from './receive-upload.ts'

/** The limits a JSON body has (JOBCAST_MAX_INPUT_BYTES, JOBCAST_MAX_JSON_DEPTH), which a multipart JSON field gets too. */
export interface FieldLimits {
  maxInputBytes: number
  maxJsonDepth: number
}

/** The multipart fields that carry JSON. */
const JSON_FIELDS: ReadonlySet<string> = new Set(['input', 'notify'])

/**
 * The parts of a multipart start with its JSON fields (`input`, `notify`) under the limits of a JSON body: a field
 * cut at the size limit is a 413 INPUT_TOO_LARGE, one nested too deep a 400 INPUT_TOO_DEEP, found before it is
 * parsed. The parser's `fieldSize` must be `maxInputBytes` for the size check to mean that limit.
 */
export async function * checkedFields (this: void, parts: AsyncIterable<UploadPart>, limits: FieldLimits): AsyncIterable<UploadPart> {
  for await (const part of parts) {
    if (part.type === 'field' && JSON_FIELDS.has(part.fieldname)) {
      if (part.valueTruncated === true) throw tooLarge(limits.maxInputBytes)
      if (jsonTooDeep(String(part.value), limits.maxJsonDepth)) throw tooDeep(limits.maxJsonDepth)
    }
    yield part
  }
}
