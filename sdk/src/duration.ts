// Timeouts are written the way people say them ("90s", "15m", "4h", "2d"); the API takes seconds.

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration as seconds: a number is seconds already; a string is `<number><s|m|h|d>` (a bare
 *  number string is seconds too). Throws a TypeError on anything else, so a typo never becomes
 *  the server's 24-hour default. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return checked(value, String(value));
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(value);
  if (!match) throw new TypeError(`timeout "${value}" is not a duration like 90, "90s", "15m", "4h" or "2d"`);
  const unit = UNIT_SECONDS[(match[2] || 's').toLowerCase()]!;
  return checked(Number(match[1]) * unit, value);
}

function checked(seconds: number, shown: string): number {
  if (!Number.isFinite(seconds) || seconds < 1) throw new TypeError(`timeout ${shown} must be at least 1 second`);
  // The API counts whole seconds; rounding up never asks for less time than was written.
  return Math.ceil(seconds);
}
