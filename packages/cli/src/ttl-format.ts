/** A result TTL in its largest whole units: `90s`, `15m`, `2h30m`, `7d`, `1d12h`. */
export function ttlText(totalSeconds: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = totalSeconds;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
    // Two units say enough: 1d12h, not 1d12h3m4s.
    if (parts.length === 2) break;
  }
  return parts.length > 0 ? parts.join('') : '0s';
}
