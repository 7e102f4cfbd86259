/** How many items a list returns when the request names no `limit`. */
export const DEFAULT_PAGE_SIZE = 50;

/**
 * One page of a list fetched with `limit + 1` rows: the extra row only says that another page exists,
 * whose cursor is the last item's position.
 */
export function toPage<Row, Item>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => string,
): { items: Item[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(toItem), nextCursor: rows.length > limit && last ? cursorOf(last) : null };
}

/** The cursor of id-ordered lists: the last id seen. */
export const byId = (row: { id: number }): string => String(row.id);
