// The page's state, as signals: the jobs and batches heard of, the list being shown, the connection.
import { batch, computed, signal } from '@preact/signals'
import { createClient, isFinished } from './client.js'

/** The client of the server this page came from (every URL relative to the page). */
export const client = createClient()

/** `live` | `polling` | `connecting` | `closed`. */
export const connection = signal('connecting')
/** undefined while checking, then `{ signedIn, user }`. */
export const session = signal(undefined)
/** Registered job types (GET api/job-types). */
export const jobTypes = signal([])
/** Batches, or null when the server has no batches API. */
export const batchesAvailable = signal(false)
const batchSignals = new Map()
export const batchIds = signal([])

// One signal per job, so that a progress event re-renders only that job's element.
const jobSignals = new Map()
/** The filters and page of the list. */
export const filters = signal({ state: '', type: '' })
/** Cursors of the pages before the one shown; empty on the first (live) page. */
export const cursors = signal([])
export const page = signal({ ids: [], nextCursor: null, loading: false, error: null })
// Jobs heard of live since the list was loaded: shown on the first page when they match the filters.
const liveIds = signal([])

/** The signal of one job. */
export const jobSignal = (id) => jobSignals.get(id)

const matches = (job, { state, type }) => (state === '' || job.state === state) && (type === '' || job.type === type)
const newestFirst = (a, b) => (b.createdAt > a.createdAt ? 1 : b.createdAt < a.createdAt ? -1 : b.id > a.id ? 1 : -1)

/** The ids the list shows: the page, and on the first page the live jobs that match the filters, newest first. */
export const shownIds = computed(() => {
  const { ids } = page.value
  if (cursors.value.length > 0) return ids
  const seen = new Set(ids)
  const extra = liveIds.value.filter((id) => !seen.has(id) && matches(jobSignals.get(id).value, filters.value))
  if (extra.length === 0) return ids
  return [...ids, ...extra].map((id) => jobSignals.get(id).value).sort(newestFirst).map((job) => job.id)
})

/** Records a job's newest view; `fromList` views are older than live ones, so they never replace an unfinished one. */
export function upsertJob (job, { live = true, fromList = false } = {}) {
  const existing = jobSignals.get(job.id)
  if (existing === undefined) {
    jobSignals.set(job.id, signal(job))
    if (live) liveIds.value = [...liveIds.value, job.id]
  } else if (!fromList || isFinished(job)) {
    existing.value = job
  }
}

function upsertBatch (view) {
  const existing = batchSignals.get(view.id)
  if (existing === undefined) {
    batchSignals.set(view.id, signal(view))
    batchIds.value = [view.id, ...batchIds.value]
  } else {
    existing.value = view
  }
}

/** The signal of one batch. */
export const batchSignal = (id) => batchSignals.get(id)

/** Applies a feed event (snapshot or change). */
export function applyFeedEvent (event) {
  batch(() => {
    if (event.kind === 'snapshot') {
      for (const job of event.jobs) upsertJob(job)
      if (batchesAvailable.value) for (const view of event.batches) upsertBatch(view)
    } else if (event.kind === 'batch') {
      if (batchesAvailable.value) upsertBatch(event.batch)
    } else {
      upsertJob(event.job)
    }
  })
}

/** Loads the page of the list at the current filters and cursor. */
export async function loadPage () {
  const cursor = cursors.value.at(-1)
  page.value = { ...page.value, loading: true, error: null }
  try {
    const { state, type } = filters.value
    const result = await client.listJobs({ state: state || undefined, type: type || undefined, limit: 20, cursor })
    batch(() => {
      for (const job of result.items) upsertJob(job, { live: false, fromList: true })
      liveIds.value = []
      page.value = { ids: result.items.map((job) => job.id), nextCursor: result.nextCursor, loading: false, error: null }
    })
  } catch (err) {
    page.value = { ...page.value, loading: false, error: err.message }
  }
}

/** Loads the batches, if the server has them (otherwise the section stays hidden). */
export async function loadBatches () {
  const items = session.value?.batches === true ? await client.listBatches().catch(() => undefined) : undefined
  batch(() => {
    batchesAvailable.value = items !== undefined
    for (const view of items ?? []) upsertBatch(view)
  })
}
