// The jobcast dashboard: sign in, start jobs, watch them live over one stream.
import { render } from 'preact'
import { useEffect } from 'preact/hooks'
import { html } from './html.js'
import { applyFeedEvent, client, connection, jobTypes, loadBatches, loadPage, session } from './store.js'
import { SignIn } from './sign-in.js'
import { StartForm } from './start-form.js'
import { JobsList } from './jobs-list.js'

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  polling: 'Connection lost: retrying, and checking for updates every second meanwhile',
  closed: 'Not connected'
}

let watch
// Everything a signed-in page needs: job types, the first page, batches, and the live feed.
async function enter () {
  const [types] = await Promise.all([client.jobTypes(), loadPage(), loadBatches()])
  jobTypes.value = types
  watch?.close()
  watch = client.watchAll(applyFeedEvent, {
    onConnection: (state) => {
      connection.value = state
      // At once, not after the next render: an update that comes with the change is seen under the right state.
      document.documentElement.dataset.connection = state === 'closed' ? 'connecting' : state
    }
  })
}

async function signIn (token) {
  const { user } = await client.signIn(token)
  session.value = { ...session.value, signedIn: true, user }
  await enter()
}

async function signOut () {
  watch?.close()
  watch = undefined
  await client.signOut()
  session.value = { ...session.value, signedIn: false, user: null }
  connection.value = 'connecting'
}

// The first-start URL carries ?token=…: sign in with it, then take it out of the address bar and the history.
async function boot () {
  const url = new URL(location.href)
  const token = url.searchParams.get('token')
  let error = null
  if (token !== null) {
    url.searchParams.delete('token')
    history.replaceState(history.state, '', url.pathname + url.search + url.hash)
    try {
      await signIn(token)
      return
    } catch (err) {
      error = `The token in the link was refused: ${err.message}`
    }
  }
  const res = await fetch('dashboard/session', { headers: { accept: 'application/json' } })
  session.value = { ...(await res.json()), error }
  if (session.value.signedIn) await enter()
}

function Header () {
  const state = connection.value
  return html`
    <header class="top">
      <h1>jobcast</h1>
      ${session.value?.signedIn && html`
        <p class=${`connection ${state}`} role="status" aria-live="polite"><span class="dot" aria-hidden="true"></span>${CONNECTION_TEXT[state]}</p>
        <p class="user">${session.value.user ?? ''}</p>
        <button type="button" class="sign-out" onClick=${signOut}>Sign out</button>`}
    </header>`
}

function App () {
  useEffect(() => { boot().catch((err) => { session.value = { signedIn: false, error: err.message } }) }, [])
  const current = session.value
  // The document's root element carries the connection state, for tests and tools (the header says it to people).
  const state = current?.signedIn ? (connection.value === 'closed' ? 'connecting' : connection.value) : 'connecting'
  useEffect(() => { document.documentElement.dataset.connection = state }, [state])
  return html`
    <div class="app">
      <${Header} />
      <main>
        ${current === undefined && html`<p class="boot">Loading…</p>`}
        ${current !== undefined && !current.signedIn && html`<${SignIn} onSignIn=${signIn} error=${current.error} />`}
        ${current?.signedIn && html`
          <section aria-labelledby="start-title" class="start-all">
            <h2 id="start-title">Start a job</h2>
            <div class="forms">${jobTypes.value.map((t) => html`<${StartForm} key=${t.type} jobType=${t} />`)}</div>
          </section>
          <${JobsList} />`}
      </main>
    </div>`
}

const root = document.getElementById('app')
root.textContent = ''
render(html`<${App} />`, root)
