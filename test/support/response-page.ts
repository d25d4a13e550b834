// Answers on the response page as a browser would: GET it for the CSRF token and cookie, then POST
// the form.
import type { Response, TestApp } from './app.js';

export async function answerOnPage(t: TestApp, url: string, fields: Record<string, string>): Promise<Response> {
  const path = url.startsWith('/') ? url : new URL(url).pathname;
  const page = await t.app.inject({ method: 'GET', url: path });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const cookie = [page.headers['set-cookie'] ?? []]
    .flat()
    .find((c) => c.startsWith('_csrf='))!
    .split(';')[0]!;
  return t.call('POST', path, {
    body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
  });
}
