/** The text of `jobcast --help`. */
export const USAGE = `usage: jobcast <command> [options]

  jobcast serve [--jobs DIR] [--port N] [--host H]
      Runs the server. --jobs loads every job type file in DIR (each default-exports a defineJob(...)):
      .js and .mjs files, and .ts files when jobcast runs from TypeScript (tsx). Built-in types are
      served too. Stops gracefully on SIGTERM/SIGINT.
  jobcast token create <user>
      Creates a token for <user> (the user is created if new) and prints only the token:
      T=$(npx jobcast token create bob)
  jobcast token list
      Lists the users with their number of tokens.
  jobcast token revoke <user>
      Revokes every token and browser session of <user>, at once, also on a running server.
  jobcast webhook-secret <user>
      Prints the whsec_ secret webhooks to <user> are signed with (created if new):
      S=$(npx jobcast webhook-secret bob)
  jobcast --help

Settings come from the environment and from a .env file in the current folder (see .env.example);
the environment wins. --port and --host override PORT and HOST. The token commands work on the data
folder of JOBCAST_DATA_DIR (default ./data), the server's.`

/** A wrong command line: its message goes to stderr with a pointer to --help, and the exit code is 2. */
export class UsageError extends Error {
  readonly code = 'USAGE'

  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
