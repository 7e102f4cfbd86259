// The Workflows pages: a list, and one workflow drawn as its canvas (chains top to bottom, groups side
// by side), each task node with its run's status, progress and result. Both refresh from the event
// stream (usePoll), on events of the workflow shown.
import { useState } from 'preact/hooks';
import { useReadOnly } from './access.js';
import { ago, api, html, json, Problem, query, Status, time, useAction, usePoll } from './lib.js';
import { Progress } from './progress.js';

const WORKFLOW_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'];

const counts = (runs) =>
  Object.entries(runs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => html`<span class="count"><${Status} status=${status} /> ${n}</span>`);

export function WorkflowsPage({ params }) {
  const status = params.get('status') ?? '';
  const [list] = usePoll(
    () => api(`/workflows${query({ status, limit: 50 })}`),
    [status],
    undefined,
    (event) => event.type.startsWith('workflow.'),
  );
  return html`<section>
    <h2>Workflows</h2>
    <form class="inline" aria-label="Filters">
      <select
        aria-label="Status"
        value=${status}
        onChange=${(e) => (location.hash = `#/workflows${query({ status: e.currentTarget.value })}`)}
      >
        <option value="">any status</option>
        ${WORKFLOW_STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
    </form>
    <${Problem} error=${list.error} />
    <table data-testid="workflows">
      <thead>
        <tr>
          <th>Workflow</th>
          <th>Name</th>
          <th>Status</th>
          <th>Runs</th>
          <th>Created</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        ${(list.data?.items ?? []).map(
          (w) =>
            html`<tr>
              <td><a href=${`#/workflows/${w.id}`}>#${w.id}</a></td>
              <td>${w.name ?? html`<span class="muted">—</span>`}</td>
              <td><${Status} status=${w.status} /></td>
              <td class="counts">${w.runsTotal}: ${counts(w.runs)}</td>
              <td title=${time(w.createdAt)}>${ago(w.createdAt)}</td>
              <td title=${time(w.finishedAt)}>${ago(w.finishedAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${list.data && list.data.items.length === 0 ? html`<p class="muted">No workflows yet.</p>` : null}
  </section>`;
}

const short = (value) => {
  if (value === null || value === undefined) return '';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
};

/** A task node: its run, status, progress, and result or error. */
function TaskNode({ node }) {
  return html`<div class=${`wf-task wf-${node.status}`} data-testid="workflow-node" data-run=${node.runId}>
    <div class="wf-head">
      ${node.key ? html`<strong class="wf-key">${node.key}</strong>` : null}
      <a href=${`#/runs/${node.runId}`}>${node.task} #${node.runId}</a>
      <${Status} status=${node.status} />
    </div>
    ${
      node.dependsOn?.length
        ? html`<div class="muted wf-deps">
            after
            ${node.dependsOn.map((d) => (typeof d === 'string' ? d : `${d.key} (${d.onParentFailure})`)).join(', ')}
          </div>`
        : null
    }
    <${Progress} progress=${node.progress} compact=${true} />
    ${node.waitingReason ? html`<div class="muted">${node.waitingReason}</div>` : null}
    ${
      node.error
        ? html`<div class="error wf-error" title=${node.error.message}>
            ${node.error.type}: ${node.error.message}
          </div>`
        : node.status === 'succeeded'
          ? html`<code class="wf-result" title=${json(node.result)}>${short(node.result)}</code>`
          : null
    }
  </div>`;
}

/** Any node of the canvas, drawn by its shape. */
function Node({ node }) {
  switch (node?.type) {
    case 'task':
      return html`<${TaskNode} node=${node} />`;
    case 'chain':
      return html`<div class="wf-chain" data-testid="workflow-chain">
        ${node.steps.map(
          (step, i) =>
            html`${i > 0 ? html`<div class="wf-arrow" aria-hidden="true">↓</div>` : null}<${Node}
                node=${step}
              />`,
        )}
      </div>`;
    case 'group':
      return html`<div class="wf-group" data-testid="workflow-group">
        ${node.tasks.map((task) => html`<${Node} node=${task} />`)}
      </div>`;
    case 'chord':
      return html`<div class="wf-chain" data-testid="workflow-chord">
        <div class="wf-group">${node.group.map((task) => html`<${Node} node=${task} />`)}</div>
        <div class="wf-arrow" aria-hidden="true">↓ callback</div>
        <${Node} node=${node.callback} />
      </div>`;
    case 'dag':
      return html`<div class="wf-group wf-dag" data-testid="workflow-dag">
        ${node.nodes.map((n) => html`<${TaskNode} node=${{ ...n, type: 'task' }} />`)}
      </div>`;
    default:
      return null;
  }
}

export function WorkflowDetail({ id }) {
  const readOnly = useReadOnly();
  const [workflow, reload] = usePoll(
    () => api(`/workflows/${id}`),
    [id],
    undefined,
    (event) => event.workflowId === Number(id),
  );
  const { error, busy, act } = useAction(reload);
  const [shown, setShown] = useState(false);
  const w = workflow.data;
  const failedRuns = w ? (w.runs.failed ?? 0) + (w.runs.cancelled ?? 0) : 0;
  return html`<section>
    <h2>
      Workflow #${id} ${w?.name ? html`<span class="muted wf-back">${w.name}</span>` : null}
      <a class="muted wf-back" href="#/workflows">all workflows</a>
    </h2>
    <${Problem} error=${workflow.error ?? error} />
    ${
      w
        ? html`<div class="wf-summary">
              <${Status} status=${w.status} />
              <span class="counts" data-testid="workflow-counts">${w.runsTotal} runs: ${counts(w.runs)}</span>
              <span class="muted"
                >created ${time(w.createdAt)}${w.finishedAt ? `, finished ${time(w.finishedAt)}` : ''}</span
              >
              ${
                readOnly
                  ? null
                  : html`${
                      w.status === 'running'
                        ? html`<button
                            disabled=${busy}
                            onClick=${() =>
                              window.confirm(`Cancel what has not finished in workflow #${id}?`) &&
                              act(() => api(`/workflows/${id}/cancel`, { method: 'POST' }))}
                          >
                            Cancel workflow
                          </button>`
                        : null
                    }
                    ${
                      failedRuns > 0
                        ? html`<button
                            class="primary"
                            disabled=${busy}
                            onClick=${() => act(() => api(`/workflows/${id}/retry`, { method: 'POST' }))}
                          >
                            Retry failed
                          </button>`
                        : null
                    }`
              }
            </div>
            <div class="wf-tree" data-testid="workflow-tree"><${Node} node=${w.tree} /></div>
            <h3>Result</h3>
            ${
              w.resultOmitted
                ? html`<p class="muted">Larger than WORKFLOW_RESULT_MAX_BYTES: see its runs.</p>`
                : html`<details open=${shown} onToggle=${(e) => setShown(e.currentTarget.open)}>
                    <summary>${short(w.result) || 'null'}</summary>
                    <pre data-testid="workflow-result">${json(w.result)}</pre>
                  </details>`
            }`
        : html`<p class="muted">Loading…</p>`
    }
  </section>`;
}
