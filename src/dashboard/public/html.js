// htm bound to Preact's h: tagged templates instead of JSX, so the page needs no build step.
import { h } from 'preact'
import htm from 'htm'

/** html`<div>…</div>` → Preact elements. */
export const html = htm.bind(h)
