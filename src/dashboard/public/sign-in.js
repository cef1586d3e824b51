// The sign-in form: a token becomes the HttpOnly session cookie.
import { html } from './html.js'
import { useState } from 'preact/hooks'

/** Asks for a token; `onSignIn(token)` throws with a message when it is refused. */
export function SignIn ({ onSignIn, error: initialError }) {
  const [error, setError] = useState(initialError ?? null)
  const [busy, setBusy] = useState(false)
  const submit = async (e) => {
    e.preventDefault()
    const token = e.currentTarget.elements.namedItem('token').value.trim()
    setBusy(true)
    setError(null)
    try {
      await onSignIn(token)
    } catch (err) {
      setError(err.message)
      setBusy(false)
    }
  }
  return html`
    <section class="sign-in" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <form onSubmit=${submit}>
        <div class="field">
          <label for="token">Token</label>
          <input id="token" name="token" type="password" autocomplete="off" required aria-describedby="token-hint" />
          <small id="token-hint">The token printed when the server first started, or one from <code>jobcast token create</code>.</small>
        </div>
        <button type="submit" disabled=${busy}>Sign in</button>
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </form>
    </section>`
}
