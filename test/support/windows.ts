// Rate limits count clock minutes (src/http/shared-counts.ts): a test that counts up to a limit
// starts well inside one, waiting out the last seconds of a minute, so that the next minute's fresh
// window does not begin halfway through it.
export async function wellInsideAMinute(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 50_000) await new Promise((r) => setTimeout(r, 60_100 - into));
}
