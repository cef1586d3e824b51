// The probe job types of the cluster tests, loaded by each server process with `serve --jobs test/cluster/jobs`.
// A probe records its run in the test's database (PostgreSQL's one clock for every node): a row when its handler
// starts, its stop time and how it ended when the handler returns, so that the test can count what ran at once.
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../../src/core/define-job.ts'
import { AbortReason } from '../../../src/errors.ts'

/** The table the probes write (created by the test in its database before the servers start). */
export const PROBE_TABLE = `
  CREATE TABLE probe_runs (
    id serial PRIMARY KEY,
    job_id text NOT NULL,
    node text NOT NULL,
    owner text NOT NULL,
    type text NOT NULL,
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    stopped_at timestamptz,
    outcome text
  )`

let pool: pg.Pool | undefined

/** A probe job type: runs `ms` in `steps` progress steps (or until aborted), recording start and stop. */
export function probeJob (type: string, concurrency: number): JobDefinition {
  return defineJob({
    type,
    concurrency,
    // A second attempt after its node died (the kill test); a fixed short wait after a failure.
    retry: { attempts: 3, backoff: 'fixed', baseMs: 100 },
    input: Type.Object({ ms: Type.Integer({ minimum: 0 }), steps: Type.Optional(Type.Integer({ minimum: 1 })) }),
    async run (ctx) {
      if (pool === undefined) {
        pool = new pg.Pool({ connectionString: process.env.JOBCAST_DATABASE_URL, max: 4 })
        pool.on('error', () => {}) // an idle connection lost (the database restarted): the pool opens another
      }
      const { rows } = await pool.query<{ id: number }>(
        'INSERT INTO probe_runs (job_id, node, owner, type, attempt) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [ctx.id, process.env.JOBCAST_NODE_ID ?? '', ctx.owner, type, ctx.attempt])
      let outcome = 'done'
      try {
        const steps = ctx.input.steps ?? 1
        for (let step = 1; step <= steps; step++) {
          await sleep(ctx.input.ms / steps, undefined, { signal: ctx.signal })
          ctx.progress({ current: step, total: steps })
        }
      } catch (err) {
        const reason = ctx.signal.reason as unknown
        outcome = reason instanceof AbortReason ? reason.kind : 'error'
        throw err
      } finally {
        await pool.query('UPDATE probe_runs SET stopped_at = clock_timestamp(), outcome = $2 WHERE id = $1', [rows[0]!.id, outcome])
      }
      return { node: process.env.JOBCAST_NODE_ID }
    }
  }) as JobDefinition
}
