// What a batch of CFDIs adds up to: duplicate UUIDs, and totals per emisor RFC and currency, summed exactly.

import type { CfdiFields } from './cfdi.ts'

/** One file of the batch that carried a CFDI. */
export interface CfdiEntry {
  /** Position of the file in the batch. */
  index: number
  name: string
  cfdi: CfdiFields
}

/** A UUID found in more than one file. */
export interface DuplicateUuid {
  uuid: string
  /** Indexes of the files that carry it, in order. */
  indexes: number[]
  names: string[]
}

/** The sum of the invoices of one emisor in one currency. */
export interface CfdiTotal {
  emisorRfc: string
  moneda: string
  invoices: number
  /** Sum of `Total`, as a decimal string with as many decimals as the most precise value summed. */
  total: string
  /** Sum of `SubTotal`, likewise. */
  subtotal: string
}

/** The batch-level view of its CFDIs. */
export interface CfdiSummary {
  invoices: number
  duplicates: DuplicateUuid[]
  totals: CfdiTotal[]
  /** Files whose Total or SubTotal is not a decimal number, left out of the sums. */
  unsummed: number[]
}

/** Flags duplicate UUIDs (compared case-insensitively, as the SAT issues them) and sums per emisor RFC and currency. */
export function summarizeCfdi (entries: readonly CfdiEntry[]): CfdiSummary {
  const byUuid = new Map<string, CfdiEntry[]>()
  const groups = new Map<string, { emisorRfc: string, moneda: string, invoices: number, total: Decimal, subtotal: Decimal }>()
  const unsummed: number[] = []
  for (const entry of entries) {
    const { uuid, emisorRfc, moneda, total, subtotal } = entry.cfdi
    if (uuid !== null) {
      const key = uuid.trim().toUpperCase()
      byUuid.set(key, [...(byUuid.get(key) ?? []), entry])
    }
    const t = parseDecimal(total)
    const s = parseDecimal(subtotal)
    if (t === null || s === null) { unsummed.push(entry.index); continue }
    const rfc = emisorRfc ?? ''
    const currency = moneda ?? ''
    const key = `${rfc}\u0000${currency}`
    const group = groups.get(key) ?? { emisorRfc: rfc, moneda: currency, invoices: 0, total: ZERO, subtotal: ZERO }
    group.invoices++
    group.total = add(group.total, t)
    group.subtotal = add(group.subtotal, s)
    groups.set(key, group)
  }
  const duplicates = [...byUuid.entries()]
    .filter(([, list]) => list.length > 1)
    .map(([uuid, list]) => ({ uuid, indexes: list.map((e) => e.index), names: list.map((e) => e.name) }))
  const totals = [...groups.values()]
    .sort((a, b) => a.emisorRfc.localeCompare(b.emisorRfc) || a.moneda.localeCompare(b.moneda))
    .map((g) => ({ emisorRfc: g.emisorRfc, moneda: g.moneda, invoices: g.invoices, total: format(g.total), subtotal: format(g.subtotal) }))
  return { invoices: entries.length, duplicates, totals, unsummed }
}

// An exact decimal: units × 10^-scale. Money is summed without floating-point drift.
interface Decimal { units: bigint, scale: number }
const ZERO: Decimal = { units: 0n, scale: 0 }

function parseDecimal (value: string | null): Decimal | null {
  const match = value === null ? null : /^\s*(-?)(\d+)(?:\.(\d+))?\s*$/.exec(value)
  if (match === null) return null
  const fraction = match[3] ?? ''
  const units = BigInt(match[2]! + fraction)
  return { units: match[1] === '-' ? -units : units, scale: fraction.length }
}

function add (a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale)
  return { units: a.units * 10n ** BigInt(scale - a.scale) + b.units * 10n ** BigInt(scale - b.scale), scale }
}

function format (d: Decimal): string {
  const negative = d.units < 0n
  const digits = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0')
  const whole = digits.slice(0, digits.length - d.scale)
  const fraction = d.scale > 0 ? `.${digits.slice(digits.length - d.scale)}` : ''
  return `${negative ? '-' : ''}${whole}${fraction}`
}
