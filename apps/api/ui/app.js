// Tickwork dashboard: a small single-page app (Preact + htm, no build-time JSX). It holds no data of its
// own: everything comes from /api/v1 with the bearer token the user signs in with (kept in
// sessionStorage, sent only in the Authorization header). Shared parts live in lib.js; pages with a file of their own are imported below.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { WorkflowDetail, WorkflowsPage } from './workflows.js';
import { Identity, redditHref, useReadOnly } from './access.js';
import {
  html,
  POLL_MS,
  STATUSES,
  TERMINAL,
  COLORS,
  api,
  query,
  usePoll,
  useHashRoute,
  time,
  json,
  ago,
  describeTrigger,
  errorText,
  Status,
  Priority,
  Problem,
  useAction,
  hasToken,
  setToken,
} from './lib.js';
import { KeptFor, Progress } from './progress.js';
import { WebhookDetail, WebhooksPage } from './webhooks.js';

// --- sign-in --------------------------------------------------------------------------------------

function SignIn({ onSignedIn }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(undefined);
  const submit = async (event) => {
    event.preventDefault();
    setToken(value.trim());
    try {
      const me = await api('/me');
      onSignedIn(me);
    } catch (e) {
      setToken('');
      setError(e.status === 401 ? new Error('That token is not valid.') : e);
    }
  };
  return html`<form class="signin" onSubmit=${submit} aria-label="Sign in">
    <h2>Tickwork</h2>
    <label for="token">API token</label>
    <input
      id="token"
      name="token"
      type="password"
      autocomplete="current-password"
      value=${value}
      onInput=${(e) => setValue(e.currentTarget.value)}
      required
    />
    <button class="primary" type="submit">Sign in</button>
    <${Problem} error=${error} />
  </form>`;
}

// --- overview -------------------------------------------------------------------------------------

/** Status counts sampled by the overview, kept while the page is open (last 60 samples). */
const history = [];

async function statusCounts() {
  const rows = await api('/runs/counts');
  const counts = {};
  for (const row of rows) counts[row.status] = { n: row.count, more: row.capped };
  return counts;
}

function Chart({ samples }) {
  const width = 720;
  const height = 180;
  const pad = 24;
  if (samples.length < 2) return html`<p class="muted">Sampling run counts…</p>`;
  const max = Math.max(1, ...samples.flatMap((s) => STATUSES.map((status) => s.counts[status].n)));
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(1, samples.length - 1);
  const y = (n) => height - pad - (n * (height - 2 * pad)) / max;
  return html`<div>
    <svg class="chart" viewBox=${`0 0 ${width} ${height}`} role="img" aria-label="Runs per status over time">
      <line x1=${pad} y1=${height - pad} x2=${width - pad} y2=${height - pad} stroke="#ccd" />
      <text x="2" y=${pad} font-size="11" fill="#687083">${max}</text>
      <text x="2" y=${height - pad} font-size="11" fill="#687083">0</text>
      ${STATUSES.map(
        (status) =>
          html`<polyline
            fill="none"
            stroke=${COLORS[status]}
            stroke-width="2"
            points=${samples.map((s, i) => `${x(i).toFixed(1)},${y(s.counts[status].n).toFixed(1)}`).join(' ')}
          />`,
      )}
    </svg>
    <div class="legend">
      ${STATUSES.map((status) => html`<span><i style=${{ background: COLORS[status] }}></i>${status}</span>`)}
    </div>
  </div>`;
}

/** Pause (after a confirmation) or resume a queue, from the queues table. */
function QueuePauseButton({ queue, action }) {
  const pause = () => {
    if (
      window.confirm(
        `Pause queue "${queue.name}"? Workers start none of its runs until it is resumed; runs already running finish.`,
      )
    )
      void action.act(() => api(`/queues/${encodeURIComponent(queue.name)}/pause`, { method: 'POST' }));
  };
  const resume = () =>
    action.act(() => api(`/queues/${encodeURIComponent(queue.name)}/resume`, { method: 'POST' }));
  return queue.paused
    ? html`<button disabled=${action.busy} onClick=${resume}>Resume</button>`
    : html`<button class="danger" disabled=${action.busy} onClick=${pause}>Pause</button>`;
}

