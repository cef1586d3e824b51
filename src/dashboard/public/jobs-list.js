// My jobs: filters by state and type, pages of GET api/jobs, the first page kept live.
import { html } from './html.js'
import { batchIds, batchesAvailable, cursors, filters, jobTypes, loadPage, page, shownIds } from './store.js'
import { BatchItem, JobItem } from './job-item.js'

const STATES = ['queued', 'running', 'completed', 'failed', 'canceled']

function Filters () {
  const change = (key) => (e) => {
    filters.value = { ...filters.value, [key]: e.currentTarget.value }
    cursors.value = []
    void loadPage()
  }
  return html`
    <form class="filters" role="search" aria-label="Filter jobs" onSubmit=${(e) => { e.preventDefault() }}>
      <div class="field">
        <label for="filter-state">State</label>
        <select id="filter-state" value=${filters.value.state} onChange=${change('state')}>
          <option value="">any</option>
          ${STATES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="filter-type">Type</label>
        <select id="filter-type" value=${filters.value.type} onChange=${change('type')}>
          <option value="">any</option>
          ${jobTypes.value.map((t) => html`<option value=${t.type}>${t.type}</option>`)}
        </select>
      </div>
    </form>`
}

function Pager () {
  const { nextCursor, loading } = page.value
  const first = cursors.value.length === 0
  const newer = () => { cursors.value = cursors.value.slice(0, -1); void loadPage() }
  const older = () => { cursors.value = [...cursors.value, nextCursor]; void loadPage() }
  return html`
    <nav class="pager" aria-label="Pages of jobs">
      <button type="button" onClick=${newer} disabled=${first || loading}>Newer</button>
      <span>${first ? 'Latest (live)' : `Page ${cursors.value.length + 1}`}</span>
      <button type="button" onClick=${older} disabled=${nextCursor === null || loading}>Older</button>
    </nav>`
}

/** The batches section (only when the server has batches) and the jobs section. */
export function JobsList () {
  const ids = shownIds.value
  const { loading, error } = page.value
  return html`
    ${batchesAvailable.value && html`
      <section aria-labelledby="batches-title">
        <h2 id="batches-title">My batches</h2>
        ${batchIds.value.length === 0 ? html`<p class="empty">No batches yet.</p>` : html`
          <ul class="jobs">${batchIds.value.map((id) => html`<${BatchItem} key=${id} id=${id} />`)}</ul>`}
      </section>`}
    <section aria-labelledby="jobs-title" aria-busy=${loading}>
      <h2 id="jobs-title">My jobs</h2>
      <${Filters} />
      ${error && html`<p class="error" role="alert">Could not load the jobs: ${error}</p>`}
      ${ids.length === 0 && !loading ? html`<p class="empty">No jobs here yet.</p>` : html`
        <ul class="jobs">${ids.map((id) => html`<${JobItem} key=${id} id=${id} />`)}</ul>`}
      <${Pager} />
    </section>`
}
