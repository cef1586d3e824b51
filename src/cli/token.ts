import { openCliStores, type StoreSettings } from './cli-stores.ts'
import { UsageError } from './usage.ts'

const USER_NAME = /^[A-Za-z0-9_.-]{1,64}$/

/** Where a command writes: stdout carries only what a script captures, stderr what a person reads. */
export interface Output {
  stdout: { write: (text: string) => unknown }
  stderr: { write: (text: string) => unknown }
}

/** `jobcast token create|list|revoke`, on the user store `config` selects (PostgreSQL or the data folder); resolves with the exit code. */
export async function tokenCommand (args: string[], config: StoreSettings, out: Output): Promise<number> {
  const [action, user, ...extra] = args
  if (action === undefined) throw new UsageError('token needs an action: create <user>, list or revoke <user>')
  if (action !== 'create' && action !== 'list' && action !== 'revoke') throw new UsageError(`unknown token action "${action}": create <user>, list or revoke <user>`)
  if (action === 'list') {
    if (user !== undefined) throw new UsageError(`token list takes no argument, got "${user}"`)
  } else {
    if (user === undefined) throw new UsageError(`token ${action} needs a user name: jobcast token ${action} <user>`)
    if (!USER_NAME.test(user)) throw new UsageError(`"${user}" is not a user name: 1 to 64 letters, digits, ".", "_" or "-"`)
    if (extra.length > 0) throw new UsageError(`token ${action} takes one user, got also "${extra.join(' ')}"`)
  }

  const stores = await openCliStores(config)
  const { users, where } = stores
  try {
    if (action === 'create') {
      const token = await users.grantToken(user!)
      out.stdout.write(`${token}\n`)
      out.stderr.write(`token created for "${user}"; it is shown only now. Use it as: Authorization: Bearer <token>\n`)
      return 0
    }
    if (action === 'list') {
      const list = await users.listUsers()
      if (list.length === 0) out.stderr.write(`no users in ${where}\n`)
      for (const { name, tokens, createdAt } of list) out.stdout.write(`${name}\t${tokens} token${tokens === 1 ? '' : 's'}\tsince ${new Date(createdAt).toISOString()}\n`)
      return 0
    }
    if (!(await users.listUsers()).some((u) => u.name === user)) {
      out.stderr.write(`jobcast: there is no user "${user}" in ${where}\n`)
      return 1
    }
    const revoked = await users.revoke(user!)
    out.stderr.write(`revoked ${revoked} token${revoked === 1 ? '' : 's'} and every session of "${user}"\n`)
    return 0
  } finally {
    await stores.close()
  }
}
