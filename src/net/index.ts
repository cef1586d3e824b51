// Outbound HTTP that cannot be pointed at the server's own network (SSRF): the address policy, the agent, the request.

export { ADDRESS_NOT_ALLOWED, AddressNotAllowedError, NO_ALLOW_LIST, assertAddressAllowed, assertUrlAllowed, isPublicAddress, parseAllowList, type AllowList } from './address-policy.ts'
export { createSafeAgent, type SafeAgentOptions } from './safe-agent.ts'
export { REQUEST_TIMEOUT, safeRequest, type SafeRequestOptions, type SafeResponse } from './safe-request.ts'
