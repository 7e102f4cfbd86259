// The Webhooks pages: the list with a create form and enable/disable/test/delete, and one webhook's
// deliveries with their status, attempts and payload, and a Redeliver button. Deliveries change without
// an event in the event stream (an attempt's outcome is not one), so these pages poll on their own.
// Read tokens see everything but no action.
import { useEffect, useState } from 'preact/hooks';
import { useReadOnly } from './access.js';
import { ago, api, html, json, Problem, query, time, useAction } from './lib.js';
import {
  DEFAULT_WEBHOOK_EVENT_TYPES,
  WEBHOOK_EVENT_TYPES,
} from '../../../packages/core/src/webhooks/event-types.ts';

const REFRESH_MS = 2000;
const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'];

/** Loads `load()` now and every REFRESH_MS while mounted (and while `deps` stay the same). */
function useRefreshed(load, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    let timer;
    const run = async () => {
      try {
        const data = await load();
        if (alive) setState({ data, error: undefined });
      } catch (error) {
        if (alive) setState((s) => ({ data: s.data, error }));
      }
      if (alive) timer = setTimeout(run, REFRESH_MS);
    };
    void run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return [state, () => setTick((t) => t + 1)];
}

const filtersText = (w) =>
  [w.task && `task ${w.task}`, w.queue && `queue ${w.queue}`, w.workflowId && `workflow #${w.workflowId}`]
    .filter(Boolean)
    .join(', ') || '—';

const DeliveryStatus = ({ status }) =>
  html`<span class=${`status status-${status}`} data-testid="delivery-status">${status}</span>`;

/** Shown once, right after a create or a rotation: the API never shows the secret again. */
const SecretNotice = ({ secret, onDismiss }) =>
  secret
    ? html`<div class="notice" role="status">
        <p>
          The signing secret, shown this once: give it to the receiver (docs/webhooks.md shows how to check a
          signature).
        </p>
        <code data-testid="webhook-secret">${secret}</code>
        <button onClick=${onDismiss}>Done</button>
      </div>`
    : null;

function CreateWebhook({ onCreated }) {
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState(new Set(DEFAULT_WEBHOOK_EVENT_TYPES));
  const [task, setTask] = useState('');
  const [queue, setQueue] = useState('');
  const [description, setDescription] = useState('');
  const action = useAction();
  const toggle = (type) => {
    const next = new Set(types);
    if (next.has(type)) next.delete(type);
    else next.add(type);
    setTypes(next);
  };
  const submit = (event) => {
    event.preventDefault();
    void action.act(async () => {
      const body = { url: url.trim(), eventTypes: WEBHOOK_EVENT_TYPES.filter((t) => types.has(t)) };
      if (task.trim()) body.task = task.trim();
      if (queue.trim()) body.queue = queue.trim();
      if (description.trim()) body.description = description.trim();
      const created = await api('/webhooks', { method: 'POST', body });
      setUrl('');
      onCreated(created);
    });
  };
  return html`<form class="create-webhook" onSubmit=${submit} aria-label="New webhook">
    <h3>New webhook</h3>
    <label
      >URL <input name="url" value=${url} onInput=${(e) => setUrl(e.currentTarget.value)} required
    /></label>
    <fieldset>
      <legend>Events</legend>
      ${WEBHOOK_EVENT_TYPES.map(
        (type) =>
          html`<label class="check"
            ><input type="checkbox" checked=${types.has(type)} onChange=${() => toggle(type)} />${type}</label
          >`,
      )}
    </fieldset>
    <label>Task <input name="task" value=${task} onInput=${(e) => setTask(e.currentTarget.value)} /></label>
    <label
      >Queue <input name="queue" value=${queue} onInput=${(e) => setQueue(e.currentTarget.value)}
    /></label>
    <label
      >Description
      <input name="description" value=${description} onInput=${(e) => setDescription(e.currentTarget.value)}
    /></label>
    <button class="primary" type="submit" disabled=${action.busy}>Create</button>
    <${Problem} error=${action.error} />
  </form>`;
}

