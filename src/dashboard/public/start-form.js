// A start form per job type, generated from its input schema, with a drop zone for types that take files.
import { html } from './html.js'
import { useRef, useState } from 'preact/hooks'
import { client, upsertJob } from './store.js'
import { formatBytes } from './format.js'

// A schema's field as the form shows it: a select of literals, a number, a checkbox, text, lines for a list of
// strings, or JSON for the rest.
function fieldKind (schema) {
  const options = schema.enum ?? (schema.anyOf ?? schema.oneOf)?.map((s) => s.const)
  if (Array.isArray(options) && options.every((o) => o !== undefined)) return { kind: 'select', options }
  if (schema.type === 'integer' || schema.type === 'number') return { kind: 'number' }
  if (schema.type === 'boolean') return { kind: 'checkbox' }
  if (schema.type === 'string') return { kind: 'text' }
  if (schema.type === 'array' && schema.items?.type === 'string') return { kind: 'lines' }
  return { kind: 'json' }
}

// How a literal shows in a select: a tab is invisible, so it is named.
const optionLabel = (value) => value === '\t' ? 'tab' : String(value)

function Field ({ formId, name, schema, required }) {
  const id = `${formId}-${name}`
  const hintId = `${id}-hint`
  const { kind, options } = fieldKind(schema)
  const hint = [schema.description, schema.default !== undefined ? `Default: ${optionLabel(schema.default)}.` : ''].filter(Boolean).join(' ')
  const common = { id, name, 'aria-describedby': hint ? hintId : undefined, required }
  let control
  if (kind === 'select') {
    control = html`<select ...${common}>
      ${!required && html`<option value="">(default)</option>`}
      ${options.map((o, i) => html`<option value=${String(i)}>${optionLabel(o)}</option>`)}
    </select>`
  } else if (kind === 'number') {
    control = html`<input type="number" inputmode="decimal" ...${common} min=${schema.minimum} max=${schema.maximum}
      step=${schema.type === 'integer' ? 1 : 'any'} placeholder=${schema.default ?? ''} />`
  } else if (kind === 'checkbox') {
    control = html`<input type="checkbox" ...${common} required=${false} checked=${schema.default === true} />`
  } else if (kind === 'lines') {
    control = html`<textarea ...${common} rows="3" placeholder="one per line"></textarea>`
  } else {
    control = html`<input type="text" ...${common} placeholder=${kind === 'json' ? 'JSON' : schema.default ?? ''} />`
  }
  return html`
    <div class=${`field ${kind}`}>
      <label for=${id}>${name}${required ? ' (required)' : ''}</label>
      ${control}
      ${hint && html`<small id=${hintId}>${hint}</small>`}
    </div>`
}

// The input object from the form's controls, as the schema types them; empty optional fields are left out.
function readInput (form, properties) {
  const input = {}
  for (const [name, schema] of Object.entries(properties)) {
    const control = form.elements.namedItem(name)
    const { kind, options } = fieldKind(schema)
    if (kind === 'checkbox') {
      if (control.checked || schema.default !== undefined) input[name] = control.checked
      continue
    }
    const raw = control.value.trim()
    if (raw === '') continue
    if (kind === 'select') input[name] = options[Number(raw)]
    else if (kind === 'number') input[name] = Number(raw)
    else if (kind === 'json') input[name] = JSON.parse(raw)
    else if (kind === 'lines') input[name] = raw.split(/\s*\n\s*/).filter(Boolean)
    else input[name] = raw
  }
  return input
}

function DropZone ({ formId, spec, files, setFiles }) {
  const [over, setOver] = useState(false)
  const id = `${formId}-files`
  const multiple = spec.max > 1
  const take = (list) => { setFiles([...list].slice(0, spec.max)) }
  const limits = `${multiple ? `Up to ${spec.max} files` : 'One file'}, at most ${formatBytes(spec.maxBytes)} each${spec.accept.length > 0 ? `: ${spec.accept.filter((a) => a.startsWith('.')).join(', ')}` : ''}.`
  return html`
    <div class=${`drop${over ? ' over' : ''}`}
      onDragOver=${(e) => { e.preventDefault(); setOver(true) }}
      onDragLeave=${() => { setOver(false) }}
      onDrop=${(e) => { e.preventDefault(); setOver(false); take(e.dataTransfer.files) }}>
      <label for=${id}>${multiple ? 'Files' : 'File'} (drop ${multiple ? 'them' : 'it'} here, or choose)</label>
      <input type="file" id=${id} name="files" multiple=${multiple} accept=${spec.accept.join(',')}
        aria-describedby=${`${id}-hint`} required=${files.length === 0 && spec.min > 0}
        onChange=${(e) => { take(e.currentTarget.files) }} />
      <small id=${`${id}-hint`}>${limits}</small>
      ${files.length > 0 && html`<ul class="chosen">${files.map((f) => html`<li>${f.name} (${formatBytes(f.size)})</li>`)}</ul>`}
    </div>`
}

/** The start form of one job type. */
export function StartForm ({ jobType }) {
  const formId = `start-${jobType.type}`
  const properties = jobType.input?.properties ?? {}
  const required = new Set(jobType.input?.required ?? [])
  const [files, setFiles] = useState([])
  const [status, setStatus] = useState(null)
  const [busy, setBusy] = useState(false)
  const formRef = useRef(null)
  const submit = async (e) => {
    e.preventDefault()
    setBusy(true)
    setStatus(null)
    try {
      const input = readInput(formRef.current, properties)
      const job = await client.startJob(jobType.type, input, files)
      upsertJob(job)
      setStatus({ ok: true, text: `Started ${jobType.type} ${job.id}.` })
      setFiles([])
      formRef.current.reset()
    } catch (err) {
      setStatus({ ok: false, text: err instanceof SyntaxError ? `A JSON field is not valid JSON: ${err.message}` : err.message })
    } finally {
      setBusy(false)
    }
  }
  return html`
    <form class="start" id=${formId} ref=${formRef} onSubmit=${submit} aria-labelledby=${`${formId}-title`} data-job-type=${jobType.type}>
      <h3 id=${`${formId}-title`}>${jobType.type}</h3>
      ${jobType.description && html`<p class="description">${jobType.description}</p>`}
      ${jobType.files && html`<${DropZone} formId=${formId} spec=${jobType.files} files=${files} setFiles=${setFiles} />`}
      ${Object.entries(properties).map(([name, schema]) => html`<${Field} formId=${formId} name=${name} schema=${schema} required=${required.has(name)} />`)}
      <button type="submit" disabled=${busy}>Start ${jobType.type}</button>
      <p class=${status?.ok === false ? 'error' : 'ok'} role=${status?.ok === false ? 'alert' : 'status'}>${status?.text ?? ''}</p>
    </form>`
}
