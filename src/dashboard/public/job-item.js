// One job, and one batch, as the list shows them.
import { html } from './html.js'
import { useState } from 'preact/hooks'
import { client, jobSignal, batchSignal } from './store.js'
import { formatBytes, formatEta, formatTime, percentOf, summaryOf } from './format.js'
import { isFinished } from './client.js'

function CancelButton ({ describedBy, onCancel }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState(null)
  const click = async () => {
    setBusy(true)
    setError(null)
    try {
      await onCancel()
    } catch (err) {
      setError(err.message)
      setBusy(false)
    }
  }
  return html`
    <button type="button" class="cancel" onClick=${click} disabled=${busy} aria-describedby=${describedBy}>Cancel</button>
    ${error !== null && html`<span class="error" role="alert">${error}</span>`}`
}

function Bar ({ percent, label }) {
  return html`
    <div class="bar">
      <progress max="100" aria-label=${label} ...${percent === undefined ? {} : { value: percent }}></progress>
      <span class="percent">${percent === undefined ? '…' : `${Math.floor(percent)} %`}</span>
    </div>`
}

/** A job: type, state, bar, stage, message, ETA, error, result summary, artifacts, and Cancel while unfinished. */
export function JobItem ({ id }) {
  const job = jobSignal(id).value
  const titleId = `job-${id}-title`
  const progress = job.progress ?? {}
  const summary = job.state === 'completed' ? summaryOf(job.result) : []
  return html`
    <li class=${`job state-${job.state}`} data-job-id=${job.id} data-state=${job.state}>
      <div class="job-head">
        <h3 id=${titleId}><span class="type">${job.type}</span> <code class="id">${job.id}</code></h3>
        <span class=${`badge ${job.state}`}>${job.state}${job.attempt > 1 ? ` · attempt ${job.attempt} of ${job.maxAttempts}` : ''}</span>
      </div>
      <${Bar} percent=${percentOf(job)} label=${`Progress of ${job.type} ${job.id}`} />
      <p class="detail">
        ${progress.stage && html`<span class="stage">${progress.stage}</span>`}
        ${progress.message && html`<span class="message">${progress.message}</span>`}
        ${!isFinished(job) && progress.etaMs > 0 && html`<span class="eta">${formatEta(progress.etaMs)}</span>`}
        ${job.files.length > 0 && html`<span class="files">${job.files.map((f) => `${f.name} (${formatBytes(f.size)})`).join(', ')}</span>`}
        <span class="time">${formatTime(job.finishedAt ?? job.startedAt ?? job.createdAt)}</span>
      </p>
      ${job.error && html`<p class="error"><strong>${job.error.code}</strong>: ${job.error.message}</p>`}
      ${summary.length > 0 && html`
        <dl class="summary">${summary.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`}
      ${job.artifacts.length > 0 && html`
        <ul class="artifacts" aria-label=${`Downloads of ${job.type} ${job.id}`}>
          ${job.artifacts.map((a) => html`
            <li><a href=${client.artifactUrl(job.id, a.name)} download=${a.name}>${a.name}</a> <span class="size">${formatBytes(a.size)}</span></li>`)}
        </ul>`}
      ${!isFinished(job) && html`<${CancelButton} describedBy=${titleId} onCancel=${() => client.cancelJob(job.id)} />`}
    </li>`
}

/** A batch: its aggregate bar and counts, and Cancel while unfinished. */
export function BatchItem ({ id }) {
  const view = batchSignal(id).value
  const aggregate = view.aggregate ?? {}
  const titleId = `batch-${id}-title`
  const done = aggregate.done === true
  return html`
    <li class="job batch" data-batch-id=${view.id}>
      <div class="job-head">
        <h3 id=${titleId}><span class="type">${view.type} batch</span> <code class="id">${view.id}</code></h3>
        <span class="badge">${done ? (aggregate.succeeded ? 'completed' : 'finished') : 'running'}</span>
      </div>
      <${Bar} percent=${aggregate.percent ?? undefined} label=${`Progress of batch ${view.id}`} />
      <p class="detail">
        ${['completed', 'running', 'queued', 'failed', 'canceled'].filter((k) => aggregate[k] > 0).map((k) => html`<span>${aggregate[k]} ${k}</span>`)}
        <span>${aggregate.total ?? 0} in all</span>
      </p>
      ${!done && html`<${CancelButton} describedBy=${titleId} onCancel=${() => client.cancelBatch(view.id)} />`}
    </li>`
}
