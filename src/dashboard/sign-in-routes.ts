// Sign-in: with a member API key, or with a one-time link sent by email; and signing out.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import nodemailer from 'nodemailer';
import type { Deps } from '../deps.js';
import { sendPage } from '../http/pages/layout.js';
import { csrfCheck, type Body } from './member-routes.js';
import { back, noticeOf } from './notices.js';
import { createLoginLinks, SESSION_COOKIE, SESSION_MS, signInWithKey, signInWithLink, signOut } from './sign-in.js';
import { confirmLinkPage, loginPage } from './views.js';

/** Swaps whatever session the browser had for the new one, then home. */
async function signedIn({ db, config }: Deps, req: FastifyRequest, reply: FastifyReply, token: string) {
  await signOut(db, req.cookies[SESSION_COOKIE]);
  return reply
    .setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: config.publicUrl.startsWith('https:'),
      maxAge: SESSION_MS / 1000,
    })
    .code(303)
    .header('location', '/')
    .send();
}

// In the background: the answer takes as long for a stranger as for a member.
function mailLoginLinks({ db, config, log }: Deps, smtpUrl: string, email: string) {
  void createLoginLinks(db, email)
    .then(async (links) => {
      const transport = nodemailer.createTransport(smtpUrl);
      for (const { member, token } of links) {
        const url = `${config.publicUrl}/login/${token}`;
        await transport.sendMail({
          from: config.email.from,
          to: member.email,
          subject: 'Your Leash sign-in link',
          text: `Sign in to Leash (valid 15 minutes, once):\n\n${url}\n\nIf you did not ask for this, ignore this email.`,
        });
      }
    })
    .catch((err) => log.warn({ err: err.message }, 'sign-in email failed'));
}

function registerKeySignIn(app: FastifyInstance, deps: Deps) {
  const { db, config } = deps;
  const csrf = csrfCheck(app);
  app.get('/login', { config: { html: true }, schema: { hide: true } }, async (req, reply) => {
    return sendPage(
      reply,
      200,
      loginPage(
        reply.generateCsrf(),
        noticeOf(config.secret, req)?.text,
        Boolean(config.email.smtpUrl && config.email.from),
      ),
    );
  });
  app.post('/login', { config: { html: true }, schema: { hide: true }, preHandler: csrf }, async (req, reply) => {
    // A bad key here counts against the address as on the API, so the form is no way around that limit.
    req.server.authFailures.refuseIfBlocked(req, reply);
    const token = await signInWithKey(db, String((req.body as Body)?.key ?? ''));
    if (!token) {
      await req.server.authFailures.record(req, reply);
      return sendPage(reply, 401, loginPage(reply.generateCsrf(), 'That is not a valid member API key.'));
    }
    return signedIn(deps, req, reply, token);
  });
}

function registerLinkSignIn(app: FastifyInstance, deps: Deps) {
  const { db, config } = deps;
  const csrf = csrfCheck(app);
  app.post('/login/email', { config: { html: true }, schema: { hide: true }, preHandler: csrf }, async (req, reply) => {
    const email = String((req.body as Body)?.email ?? '').slice(0, 320);
    if (config.email.smtpUrl && config.email.from && email) mailLoginLinks(deps, config.email.smtpUrl, email);
    // The same answer whether or not the address belongs to a member.
    return back(
      reply,
      config.secret,
      '/login',
      'notice',
      'If that address belongs to a member, a sign-in link is on its way.',
    );
  });
  // Opening the emailed link asks to continue (mail scanners open links; a GET never signs in).
  app.get('/login/:token', { config: { html: true }, schema: { hide: true } }, async (req, reply) =>
    sendPage(
      reply,
      200,
      confirmLinkPage(reply.generateCsrf(), `/login/${encodeURIComponent((req.params as { token: string }).token)}`),
    ),
  );
  app.post(
    '/login/:token',
    { config: { html: true }, schema: { hide: true }, preHandler: csrf },
    async (req, reply) => {
      const token = await signInWithLink(db, (req.params as { token: string }).token);
      if (!token)
        return sendPage(
          reply,
          401,
          loginPage(reply.generateCsrf(), 'That sign-in link is used or expired; ask for a new one.'),
        );
      return signedIn(deps, req, reply, token);
    },
  );
}

export function registerSignIn(app: FastifyInstance, deps: Deps) {
  const csrf = csrfCheck(app);
  registerKeySignIn(app, deps);
  registerLinkSignIn(app, deps);
  app.post('/logout', { config: { html: true }, schema: { hide: true }, preHandler: csrf }, async (req, reply) => {
    await signOut(deps.db, req.cookies[SESSION_COOKIE]);
    return reply
      .clearCookie(SESSION_COOKIE, { path: '/' })
      .clearCookie('_csrf', { path: '/' })
      .code(303)
      .header('location', '/login')
      .send();
  });
}
