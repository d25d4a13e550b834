// A browser over inject() for the dashboard's tests: a cookie jar that keeps what a browser would
// keep and sends it back, the page's CSRF token, and sign-in with a member key.
import { expect } from 'vitest';
import type { TestApp } from './app.js';

const FORM = 'application/x-www-form-urlencoded';

/** A redirect's target without its notice signature, decoded. */
export const target = (location: string | undefined) => decodeURIComponent(String(location).replace(/&sig=[^&]*$/, ''));

export function dashboardBrowser(t: TestApp) {
  /** A cookie jar over inject(): what a browser would keep and send back. */
  function browser() {
    const jar = new Map<string, string>();
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const keep = (res: { headers: Record<string, unknown> }) => {
      for (const c of [res.headers['set-cookie'] ?? []].flat() as string[]) {
        const [pair] = c.split(';');
        const [k, v] = pair!.split('=');
        if (v === '') jar.delete(k!);
        else jar.set(k!, v!);
      }
    };
    return {
      jar,
      async get(url: string) {
        const res = await t.app.inject({ method: 'GET', url, headers: { cookie: cookie() } });
        keep(res);
        return {
          status: res.statusCode,
          html: res.body,
          location: res.headers.location as string | undefined,
          headers: res.headers,
          csrf: /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1],
        };
      },
      async post(url: string, fields: Record<string, string>) {
        const res = await t.app.inject({
          method: 'POST',
          url,
          payload: new URLSearchParams(fields).toString(),
          headers: { 'content-type': FORM, cookie: cookie() },
        });
        keep(res);
        return {
          status: res.statusCode,
          html: res.body,
          location: res.headers.location as string | undefined,
          headers: res.headers,
        };
      },
    };
  }

  async function signedIn(key: string) {
    const b = browser();
    const login = await b.get('/login');
    const res = await b.post('/login', { _csrf: login.csrf!, key });
    expect([res.status, res.location]).toEqual([303, '/']);
    return b;
  }

  return { browser, signedIn };
}
