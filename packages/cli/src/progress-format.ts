import type { Run } from '@tickwork/client';

/** What a task last reported (ctx.progress), as the API shows it. */
export type Progress = NonNullable<Run['progress']>;

const count = (n: number) => n.toLocaleString('en');

/** `45%`, `9/20 (45%)` or `1,200 done`: the figures of a report, without its message. */
export function progressFigures(p: Progress): string {
  const percent = p.fraction === null ? undefined : `${Math.floor(p.fraction * 100)}%`;
  if (p.done === undefined) return percent ?? '-';
  if (p.total === undefined) return `${count(p.done)} done`;
  return `${count(p.done)}/${count(p.total)}${percent ? ` (${percent})` : ''}`;
}

/** `[#####···············]`: a bar of `width` cells, for a fraction; empty for none. */
export function progressBar(fraction: number | null, width = 20): string {
  if (fraction === null) return '';
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'·'.repeat(width - filled)}]`;
}

/** The run detail's progress line: bar, figures, message, and when it was reported. */
export function progressDetails(p: Progress, time: (iso: string) => string): string {
  const bar = progressBar(p.fraction);
  const message = p.message ? ` · ${p.message}` : '';
  return `${bar ? `${bar} ` : ''}${progressFigures(p)}${message}\n(reported ${time(p.at)})`;
}

/** A list's cell: the figures and the message, cut to `max` characters. */
export function progressCell(p: Progress | null, max = 48): string {
  if (!p) return '';
  const text = `${progressFigures(p)}${p.message ? ` ${p.message}` : ''}`.replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
