// Tiny real documents made in the test: PDF (plain and with an object stream), PNG, JPEG.

import { crc32, deflateSync } from 'node:zlib'

/** A PDF with `pages` pages, with a valid cross-reference table; `objectStream` packs the page tree in a compressed object stream. */
export function pdfDocument (pages: number, options: { objectStream?: boolean } = {}): Buffer {
  const kids = Array.from({ length: pages }, (_, i) => `${3 + i} 0 R`).join(' ')
  const pageTree = `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`
  const page = '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>'
  const parts: string[] = ['%PDF-1.7\n%\xe2\xe3\xcf\xd3\n']
  const offsets: number[] = []
  const obj = (n: number, body: string): void => {
    offsets[n] = Buffer.byteLength(parts.join(''), 'latin1')
    parts.push(`${n} 0 obj\n${body}\nendobj\n`)
  }
  obj(1, '<< /Type /Catalog /Pages 2 0 R >>')
  if (options.objectStream === true) {
    const inner = [pageTree, ...Array.from({ length: pages }, () => page)]
    let at = 0
    const header: string[] = []
    for (const [i, body] of inner.entries()) { header.push(`${2 + i} ${at}`); at += body.length + 1 }
    const head = header.join(' ') + '\n'
    const packed = deflateSync(Buffer.from(head + inner.join('\n') + '\n', 'latin1'))
    const n = 3 + pages
    offsets[n] = Buffer.byteLength(parts.join(''), 'latin1')
    parts.push(`${n} 0 obj\n<< /Type /ObjStm /N ${inner.length} /First ${head.length} /Filter /FlateDecode /Length ${packed.length} >>\nstream\n${packed.toString('latin1')}\nendstream\nendobj\n`)
  } else {
    obj(2, pageTree)
    for (let i = 0; i < pages; i++) obj(3 + i, page)
  }
  const xrefAt = Buffer.byteLength(parts.join(''), 'latin1')
  const entries = offsets.slice(1).map((o) => `${String(o ?? 0).padStart(10, '0')} 00000 n \n`)
  parts.push(`xref\n0 ${entries.length + 1}\n0000000000 65535 f \n${entries.join('')}trailer\n<< /Size ${entries.length + 1} /Root 1 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`)
  return Buffer.from(parts.join(''), 'latin1')
}

/** A valid PNG of `width` × `height` grey pixels. */
export function pngImage (width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 0 // greyscale
  const raw = Buffer.alloc((width + 1) * height, 0x80)
  for (let y = 0; y < height; y++) raw[y * (width + 1)] = 0 // filter: none
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

/** A baseline JPEG header of `width` × `height` after an APP1 (EXIF-like) segment of `exifBytes` (so the frame can lie past the first read). */
export function jpegImage (width: number, height: number, options: { exifBytes?: number } = {}): Buffer {
  const segment = (marker: number, data: Buffer): Buffer => {
    const head = Buffer.from([0xff, marker, 0, 0])
    head.writeUInt16BE(data.length + 2, 2)
    return Buffer.concat([head, data])
  }
  const app0 = Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1')
  const exif = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), Buffer.alloc(Math.min(options.exifBytes ?? 100, 65_000))])
  const dqt = Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 1)])
  const sof = Buffer.alloc(15)
  sof[0] = 8
  sof.writeUInt16BE(height, 1)
  sof.writeUInt16BE(width, 3)
  sof[5] = 3
  sof.set([1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0], 6)
  const exifSegments: Buffer[] = []
  for (let left = options.exifBytes ?? 100; left > 0; left -= 65_000) exifSegments.push(segment(0xe1, exif.subarray(0, Math.min(exif.length, left + 6))))
  return Buffer.concat([Buffer.from([0xff, 0xd8]), segment(0xe0, app0), ...exifSegments, segment(0xdb, dqt), segment(0xc0, sof), Buffer.from([0xff, 0xda, 0, 2, 0xff, 0xd9])])
}
