// What a task reported of its progress (ctx.progress), and how long a task's runs are kept (result TTL):
// small pieces the runs list, the run page and the tasks page show.
import { html } from './lib.js';

const count = (n) => n.toLocaleString();

/** `45%`, `9/20 (45%)` or `1,200 done`: a report's figures, without its message. */
export function progressFigures(p) {
  const percent = p.fraction === null ? undefined : `${Math.floor(p.fraction * 100)}%`;
  if (p.done === undefined) return percent ?? '';
  if (p.total === undefined) return `${count(p.done)} done`;
  return `${count(p.done)}/${count(p.total)}${percent ? ` (${percent})` : ''}`;
}

const cut = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * A bar with the figures and the message; nothing when the run reported none. `compact` (lists) cuts
 * the message, which the title then holds in full. Without a fraction (counts with no total) the bar
 * is indeterminate.
 */
export function Progress({ progress, compact = false }) {
  if (!progress) return null;
  const figures = progressFigures(progress);
  const message = progress.message ?? '';
  const title = [figures, message, `reported ${new Date(progress.at).toLocaleString()}`]
    .filter(Boolean)
    .join(' · ');
  const label = `Progress ${figures}`.trim();
  return html`<span class="progress" data-testid="run-progress" title=${title}>
    ${
      progress.fraction === null
        ? html`<progress aria-label=${label}></progress>`
        : html`<progress max="1" value=${progress.fraction} aria-label=${label}></progress>`
    }
    <span class="progress-figures" data-testid="run-progress-figures">${figures}</span>
    ${
      message
        ? html`<span class="progress-message muted" data-testid="run-progress-message"
            >${compact ? cut(message, 60) : message}</span
          >`
        : null
    }
  </span>`;
}

/** A result TTL in its largest whole units: `90s`, `15m`, `2h30m`, `7d`, `1d12h`. */
export function ttlText(totalSeconds) {
  const parts = [];
  let rest = totalSeconds;
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ]) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.length > 0 ? parts.join('') : '0s';
}

/** How long finished runs are kept: their TTL, or the global retention. */
export const KeptFor = ({ seconds }) =>
  seconds === null || seconds === undefined
    ? html`<span class="muted" title="RUN_RETENTION_DAYS">global retention</span>`
    : html`<span data-testid="result-ttl">${ttlText(seconds)}</span>`;
