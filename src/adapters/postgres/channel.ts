/** The channel every node LISTENs on: `e:<node's tag>` when a node appended events, `c:<job id>` for a cancel request. */
export const CHANNEL = 'jobcast'
