import type { Webhook, WebhookDelivery } from '@tickwork/client';
import { details, table, time } from './format.js';

const filters = (w: Webhook): string =>
  [
    w.task === null ? '' : `task=${w.task}`,
    w.queue === null ? '' : `queue=${w.queue}`,
    w.workflowId === null ? '' : `workflow=${w.workflowId}`,
  ]
    .filter(Boolean)
    .join(' ') || '-';

export function webhookTable(webhooks: Webhook[]): string {
  return table(
    ['ID', 'STATE', 'URL', 'EVENTS', 'FILTERS'],
    webhooks.map((w) => [
      String(w.id),
      w.enabled ? 'enabled' : 'disabled',
      w.url,
      w.eventTypes.join(','),
      filters(w),
    ]),
  );
}

export function webhookDetails(w: Webhook): string {
  return details(`Webhook ${w.id}`, [
    ['url', w.url],
    ['state', w.enabled ? 'enabled' : 'disabled'],
    ['events', w.eventTypes.join(', ')],
    ['filters', filters(w)],
    ['description', w.description ?? '-'],
    // Shown once, in the answer that created or rotated it.
    ...(w.secret === undefined
      ? [['secret', `${w.secretHint} (shown only when created or rotated)`] as [string, string]]
      : [['secret', `${w.secret}  (shown this once: give it to the receiver)`] as [string, string]]),
    ['created', time(w.createdAt)],
    ['updated', time(w.updatedAt)],
  ]);
}

/** The last attempt's result: its status code and error, or what is next. */
function lastOutcome(d: WebhookDelivery): string {
  const code = d.lastStatusCode === null ? '' : `HTTP ${d.lastStatusCode}`;
  const error = d.lastError ?? '';
  const text = [code, error.startsWith(`answered ${d.lastStatusCode}`) ? '' : error]
    .filter(Boolean)
    .join(' ');
  return (text.length > 80 ? `${text.slice(0, 79)}…` : text) || '-';
}

export function deliveryTable(deliveries: WebhookDelivery[]): string {
  return table(
    ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT ATTEMPT', 'CREATED'],
    deliveries.map((d) => [
      String(d.id),
      d.eventType,
      d.status,
      String(d.attempts),
      lastOutcome(d),
      time(d.nextAttemptAt),
      time(d.createdAt),
    ]),
  );
}

export function deliveryDetails(d: WebhookDelivery): string {
  const head = details(`Delivery ${d.id} (webhook ${d.webhookId})`, [
    ['event', `${d.eventType}${d.eventId ? ` (${d.eventId})` : ''}`],
    ['status', d.status],
    ['attempts', String(d.attempts)],
    ['next attempt', time(d.nextAttemptAt)],
    ['delivered', time(d.deliveredAt)],
    ['created', time(d.createdAt)],
    ['payload', JSON.stringify(d.payload ?? null, null, 2)],
  ]);
  const attempts = d.attemptLog ?? [];
  if (attempts.length === 0) return head;
  return `${head}\n${table(
    ['ATTEMPT', 'AT', 'STATUS', 'DURATION', 'ERROR'],
    attempts.map((a) => [
      String(a.attempt),
      time(a.at),
      a.statusCode === null ? '-' : String(a.statusCode),
      a.durationMs === null ? '-' : `${a.durationMs}ms`,
      a.error ?? '-',
    ]),
  )}`;
}