export function WebhooksPage() {
  const [hooks, reload] = useRefreshed(() => api('/webhooks?limit=500'), []);
  const [secret, setSecret] = useState(undefined);
  const action = useAction(reload);
  const readOnly = useReadOnly();
  const change = (w, body) => action.act(() => api(`/webhooks/${w.id}`, { method: 'PATCH', body }));
  const test = (w) =>
    action.act(async () => {
      const ping = await api(`/webhooks/${w.id}/test`, { method: 'POST' });
      location.hash = `#/webhooks/${w.id}?delivery=${ping.id}`;
    });
  const remove = (w) => {
    if (window.confirm(`Delete webhook #${w.id} (${w.url}) and its deliveries?`))
      void action.act(() => api(`/webhooks/${w.id}`, { method: 'DELETE' }));
  };
  return html`<section>
    <h2>Webhooks</h2>
    <${SecretNotice} secret=${secret} onDismiss=${() => setSecret(undefined)} />
    <${Problem} error=${action.error ?? hooks.error} />
    <table data-testid="webhooks">
      <thead>
        <tr>
          <th>Webhook</th>
          <th>URL</th>
          <th>Events</th>
          <th>Filters</th>
          <th>State</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${(hooks.data?.items ?? []).map(
          (w) =>
            html`<tr data-webhook-id=${w.id}>
              <td>
                <a href=${`#/webhooks/${w.id}`}>#${w.id}</a>
                ${w.description ? html` <span class="muted">${w.description}</span>` : null}
              </td>
              <td><code>${w.url}</code></td>
              <td>${w.eventTypes.join(', ')}</td>
              <td>${filtersText(w)}</td>
              <td data-testid="webhook-state">${w.enabled ? 'enabled' : 'disabled'}</td>
              <td>
                ${
                  readOnly
                    ? null
                    : html`<div class="toolbar">
                        ${
                          w.enabled
                            ? html`<button
                                disabled=${action.busy}
                                onClick=${() => change(w, { enabled: false })}
                              >
                                Disable
                              </button>`
                            : html`<button
                                disabled=${action.busy}
                                onClick=${() => change(w, { enabled: true })}
                              >
                                Enable
                              </button>`
                        }
                        <button disabled=${action.busy || !w.enabled} onClick=${() => test(w)}>Test</button>
                        <button class="danger" disabled=${action.busy} onClick=${() => remove(w)}>
                          Delete
                        </button>
                      </div>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${hooks.data && hooks.data.items.length === 0 ? html`<p class="muted">No webhooks yet.</p>` : null}
    ${
      readOnly
        ? null
        : html`<${CreateWebhook}
            onCreated=${(created) => {
              setSecret(created.secret);
              reload();
            }}
          />`
    }
  </section>`;
}

function Attempts({ attempts }) {
  if (!attempts?.length) return html`<p class="muted">No attempt has ended yet.</p>`;
  return html`<table data-testid="delivery-attempts">
    <thead>
      <tr>
        <th>Attempt</th>
        <th>At</th>
        <th>Answer</th>
        <th>Duration</th>
        <th>Error</th>
      </tr>
    </thead>
    <tbody>
      ${attempts.map(
        (a) =>
          html`<tr>
            <td>${a.attempt}</td>
            <td>${time(a.at)}</td>
            <td>${a.statusCode ?? '—'}</td>
            <td>${a.durationMs === null ? '—' : `${a.durationMs} ms`}</td>
            <td class=${a.error ? 'error' : ''}>${a.error ?? '—'}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** One delivery opened below the list: its attempts and the payload every attempt sends. */
function DeliveryDetail({ id }) {
  const [delivery] = useRefreshed(() => api(`/webhook-deliveries/${id}`), [id]);
  const d = delivery.data;
  return html`<section class="delivery-detail" data-testid="delivery-detail">
    <h3>Delivery #${id} ${d ? html`<${DeliveryStatus} status=${d.status} />` : null}</h3>
    <${Problem} error=${delivery.error} />
    ${
      d
        ? html`<${Attempts} attempts=${d.attemptLog} />
            <h4>Payload</h4>
            <pre>${json(d.payload)}</pre>`
        : null
    }
  </section>`;
}

export function WebhookDetail({ id, params }) {
  const status = params.get('status') ?? '';
  const open = params.get('delivery');
  const [hook] = useRefreshed(() => api(`/webhooks/${id}`), [id]);
  const [deliveries, reload] = useRefreshed(
    () => api(`/webhooks/${id}/deliveries${query({ status, limit: 100 })}`),
    [id, status],
  );
  const [secret, setSecret] = useState(undefined);
  const action = useAction(reload);
  const readOnly = useReadOnly();
  const w = hook.data;
  const go = (changes) => {
    const next = { status, delivery: open, ...changes };
    location.hash = `#/webhooks/${id}${query(next)}`;
  };
  const redeliver = (d) =>
    action.act(async () => {
      await api(`/webhook-deliveries/${d.id}/redeliver`, { method: 'POST' });
      go({ delivery: d.id });
    });
  const rotate = () => {
    if (
      window.confirm(
        'Rotate the secret? Receivers must get the new one: later deliveries are signed with it.',
      )
    )
      void action.act(async () =>
        setSecret((await api(`/webhooks/${id}`, { method: 'PATCH', body: { rotateSecret: true } })).secret),
      );
  };
  return html`<section>
    <h2>Webhook #${id} <a class="muted" href="#/webhooks">all webhooks</a></h2>
    <${SecretNotice} secret=${secret} onDismiss=${() => setSecret(undefined)} />
    <${Problem} error=${action.error ?? hook.error ?? deliveries.error} />
    ${
      w
        ? html`<dl>
            <dt>URL</dt>
            <dd><code>${w.url}</code></dd>
            <dt>State</dt>
            <dd data-testid="webhook-state">${w.enabled ? 'enabled' : 'disabled'}</dd>
            <dt>Events</dt>
            <dd>${w.eventTypes.join(', ')}</dd>
            <dt>Filters</dt>
            <dd>${filtersText(w)}</dd>
            <dt>Secret</dt>
            <dd>
              <code>${w.secretHint}</code>
              ${readOnly ? null : html` <button disabled=${action.busy} onClick=${rotate}>Rotate</button>`}
            </dd>
            <dt>Created</dt>
            <dd>${time(w.createdAt)}</dd>
          </dl>`
        : null
    }
    <h3>Deliveries</h3>
    <form class="inline" aria-label="Delivery filters">
      <select
        aria-label="Delivery status"
        value=${status}
        onChange=${(e) => go({ status: e.currentTarget.value })}
      >
        <option value="">any status</option>
        ${DELIVERY_STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
    </form>
    <table data-testid="deliveries">
      <thead>
        <tr>
          <th>Delivery</th>
          <th>Event</th>
          <th>Status</th>
          <th>Attempts</th>
          <th>Last answer</th>
          <th>Next attempt</th>
          <th>Created</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${(deliveries.data?.items ?? []).map(
          (d) =>
            html`<tr data-delivery-id=${d.id}>
              <td><a href=${`#/webhooks/${id}${query({ status, delivery: d.id })}`}>#${d.id}</a></td>
              <td>${d.eventType}</td>
              <td><${DeliveryStatus} status=${d.status} /></td>
              <td data-testid="delivery-attempts-count">${d.attempts}</td>
              <td class=${d.lastError ? 'error' : ''}>
                ${d.lastStatusCode ?? ''} ${d.lastError ?? (d.lastStatusCode ? '' : '—')}
              </td>
              <td title=${time(d.nextAttemptAt)}>${d.nextAttemptAt ? ago(d.nextAttemptAt) : '—'}</td>
              <td title=${time(d.createdAt)}>${ago(d.createdAt)}</td>
              <td>
                ${
                  readOnly
                    ? null
                    : html`<button disabled=${action.busy || !w?.enabled} onClick=${() => redeliver(d)}>
                        Redeliver
                      </button>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${deliveries.data && deliveries.data.items.length === 0 ? html`<p class="muted">No deliveries.</p>` : null}
    ${open ? html`<${DeliveryDetail} id=${open} />` : null}
  </section>`;
}
