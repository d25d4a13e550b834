// The two shapes of a signed-in dashboard route: a page, and a form that runs a core call and
// redirects back with what happened. Anyone not signed in goes to /login.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Member } from '../db/schema.js';
import type { Db } from '../db/index.js';
import type { Deps } from '../deps.js';
import { LeashError } from '../errors.js';
import { sendPage, type Html } from '../http/pages/layout.js';
import { back, noticeOf } from './notices.js';
import { memberOfSession, SESSION_COOKIE } from './sign-in.js';
import type { Frame } from './views.js';

export type Body = Record<string, string | undefined>;

/** The CSRF preHandler for the dashboard's forms. */
export const csrfCheck =
  (app: FastifyInstance) => (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) =>
    app.csrfProtection(req, reply, done);

export const memberOf = async (db: Db, req: FastifyRequest): Promise<Member | undefined> =>
  memberOfSession(db, req.cookies[SESSION_COOKIE]);

export const toLogin = (reply: FastifyReply) => reply.code(303).header('location', '/login').send();

/** The signed-in page's frame: who, a fresh CSRF token, any notice, and where its forms return to. */
export function frame(secret: string, reply: FastifyReply, member: Member, req: FastifyRequest, to?: string): Frame {
  const notice = noticeOf(secret, req);
  return { member, csrf: reply.generateCsrf(), ...(notice ? { notice } : {}), ...(to ? { back: to } : {}) };
}

/** A signed-in page. */
export function view(
  app: FastifyInstance,
  db: Db,
  path: string,
  render: (member: Member, req: FastifyRequest, reply: FastifyReply) => Promise<Html>,
) {
  return app.get(path, { config: { html: true }, schema: { hide: true } }, async (req, reply) => {
    const member = await memberOf(db, req);
    if (!member) return toLogin(reply);
    return sendPage(reply, 200, await render(member, req, reply), { scripts: true });
  });
}

/** A signed-in action: runs the core call, then back to `to` with what happened. */
export function act(
  app: FastifyInstance,
  { db, config }: Pick<Deps, 'db' | 'config'>,
  path: string,
  to: (req: FastifyRequest, member: Member) => string | Promise<string>,
  run: (member: Member, req: FastifyRequest, body: Body) => Promise<string>,
) {
  return app.post(
    path,
    { config: { html: true }, schema: { hide: true }, preHandler: csrfCheck(app) },
    async (req, reply) => {
      const member = await memberOf(db, req);
      if (!member) return toLogin(reply);
      const where = await to(req, member);
      try {
        return back(reply, config.secret, where, 'notice', await run(member, req, (req.body ?? {}) as Body));
      } catch (err) {
        if (err instanceof LeashError) return back(reply, config.secret, where, 'error', err.message);
        throw err;
      }
    },
  );
}

/** The `:id` route parameter. */
export const idParam = (req: FastifyRequest) => (req.params as { id: string }).id;
