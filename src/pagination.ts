// Keyset pagination on UUIDv7 ids (time-ordered): the cursor is the last id of the page.
import { z } from 'zod';

export const pageQuery = {
  cursor: z.uuid({ message: 'must be a cursor returned by a previous page' }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
};

export interface PageParams {
  cursor?: string;
  limit: number;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** rows were fetched with limit + 1, so one extra row means there is a next page. */
export function toPage<R extends { id: string }, T>(rows: R[], limit: number, view: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { data: kept.map(view), next_cursor: more ? kept[kept.length - 1]!.id : null };
}
