// Which network addresses an outbound request may reach: public unicast only, unless allow-listed.

import ipaddr from 'ipaddr.js'
import { isIP } from 'node:net'
import { PermanentError } from '../errors.ts'

/** Error code of a request refused because its host or an address it resolves to is not public. */
export const ADDRESS_NOT_ALLOWED = 'ADDRESS_NOT_ALLOWED'

/** A refused destination: never retried, the message names the host and the address. */
export class AddressNotAllowedError extends PermanentError {
  constructor (message: string) {
    super(ADDRESS_NOT_ALLOWED, message)
    this.name = 'AddressNotAllowedError'
  }
}

/** Destinations that are reachable even though they are not public (`JOBCAST_ALLOW_PRIVATE_URLS`). */
export interface AllowList {
  /** Host names (lower case, as in the URL) allowed whatever they resolve to. */
  hosts: ReadonlySet<string>
  /** Address ranges allowed. */
  cidrs: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>
}

/** An allow-list that allows nothing. */
export const NO_ALLOW_LIST: AllowList = { hosts: new Set(), cidrs: [] }

/**
 * Parses a comma-separated list of hosts and CIDRs (`localhost,127.0.0.1,10.0.0.0/8,::1/128`).
 * A bare IP is taken as its single-address range. Throws naming the entry that is neither.
 */
export function parseAllowList (value: string): AllowList {
  const hosts = new Set<string>()
  const cidrs: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = []
  for (const raw of value.split(',')) {
    const entry = raw.trim().toLowerCase()
    if (entry === '') continue
    if (entry.includes('/')) {
      try {
        const [addr, bits] = ipaddr.parseCIDR(entry)
        cidrs.push([normalize(addr), addr.kind() === 'ipv6' && normalize(addr).kind() === 'ipv4' ? Math.max(0, bits - 96) : bits])
      } catch {
        throw new Error(`"${raw.trim()}" is not a CIDR range (e.g. 10.0.0.0/8 or fd00::/8)`)
      }
    } else if (isIP(unbracket(entry)) !== 0) {
      const addr = normalize(ipaddr.parse(unbracket(entry)))
      cidrs.push([addr, addr.kind() === 'ipv4' ? 32 : 128])
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
      hosts.add(entry.replace(/\.$/, ''))
    } else {
      throw new Error(`"${raw.trim()}" is neither a host name, an IP address nor a CIDR range`)
    }
  }
  return { hosts, cidrs }
}

/** Whether `address` (an IPv4 or IPv6 literal) is public unicast: not loopback, private, link-local, CGNAT, metadata, reserved… */
export function isPublicAddress (address: string): boolean {
  const parsed = parseAddress(address)
  // Only plain unicast passes: every special range (6to4, NAT64, Teredo… which can embed a private IPv4) is refused.
  return parsed !== undefined && parsed.range() === 'unicast'
}

/** Whether the host name itself is on the allow-list. */
export function isAllowedHost (hostname: string, allow: AllowList): boolean {
  return allow.hosts.has(unbracket(hostname).toLowerCase().replace(/\.$/, ''))
}

/** Throws {@link AddressNotAllowedError} unless `address` is public or in an allowed range. */
export function assertAddressAllowed (hostname: string, address: string, allow: AllowList): void {
  const parsed = parseAddress(address)
  if (parsed === undefined) throw new AddressNotAllowedError(`"${hostname}" resolved to "${address}", which is not an IP address`)
  if (parsed.range() === 'unicast') return
  if (allow.cidrs.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return
  const what = hostname === address ? `the address ${address}` : `"${hostname}" (${address})`
  throw new AddressNotAllowedError(`${what} is ${describeRange(parsed.range())}; it is not reachable unless JOBCAST_ALLOW_PRIVATE_URLS allows it`)
}

/**
 * Checks a URL before any connection: http(s) only, and a literal IP host (decimal, hex and octal forms are
 * normalised by the URL parser) must be allowed. Host names are checked when they resolve, at connect time.
 */
export function assertUrlAllowed (url: URL, allow: AllowList): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AddressNotAllowedError(`${url.protocol} URLs are not fetched (http and https only)`)
  if (url.username !== '' || url.password !== '') throw new AddressNotAllowedError('URLs with credentials are not fetched')
  if (isAllowedHost(url.hostname, allow)) return
  const host = unbracket(url.hostname)
  if (isIP(host) !== 0) assertAddressAllowed(host, host, allow)
}

/** `[::1]` → `::1`; anything else unchanged. */
export function unbracket (hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
}

// IPv4-mapped IPv6 (::ffff:127.0.0.1) is checked as the IPv4 address it reaches.
function normalize (addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr
}

function parseAddress (address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = unbracket(address).replace(/%.*$/, '')
  // isIP() accepts only the canonical dotted form, so "0x7f.1" here is refused rather than reinterpreted.
  if (isIP(bare) === 0) return undefined
  return normalize(ipaddr.parse(bare))
}

function describeRange (range: string): string {
  switch (range) {
    case 'loopback': return 'a loopback address'
    case 'private': case 'uniqueLocal': return 'a private address'
    case 'linkLocal': return 'a link-local address (cloud metadata lives there)'
    case 'carrierGradeNat': return 'a carrier-grade NAT address'
    case 'unspecified': return 'the unspecified address'
    default: return `not a public address (${range})`
  }
}