function Overview() {
  const [queues, reloadQueues] = usePoll(() => api('/queues'), []);
  const queueAction = useAction(reloadQueues);
  const readOnly = useReadOnly();
  const [workers] = usePoll(() => api('/workers'), []);
  const [counts] = usePoll(async () => {
    const sample = { at: Date.now(), counts: await statusCounts() };
    history.push(sample);
    if (history.length > 60) history.shift();
    return sample.counts;
  }, []);
  const alive = workers.data?.filter((w) => w.alive) ?? [];
  return html`<section>
    <h2>Runs by status</h2>
    <${Problem} error=${counts.error} />
    <div class="cards" data-testid="status-counts">
      ${STATUSES.map(
        (status) =>
          html`<a class="card" href=${`#/runs?status=${status}`} data-status=${status}>
            <b>${counts.data ? `${counts.data[status].n}${counts.data[status].more ? '+' : ''}` : '…'}</b>
            <${Status} status=${status} />
          </a>`,
      )}
    </div>
    <h3>Over time (sampled as runs change, at most every ${POLL_MS / 1000}s, while this page is open)</h3>
    <${Chart} samples=${history} />

    <h2>Queues</h2>
    <${Problem} error=${queueAction.error ?? queues.error} />
    <table data-testid="queues">
      <thead>
        <tr>
          <th>Queue</th>
          <th>State</th>
          <th>Messages</th>
          <th>Ready</th>
          <th>Unacked</th>
          <th>In /s</th>
          <th>Out /s</th>
          <th>Consumers</th>
          ${readOnly ? null : html`<th></th>`}
        </tr>
      </thead>
      <tbody>
        ${(queues.data ?? []).map(
          (q) =>
            html`<tr data-queue=${q.name}>
              <td><a href=${`#/runs?queue=${q.name}`}>${q.name}</a></td>
              <td data-testid="queue-state">
                ${
                  q.paused
                    ? html`<span class="badge" title=${`paused since ${time(q.pausedAt)}`}>paused</span>`
                    : html`<span class="muted">active</span>`
                }
              </td>
              <td>${q.messages}</td>
              <td>${q.messagesReady}</td>
              <td>${q.messagesUnacked}</td>
              <td>${q.publishPerSecond.toFixed(1)}</td>
              <td>${q.ackPerSecond.toFixed(1)}</td>
              <td>${q.consumers}</td>
              ${readOnly ? null : html`<td><${QueuePauseButton} queue=${q} action=${queueAction} /></td>`}
            </tr>`,
        )}
      </tbody>
    </table>

    <h2>Workers <span class="muted" data-testid="workers-alive">${alive.length} alive</span></h2>
    <${Problem} error=${workers.error} />
    <table>
      <thead>
        <tr>
          <th>Worker</th>
          <th>Queues</th>
          <th>Tasks</th>
          <th>Concurrency</th>
          <th>Running</th>
          <th>Last heartbeat</th>
          <th>State</th>
        </tr>
      </thead>
      <tbody>
        ${(workers.data ?? []).map(
          (w) =>
            html`<tr>
              <td>${w.hostname}:${w.pid} <span class="muted">${w.id}</span></td>
              <td>${w.queues.join(', ')}</td>
              <td>${w.tasks.join(', ')}</td>
              <td>${w.concurrency}</td>
              <td>${w.runningRuns}</td>
              <td>${ago(w.lastHeartbeatAt)}</td>
              <td>${w.alive ? 'alive' : w.stoppedAt ? 'stopped' : 'lost'}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

// --- tasks ----------------------------------------------------------------------------------------

/** A catalogue task's flow control in a few words: `priority 5 · 1 per bot:{botConfigId} · 60 per 60s`. */
function flowText(t) {
  const parts = [];
  if (t.priority > 0) parts.push(`priority ${t.priority}`);
  if (t.concurrency) parts.push(`${t.concurrency.limit} at once per ${t.concurrency.key}`);
  if (t.rateLimit)
    parts.push(
      `${t.rateLimit.limit} per ${t.rateLimit.periodSeconds}s${t.rateLimit.key ? ` per ${t.rateLimit.key}` : ''}`,
    );
  return parts.join(' · ');
}

function TasksPage() {
  const [tasks] = usePoll(() => api('/tasks'), []);
  return html`<section>
    <h2>Tasks</h2>
    <p class="muted">
      The task catalogue: the engine's tasks and those workers registered when they started. A task no live
      worker serves is still accepted; its runs wait until one starts.
    </p>
    <${Problem} error=${tasks.error} />
    <table data-testid="tasks">
      <thead>
        <tr>
          <th>Task</th>
          <th>Queue</th>
          <th>Retries</th>
          <th>Timeout</th>
          <th>Flow control</th>
          <th>Kept</th>
          <th>Live workers</th>
          <th>Description</th>
        </tr>
      </thead>
      <tbody>
        ${(tasks.data ?? []).map(
          (t) =>
            html`<tr data-task=${t.name}>
              <td>
                <a href=${`#/runs?task=${encodeURIComponent(t.name)}`}>${t.name}</a>
                <details>
                  <summary class="muted">args schema</summary>
                  <pre>${JSON.stringify(t.args, null, 2)}</pre>
                </details>
              </td>
              <td><a href=${`#/runs?queue=${encodeURIComponent(t.queue)}`}>${t.queue}</a></td>
              <td>${t.maxRetries}</td>
              <td>${t.timeoutSeconds}s</td>
              <td data-testid="task-flow">${flowText(t) || '—'}</td>
              <td><${KeptFor} seconds=${t.resultTtlSeconds} /></td>
              <td class=${t.liveWorkers === 0 ? 'warn' : ''}>${t.liveWorkers}</td>
              <td>${t.description}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

// --- runs -----------------------------------------------------------------------------------------

function RunsPage({ params }) {
  const filters = {
    status: params.get('status') ?? '',
    task: params.get('task') ?? '',
    queue: params.get('queue') ?? '',
  };
  const [task, setTask] = useState(filters.task);
  const setFilter = (changes) => {
    location.hash = `#/runs${query({ ...filters, ...changes })}`;
  };
  const [runs, reloadRuns] = usePoll(
    () => api(`/runs${query({ ...filters, limit: 50 })}`),
    [filters.status, filters.task, filters.queue],
  );
  // The queues in use come from the API: users declare their own.
  const [queues] = usePoll(() => api('/queues'), [], 60_000);
  const queueNames = [...new Set([...(queues.data ?? []).map((q) => q.name), filters.queue])].filter(Boolean);
  return html`<section>
    <h2>Runs</h2>
    <form
      class="inline"
      aria-label="Filters"
      onSubmit=${(e) => {
        e.preventDefault();
        setFilter({ task: task.trim() });
      }}
    >
      <select
        aria-label="Status"
        value=${filters.status}
        onChange=${(e) => setFilter({ status: e.currentTarget.value })}
      >
        <option value="">any status</option>
        ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <select
        aria-label="Queue"
        value=${filters.queue}
        onChange=${(e) => setFilter({ queue: e.currentTarget.value })}
      >
        <option value="">any queue</option>
        ${queueNames.map((q) => html`<option value=${q}>${q}</option>`)}
      </select>
      <input
        aria-label="Task"
        placeholder="task, e.g. diag.echo"
        value=${task}
        onInput=${(e) => setTask(e.currentTarget.value)}
      />
      <button type="submit">Filter</button>
    </form>
    <${RunsBulkActions} filters=${filters} onDone=${reloadRuns} />
    <${Problem} error=${runs.error} />
    <table data-testid="runs">
      <thead>
        <tr>
          <th>Run</th>
          <th>Task</th>
          <th>Queue</th>
          <th>Status</th>
          <th>Progress</th>
          <th>Attempts</th>
          <th>Created</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        ${(runs.data?.items ?? []).map(
          (run) =>
            html`<tr data-run-id=${run.id}>
              <td><a href=${`#/runs/${run.id}`}>#${run.id}</a></td>
              <td>${run.task}</td>
              <td>${run.queue}</td>
              <td><${Status} status=${run.status} /> <${Priority} priority=${run.priority} /></td>
              <td><${Progress} progress=${run.progress} compact /></td>
              <td>${run.attempts}</td>
              <td>${time(run.createdAt)}</td>
              <td>${time(run.finishedAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${runs.data && runs.data.items.length === 0 ? html`<p class="muted">No runs match.</p>` : null}
  </section>`;
}

/** Seconds between two instants, to a tenth. */
const seconds = (from, to) => `${((new Date(to).getTime() - new Date(from).getTime()) / 1000).toFixed(1)}s`;

/** Every attempt: how it ended, where, how long it took, and its error. */
function Attempts({ attempts }) {
  if (attempts.length === 0) return html`<p class="muted">Not started yet.</p>`;
  return html`<table data-testid="run-attempt-list">
    <thead>
      <tr>
        <th>#</th>
        <th>Outcome</th>
        <th>Worker</th>
        <th>Started</th>
        <th>Took</th>
        <th>Error</th>
      </tr>
    </thead>
    <tbody>
      ${attempts.map(
        (a) =>
          html`<tr data-attempt=${a.attempt}>
            <td>${a.attempt}</td>
            <td><${Status} status=${a.outcome} /></td>
            <td class="muted">${a.workerId ?? '—'}</td>
            <td>${time(a.startedAt)}</td>
            <td>${a.startedAt && a.finishedAt ? seconds(a.startedAt, a.finishedAt) : '—'}</td>
            <td title=${a.error ? errorText(a.error) : ''}>
              ${a.error ? `${a.error.type}: ${a.error.message}` : ''}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function RunDetail({ id }) {
  // Live: refreshed by this run's own events only.
  const ofThisRun = (event) => event.runId === Number(id);
  const [run, reload] = usePoll(() => api(`/runs/${id}`), [id], POLL_MS, ofThisRun);
  const [attempts] = usePoll(() => api(`/runs/${id}/attempts`), [id], POLL_MS, ofThisRun);
  const action = useAction(reload);
  const readOnly = useReadOnly();
  const r = run.data;
  if (!r)
    return html`<section>
      <${Problem} error=${run.error} />
      <p class="muted">Loading run #${id}…</p>
    </section>`;
  const canRetry = r.status === 'failed' || r.status === 'cancelled';
  const canCancel = !TERMINAL.includes(r.status) && !r.cancelRequestedAt;
  const timeline = [
    ['created', r.createdAt],
    ['scheduled for', r.scheduledFor],
    ['due', r.dueAt],
    ['started (latest attempt)', r.startedAt],
    ['cancel requested', r.cancelRequestedAt],
    ['finished', r.finishedAt],
  ].filter(([, at]) => at);
  return html`<section data-run-id=${r.id}>
    <h2>
      Run #${r.id} <span data-testid="run-status"><${Status} status=${r.status} /></span>
      <${Priority} priority=${r.priority} />
    </h2>
    <div class="toolbar">
      ${
        readOnly
          ? null
          : html`<button
                disabled=${!canRetry || action.busy}
                onClick=${() => action.act(() => api(`/runs/${r.id}/retry`, { method: 'POST' }))}
              >
                Retry
              </button>
              <button
                class="danger"
                disabled=${!canCancel || action.busy}
                onClick=${() => action.act(() => api(`/runs/${r.id}/cancel`, { method: 'POST' }))}
              >
                Cancel
              </button>`
      }
      <a href="#/runs">all runs</a>
    </div>
    <${Problem} error=${action.error ?? run.error} />
    <${Progress} progress=${r.progress} />
    <dl>
      <dt>Task</dt>
      <dd>${r.task}</dd>
      <dt>Queue</dt>
      <dd>${r.queue}</dd>
      ${
        r.waitingReason
          ? html`<dt>Waiting</dt>
              <dd data-testid="run-waiting">${r.waitingReason}</dd>`
          : null
      }
      <dt>Attempts</dt>
      <dd data-testid="run-attempts">${r.attempts}</dd>
      <dt>Max retries</dt>
      <dd>${r.maxRetries}</dd>
      <dt>Timeout</dt>
      <dd>${r.timeoutSeconds}s</dd>
      <dt>Worker</dt>
      <dd>${r.workerId ?? '—'}</dd>
      <dt>Schedule</dt>
      <dd>${r.scheduleId ?? '—'}</dd>
      ${
        r.workflowId
          ? html`<dt>Workflow</dt>
              <dd>
                <a href=${`#/workflows/${r.workflowId}`} data-testid="run-workflow">#${r.workflowId}</a>
              </dd>`
          : null
      }
      <dt>Idempotency key</dt>
      <dd>${r.idempotencyKey ?? '—'}</dd>
      <dt>Kept once finished</dt>
      <dd><${KeptFor} seconds=${r.resultTtlSeconds} /></dd>
      ${
        r.concurrencyKey
          ? html`<dt>Concurrency key</dt>
              <dd data-testid="run-concurrency">
                ${r.concurrencyKey} (at most ${r.concurrencyLimit} at once)
              </dd>`
          : null
      }
      ${
        r.rateKey
          ? html`<dt>Rate key</dt>
              <dd>${r.rateKey}</dd>`
          : null
      }
      ${
        r.dedupKey
          ? html`<dt>Dedup key</dt>
              <dd>${r.dedupKey}</dd>`
          : null
      }
    </dl>
    <h3>Timeline</h3>
    <ol class="timeline">
      ${timeline.map(([what, at]) => html`<li>${what}: ${time(at)} <span class="muted">(${ago(at)})</span></li>`)}
    </ol>
    <h3>Attempts</h3>
    <${Attempts} attempts=${attempts.data ?? []} />
    <h3>Arguments</h3>
    <pre>${json(r.args)}</pre>
    ${
      r.parentResults?.length
        ? html`<h3>From the runs it depended on</h3>
            <ul data-testid="run-parents">
              ${r.parentResults.map(
                (p) =>
                  html`<li>
                    <a href=${`#/runs/${p.runId}`}>${p.task} #${p.runId}</a> <${Status} status=${p.status} />
                    <code>${JSON.stringify(p.status === 'succeeded' ? p.result : p.error)}</code>
                  </li>`,
              )}
            </ul>`
        : null
    }
    ${
      r.error
        ? html`<h3>Error</h3>
            <pre class="error" data-testid="run-error">${errorText(r.error)}</pre>`
        : null
    }
    ${
      r.status === 'succeeded'
        ? html`<h3>Result</h3>
            <pre data-testid="run-result">${json(r.result)}</pre>`
        : null
    }
  </section>`;
}

// --- bulk actions and the failed view ------------------------------------------------------------

const plural = (n, what) => `${n.toLocaleString()} ${what}${n === 1 ? '' : 's'}`;

/**
 * A bulk retry or cancel of the runs matching `filter`: the button asks for a dry run first and shows
 * its count for confirmation; only Confirm acts. `onDone` runs after the action (e.g. to reload a list).
 */
function BulkButton({ action, filter, label, className = '', onDone }) {
  const [preview, setPreview] = useState(undefined);
  const [result, setResult] = useState(undefined);
  const { error, busy, act } = useAction(onDone);
  const send = (dryRun) => api(`/runs/bulk-${action}`, { method: 'POST', body: { filter, dryRun } });
  const verb = action === 'retry' ? 'Retry' : 'Cancel';
  if (preview) {
    const running =
      preview.cancelRequested > 0
        ? ` ${preview.cancelRequested} running: their workers are asked to stop them.`
        : '';
    const more =
      preview.matched > 10_000 ? ' At most 10,000 are changed at once; press again for the rest.' : '';
    return html`<div
      class="confirm"
      role="group"
      aria-label=${`${verb} matching runs`}
      data-testid="bulk-confirm"
    >
      <span data-testid="bulk-count">
        ${preview.matched === 0 ? 'No runs match.' : `${verb} ${plural(preview.matched, 'run')}?${running}${more}`}
      </span>
      ${
        preview.matched > 0
          ? html`<button
              type="button"
              class=${action === 'cancel' ? 'danger' : 'primary'}
              disabled=${busy}
              onClick=${() =>
                act(async () => {
                  setResult(await send(false));
                  setPreview(undefined);
                })}
            >
              Confirm
            </button>`
          : null
      }
      <button type="button" disabled=${busy} onClick=${() => setPreview(undefined)}>Back</button>
      <${Problem} error=${error} />
    </div>`;
  }
  const done = result
    ? `${action === 'retry' ? 'Retried' : 'Cancelled'} ${plural(result.affected, 'run')}` +
      (result.cancelRequested > 0 ? ` (${result.cancelRequested} running: asked to stop)` : '') +
      (result.remaining > 0 ? `; ${result.remaining.toLocaleString()} more match.` : '.')
    : null;
  return html`<span class="toolbar">
    <button
      type="button"
      class=${className}
      disabled=${busy}
      onClick=${() =>
        act(async () => {
          setResult(undefined);
          setPreview(await send(true));
        })}
    >
      ${label}
    </button>
    ${done ? html`<span class="muted" data-testid="bulk-result">${done}</span>` : null}
    <${Problem} error=${error} />
  </span>`;
}

/** Runs that failed after all their retries: what failed and why, and a redrive of them all or the matching ones. */
function FailedPage({ params }) {
  const filters = {
    task: params.get('task') ?? '',
    queue: params.get('queue') ?? '',
    errorContains: params.get('errorContains') ?? '',
  };
  const [form, setForm] = useState(filters);
  const readOnly = useReadOnly();
  const [failed, reload] = usePoll(
    () => api(`/runs/failed${query({ ...filters, limit: 50 })}`),
    [filters.task, filters.queue, filters.errorContains],
  );
  const filtered = Object.values(filters).some(Boolean);
  const filter = Object.fromEntries(Object.entries(filters).filter(([, value]) => value));
  const count = failed.data ? `${failed.data.count.toLocaleString()}${failed.data.capped ? '+' : ''}` : '…';
  const field = (name, label, placeholder) =>
    html`<input
      aria-label=${label}
      placeholder=${placeholder}
      value=${form[name]}
      onInput=${(e) => setForm({ ...form, [name]: e.currentTarget.value })}
    />`;
  return html`<section>
    <h2>Failed runs <span class="muted" data-testid="failed-count">${count}</span></h2>
    <p class="muted">
      Runs that failed after all their retries. Redrive runs each of them once more, at once; a task prefix
      ending in "." (reports.) takes every task under it.
    </p>
    <form
      class="inline"
      aria-label="Failed filters"
      onSubmit=${(e) => {
        e.preventDefault();
        location.hash = `#/failed${query({
          task: form.task.trim(),
          queue: form.queue.trim(),
          errorContains: form.errorContains.trim(),
        })}`;
      }}
    >
      ${field('task', 'Task', 'task or prefix, e.g. reports.')} ${field('queue', 'Queue', 'queue')}
      ${field('errorContains', 'Error contains', 'error text, e.g. timeout')}
      <button type="submit">Filter</button>
      ${
        // Shown while nothing is left too: it keeps saying what the redrive did.
        readOnly || !failed.data
          ? null
          : html`<${BulkButton}
              action="retry"
              filter=${{ ...filter, status: 'failed' }}
              className="primary"
              label=${filtered ? `Redrive matching (${count})` : `Redrive all ${count}`}
              onDone=${reload}
            />`
      }
    </form>
    <${Problem} error=${failed.error} />
    <table data-testid="failed-runs">
      <thead>
        <tr>
          <th>Run</th>
          <th>Task</th>
          <th>Error</th>
          <th>Attempts</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        ${(failed.data?.items ?? []).map(
          (run) =>
            html`<tr data-run-id=${run.id}>
              <td><a href=${`#/runs/${run.id}`}>#${run.id}</a></td>
              <td>${run.task}</td>
              <td class="error" title=${run.error ? errorText(run.error) : ''}>
                ${run.error ? `${run.error.type}: ${run.error.message}` : ''}
              </td>
              <td>${run.attempts}</td>
              <td>${time(run.finishedAt)} <span class="muted">(${ago(run.finishedAt)})</span></td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${failed.data && failed.data.items.length === 0 ? html`<p class="muted">No failed runs match.</p>` : null}
  </section>`;
}

/** On a filtered runs list: retry or cancel every run the filter matches, where the status allows it. */
function RunsBulkActions({ filters, onDone }) {
  const readOnly = useReadOnly();
  if (readOnly || !Object.values(filters).some(Boolean)) return null;
  const filter = Object.fromEntries(Object.entries(filters).filter(([, value]) => value));
  const retryable = !filters.status || ['failed', 'cancelled'].includes(filters.status);
  const cancellable = !filters.status || !TERMINAL.includes(filters.status);
  return html`<div class="toolbar" data-testid="runs-bulk">
    ${retryable ? html`<${BulkButton} action="retry" filter=${filter} label="Retry matching" onDone=${onDone} />` : null}
    ${
      cancellable
        ? html`<${BulkButton}
            action="cancel"
            filter=${filter}
            className="danger"
            label="Cancel matching"
            onDone=${onDone}
          />`
        : null
    }
  </div>`;
}

// --- schedules ------------------------------------------------------------------------------------

function CronPreview() {
  const [expression, setExpression] = useState('*/15 * * * *');
  const [timezone, setTimezone] = useState('UTC');
  const [preview, setPreview] = useState(undefined);
  const [error, setError] = useState(undefined);
  const submit = async (event) => {
    event.preventDefault();
    setError(undefined);
    try {
      setPreview(
        await api('/schedules/preview', {
          method: 'POST',
          body: { trigger: { type: 'cron', expression, timezone }, count: 5 },
        }),
      );
    } catch (e) {
      setPreview(undefined);
      setError(e);
    }
  };
  return html`<div>
    <h3>Cron preview</h3>
    <form class="inline" onSubmit=${submit} aria-label="Cron preview">
      <input
        aria-label="Cron expression"
        value=${expression}
        onInput=${(e) => setExpression(e.currentTarget.value)}
      />
      <input aria-label="Time zone" value=${timezone} onInput=${(e) => setTimezone(e.currentTarget.value)} />
      <button type="submit">Preview</button>
    </form>
    <${Problem} error=${error} />
    ${
      preview
        ? html`<ol data-testid="preview">
            ${preview.upcoming.map((at) => html`<li>${time(at)} <span class="muted">(${ago(at)})</span></li>`)}
          </ol>`
        : null
    }
  </div>`;
}

function SchedulesPage() {
  // Lists leave out upcoming fire times unless asked, and allow at most 100 per page with them.
  const [schedules, reload] = usePoll(() => api('/schedules?limit=100&include=upcoming'), []);
  const action = useAction(reload);
  const readOnly = useReadOnly();
  const post = (id, verb) => action.act(() => api(`/schedules/${id}/${verb}`, { method: 'POST' }));
  const remove = (s) => {
    if (window.confirm(`Delete schedule "${s.name}"? Its runs stay.`))
      void action.act(() => api(`/schedules/${s.id}`, { method: 'DELETE' }));
  };
  return html`<section>
    <h2>Schedules</h2>
    <${Problem} error=${action.error ?? schedules.error} />
    <table data-testid="schedules">
      <thead>
        <tr>
          <th>Schedule</th>
          <th>Task</th>
          <th>Trigger</th>
          <th>State</th>
          <th>Next fire times</th>
          <th>Last run</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${(schedules.data?.items ?? []).map(
          (s) =>
            html`<tr data-schedule-id=${s.id}>
              <td>${s.name} <span class="muted">#${s.id}</span></td>
              <td><a href=${`#/runs?task=${encodeURIComponent(s.task)}`}>${s.task}</a></td>
              <td>${describeTrigger(s.trigger)}</td>
              <td data-testid="schedule-state">${s.enabled ? 'active' : 'paused'}</td>
              <td>
                ${
                  s.upcoming?.length
                    ? s.upcoming
                        .slice(0, 3)
                        .map((at) => html`<div>${time(at)} <span class="muted">(${ago(at)})</span></div>`)
                    : html`<span class="muted">none</span>`
                }
              </td>
              <td>${time(s.lastRunAt)}</td>
              <td>
                ${
                  readOnly
                    ? null
                    : html`<div class="toolbar">
                        ${
                          s.enabled
                            ? html`<button disabled=${action.busy} onClick=${() => post(s.id, 'pause')}>
                                Pause
                              </button>`
                            : html`<button disabled=${action.busy} onClick=${() => post(s.id, 'resume')}>
                                Resume
                              </button>`
                        }
                        <button disabled=${action.busy} onClick=${() => post(s.id, 'trigger')}>
                          Trigger
                        </button>
                        <button
                          class="danger"
                          disabled=${action.busy || s.owner != null}
                          onClick=${() => remove(s)}
                        >
                          Delete
                        </button>
                      </div>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${schedules.data && schedules.data.items.length === 0 ? html`<p class="muted">No schedules yet.</p>` : null}
    <${CronPreview} />
  </section>`;
}

// --- bots -----------------------------------------------------------------------------------------

function BotsPage() {
  const [bots] = usePoll(() => api('/bot-configs?limit=200'), [], 5000);
  return html`<section>
    <h2>Bots</h2>
    <${Problem} error=${bots.error} />
    <table data-testid="bots">
      <thead>
        <tr>
          <th>Bot</th>
          <th>Subreddits</th>
          <th>Auto scrape</th>
          <th>Next scrape</th>
          <th>Last scrape</th>
        </tr>
      </thead>
      <tbody>
        ${(bots.data?.items ?? []).map(
          (b) =>
            html`<tr data-bot-id=${b.id}>
              <td><a href=${`#/bots/${b.id}`}>${b.name}</a></td>
              <td>${b.subreddits.map((s) => `r/${s}`).join(', ')}</td>
              <td>${b.autoScrapeEnabled ? `every ${b.scrapeIntervalHours}h` : 'off'}</td>
              <td>${time(b.nextScrapeAt)}</td>
              <td>${time(b.lastScrapeAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${bots.data && bots.data.items.length === 0 ? html`<p class="muted">No bots yet.</p>` : null}
  </section>`;
}

function BotPosts({ id }) {
  const [bot] = usePoll(() => api(`/bot-configs/${id}`), [id], 5000);
  const [posts] = usePoll(() => api(`/bot-configs/${id}/posts?limit=100`), [id], 5000);
  return html`<section>
    <h2>${bot.data?.name ?? `Bot #${id}`} <a class="muted" href="#/bots">all bots</a></h2>
    <p><a href=${`#/runs?task=scrape.bot`}>scrape runs</a></p>
    <${Problem} error=${bot.error ?? posts.error} />
    <table data-testid="posts">
      <thead>
        <tr>
          <th>Post</th>
          <th>Subreddit</th>
          <th>Score</th>
          <th>Comments</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        ${(posts.data?.items ?? []).map(
          (p) =>
            html`<tr>
              <td>
                ${
                  redditHref(p.permalink)
                    ? html`<a href=${redditHref(p.permalink)} rel="noreferrer noopener" target="_blank"
                        >${p.title}</a
                      >`
                    : p.title
                }
              </td>
              <td>r/${p.subreddit}</td>
              <td>${p.score}</td>
              <td>${p.numComments}</td>
              <td>${time(p.createdUtc)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${posts.data && posts.data.items.length === 0 ? html`<p class="muted">No posts yet.</p>` : null}
  </section>`;
}

// --- shell ----------------------------------------------------------------------------------------

function Page({ path, params }) {
  let match;
  if ((match = /^\/runs\/(\d+)$/.exec(path))) return html`<${RunDetail} id=${match[1]} />`;
  if (path === '/runs') return html`<${RunsPage} params=${params} />`;
  if ((match = /^\/workflows\/(\d+)$/.exec(path))) return html`<${WorkflowDetail} id=${match[1]} />`;
  if (path === '/workflows') return html`<${WorkflowsPage} params=${params} />`;
  if (path === '/failed') return html`<${FailedPage} params=${params} />`;
  if (path === '/schedules') return html`<${SchedulesPage} />`;
  if (path === '/tasks') return html`<${TasksPage} />`;
  if ((match = /^\/bots\/(\d+)$/.exec(path))) return html`<${BotPosts} id=${match[1]} />`;
  if (path === '/bots') return html`<${BotsPage} />`;
  if ((match = /^\/webhooks\/(\d+)$/.exec(path)))
    return html`<${WebhookDetail} id=${match[1]} params=${params} />`;
  if (path === '/webhooks') return html`<${WebhooksPage} />`;
  return html`<${Overview} />`;
}

/** Before /me answers (or if it fails for another reason than 401): the API still decides every request. */
const UNKNOWN = { name: null, role: 'admin', authenticated: false };

function App() {
  // undefined: checking whether the API wants a token at all; null: signed out; else GET /me's answer.
  const [me, setMe] = useState(undefined);
  const route = useHashRoute();
  const checked = useRef(false);
  useEffect(() => {
    const onUnauthorized = () => {
      setToken('');
      setMe(null);
    };
    window.addEventListener('tickwork:unauthorized', onUnauthorized);
    if (!checked.current) {
      checked.current = true;
      api('/me').then(setMe, (e) => setMe(e.status === 401 ? null : UNKNOWN));
    }
    return () => window.removeEventListener('tickwork:unauthorized', onUnauthorized);
  }, []);
  if (me === undefined) return html`<p class="muted">Loading…</p>`;
  if (me === null) return html`<${SignIn} onSignedIn=${setMe} />`;
  const section = route.path.split('/')[1] ?? '';
  const link = (href, name, label) =>
    html`<a href=${href} class=${section === name ? 'active' : ''}>${label}</a>`;
  return html`<${Identity.Provider} value=${me}>
    <header>
      <strong>Tickwork</strong>
      <nav>
        ${link('#/', '', 'Overview')} ${link('#/runs', 'runs', 'Runs')}
        ${link('#/workflows', 'workflows', 'Workflows')} ${link('#/failed', 'failed', 'Failed')}
        ${link('#/tasks', 'tasks', 'Tasks')} ${link('#/schedules', 'schedules', 'Schedules')}
        ${link('#/bots', 'bots', 'Bots')} ${link('#/webhooks', 'webhooks', 'Webhooks')}
      </nav>
      ${
        me.role === 'read'
          ? html`<span
              class="badge"
              data-testid="read-only"
              title=${`Signed in with the read token "${me.name}"`}
              >read-only</span
            >`
          : null
      }
      ${me.name ? html`<span class="muted" data-testid="token-name">${me.name}</span>` : null}
      ${
        hasToken()
          ? html`<a
              href="#/"
              onClick=${() => {
                setToken('');
                setMe(null);
              }}
              >Sign out</a
            >`
          : null
      }
    </header>
    <main><${Page} path=${route.path} params=${route.params} /></main>
  <//>`;
}

render(html`<${App} />`, document.getElementById('app'));
