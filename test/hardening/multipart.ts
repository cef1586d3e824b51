/** A multipart/form-data body by hand (tests need broken ones too). */
export function multipartBody (boundary: string, parts: Array<{ name: string, value: string, filename?: string, type?: string }>): string {
  return parts.map((p) => [
    `--${boundary}`,
    `Content-Disposition: form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`,
    ...(p.type === undefined ? [] : [`Content-Type: ${p.type}`]),
    '',
    p.value
  ].join('\r\n')).join('\r\n') + `\r\n--${boundary}--\r\n`
}
