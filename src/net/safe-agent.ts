// An undici Agent that checks every address at connect time, so DNS rebinding and literal IPs are covered alike.

import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns'
import { isIP } from 'node:net'
import { Agent, buildConnector } from 'undici'
import { assertAddressAllowed, isAllowedHost, unbracket, type AllowList } from './address-policy.ts'

/** Options of {@link createSafeAgent}. */
export interface SafeAgentOptions {
  /** Hosts and ranges reachable although not public (default: none). */
  allow: AllowList
  /** Time to establish a connection, TLS included, in ms (default 10000). */
  connectTimeoutMs?: number
  /** Connections kept per origin (default 16). */
  connections?: number
  /** Replaces `dns.lookup` (tests resolve made-up names with it). */
  lookup?: typeof dnsLookup
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * An Agent whose connector refuses loopback, private, link-local, CGNAT, metadata and other non-public addresses
 * unless allow-listed. The check runs on the addresses the socket is about to use (resolve, then check, then
 * connect to exactly those), so a name that resolves to a public address once and a private one later is caught.
 */
export function createSafeAgent (options: SafeAgentOptions): Agent {
  const { allow } = options
  const resolve = options.lookup ?? dnsLookup
  const checkedLookup = (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...lookupOptions, all: true } satisfies LookupAllOptions, (err, addresses) => {
      if (err !== null) { callback(err, []); return }
      try {
        // Every address must pass: one private answer among public ones is refused, not skipped.
        if (!isAllowedHost(hostname, allow)) for (const a of addresses) assertAddressAllowed(hostname, a.address, allow)
      } catch (refused) {
        callback(refused as NodeJS.ErrnoException, [])
        return
      }
      if (lookupOptions.all === true) callback(null, addresses)
      else if (addresses[0] === undefined) callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), [])
      else callback(null, addresses[0].address, addresses[0].family)
    })
  }
  const connect = buildConnector({ timeout: options.connectTimeoutMs ?? 10_000, lookup: checkedLookup as never })
  return new Agent({
    connections: options.connections ?? 16,
    connect (connectOptions, callback) {
      // net.connect() skips lookup for a literal IP, so literals are checked here.
      const host = unbracket(connectOptions.hostname)
      if (isIP(host) !== 0 && !isAllowedHost(host, allow)) {
        try {
          assertAddressAllowed(host, host, allow)
        } catch (refused) {
          callback(refused as Error, null)
          return
        }
      }
      connect(connectOptions, callback)
    }
  })
}
