import { openCliStores, type StoreSettings } from './cli-stores.ts'
import type { Output } from './token.ts'
import { UsageError } from './usage.ts'

const USER_NAME = /^[A-Za-z0-9_.-]{1,64}$/

/** `jobcast webhook-secret <user>`: prints the user's `whsec_` signing secret, creating it if needed. */
export async function webhookSecretCommand (args: string[], config: StoreSettings, out: Output): Promise<number> {
  const [user, ...extra] = args
  if (user === undefined) throw new UsageError('webhook-secret needs a user name: jobcast webhook-secret <user>')
  if (!USER_NAME.test(user)) throw new UsageError(`"${user}" is not a user name: 1 to 64 letters, digits, ".", "_" or "-"`)
  if (extra.length > 0) throw new UsageError(`webhook-secret takes one user, got also "${extra.join(' ')}"`)
  // The server's own store; the secret is read by the server at every delivery.
  const stores = await openCliStores(config)
  try {
    out.stdout.write(`${await stores.webhookSecret(user)}\n`)
    out.stderr.write(`webhooks to "${user}" are signed with this secret (Standard Webhooks); POST /api/webhook-secret rotates it\n`)
    return 0
  } finally {
    await stores.close()
  }
}
