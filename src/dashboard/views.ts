// The dashboard's pages: server-rendered, escaped by construction (html``), plain forms that work
// without JavaScript. Buttons show only what the member's role allows; the core checks again.
import { tallyOf } from '../approvals/votes.js';
import type { AgentView } from '../agents/view.js';
import { hasRole } from '../context.js';
import type { ApprovalRecord } from '../approvals/approvals.js';
import type { ActivityRow, Member, SessionRow } from '../db/schema.js';
import { html, page, type Html } from '../http/pages/layout.js';
import { metadataTable } from '../http/pages/metadata.js';

export interface Frame {
  member: Member;
  csrf: string;
  notice?: { text: string; error?: boolean };
  /** Where an action returns to: this page. */
  back?: string;
}

const when = (d: Date | string | null) => (d ? new Date(d).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');

function post(f: Frame, action: string, label: string, fields: Record<string, string> = {}, extra?: Html) {
  const all = f.back ? { ...fields, back: f.back } : fields;
  return html`<form class="inline" method="post" action="${action}"><input type="hidden" name="_csrf" value="${f.csrf}">${Object.entries(
    all,
  ).map(
    ([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`,
  )}${extra ?? ''}<button type="submit">${label}</button></form>`;
}

export function layout(title: string, f: Frame, body: Html): Html {
  const notice = f.notice
    ? html`<div class="card ${f.notice.error ? 'err' : 'notice'}" role="status">${f.notice.text}</div>`
    : '';
  return page(
    title,
    html`<nav><a href="/">Agents</a><a href="/approvals">Approvals</a><a href="/members">Members</a>${hasRole(f.member, 'owner') ? html`<a href="/webhooks">Webhooks</a>` : ''}
<span class="me muted">${f.member.display_name ?? f.member.email} · ${f.member.role}</span>${post(f, '/logout', 'Sign out')}</nav>
${notice}<div id="live">${body}</div>`,
    { wide: true, script: '/dashboard.js' },
  );
}

function agentControls(f: Frame, a: AgentView): Html {
  if (!hasRole(f.member, 'owner')) return html``;
  const base = `/agents/${a.id}`;
  const out: Html[] = [];
  if (a.status === 'inactive') out.push(post(f, `${base}/start`, 'Start'));
  else {
    if (a.pause) out.push(post(f, `${base}/unpause`, 'Unpause'));
    if (a.pause?.mode !== 'send')
      out.push(
        post(
          f,
          `${base}/pause`,
          'Pause send',
          { mode: 'send' },
          html`<input type="text" name="reason" placeholder="reason (optional)" aria-label="reason for ${a.name}">`,
        ),
      );
    if (a.pause?.mode !== 'full') out.push(post(f, `${base}/pause`, 'Pause full', { mode: 'full' }));
    out.push(
      a.status === 'stopping' ? post(f, `${base}/stop`, 'Force stop', { force: '1' }) : post(f, `${base}/stop`, 'Stop'),
    );
  }
  return html`${out}`;
}

function pauseText(a: AgentView): string {
  if (!a.pause) return '';
  return `${a.pause.mode} since ${when(a.pause.since)} by ${a.pause.by?.display ?? '?'}${a.pause.reason ? ` — ${a.pause.reason}` : ''}`;
}

export function agentsPage(f: Frame, agents: AgentView[]): Html {
  const rows = agents.map(
    (a) => html`<tr data-agent="${a.name}">
<td><a href="/agents/${a.id}"><b>${a.name}</b></a>${a.display_name ? html`<div class="muted">${a.display_name}</div>` : ''}</td>
<td><span class="pill ${a.status}" data-status>${a.status}</span><div class="muted">${pauseText(a)}</div></td>
<td>${a.presence}</td>
<td>${a.backlog.undelivered}${a.backlog.oldest_at ? html`<div class="muted">oldest ${when(a.backlog.oldest_at)}</div>` : ''}</td>
<td>${agentControls(f, a)}</td></tr>`,
  );
  return layout(
    'Agents',
    f,
    html`<h1>Agents</h1>${
      agents.length
        ? html`<table class="agents"><thead><tr><th>Agent</th><th>Status</th><th>Presence</th><th>Backlog</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
        : html`<p class="muted">No agents yet: create one with POST /v1/agents or <code>leash agent create</code>.</p>`
    }`,
  );
}

export function agentPage(f: Frame, a: AgentView, sessions: SessionRow[], activity: ActivityRow[]): Html {
  const canAct = hasRole(f.member, 'owner');
  const sessionRows = sessions.map(
    (s) =>
      html`<tr><td>${s.task ?? '—'}</td><td>${s.status}</td><td>${when(s.created_at)}</td><td>${
        canAct
          ? html`${s.status === 'running' ? post(f, `/sessions/${s.id}/pause`, 'Pause') : ''}${s.status === 'paused' ? post(f, `/sessions/${s.id}/resume`, 'Resume') : ''}${
              s.status === 'running' || s.status === 'paused' ? post(f, `/sessions/${s.id}/cancel`, 'Cancel') : ''
            }`
          : ''
      }</td></tr>`,
  );
  const timeline = activity.map(
    (e) =>
      html`<tr data-action="${e.action}"><td>${when(e.created_at)}</td><td><b>${e.action}</b></td><td>${e.actor.display}</td><td>${e.channel}</td><td class="muted">${JSON.stringify(e.details)}</td></tr>`,
  );
  return layout(
    a.name,
    f,
    html`<h1>${a.name} <span class="pill ${a.status}" data-status>${a.status}</span></h1>
<p class="muted">${pauseText(a)}</p>
<p>${agentControls(f, a)}</p>
<div class="card"><dl><dt>Presence</dt><dd>${a.presence}</dd><dt>Backlog</dt><dd>${a.backlog.undelivered} undelivered${a.backlog.oldest_at ? `, oldest ${when(a.backlog.oldest_at)}` : ''}</dd>
<dt>Delivery URL</dt><dd>${a.delivery_url ?? '—'}</dd><dt>Stopped</dt><dd>${when(a.stopped_at)}</dd></dl></div>
<h2>Sessions</h2>${sessions.length ? html`<table><thead><tr><th>Task</th><th>Status</th><th>Started</th><th></th></tr></thead><tbody>${sessionRows}</tbody></table>` : html`<p class="muted">None.</p>`}
<h2>Activity</h2><table class="timeline"><thead><tr><th>When</th><th>What</th><th>Who</th><th>Via</th><th>Details</th></tr></thead><tbody>${timeline}</tbody></table>`,
  );
}

/** A question that has not reached its recipient says so, with the vendor's last word. */
function deliveryTrouble(a: ApprovalRecord): Html {
  const lines = a.delivery
    .filter((d) => d.status === 'failed' || (d.status === 'queued' && d.error))
    .map(
      (d) =>
        html`<p class="err" data-delivery="${d.status}">${d.status === 'failed' ? 'Could not be sent' : 'Not sent yet, retrying'} to ${d.recipient} on ${d.channel}: ${d.error ?? ''}</p>`,
    );
  return html`${lines}`;
}

/** A quorum's progress and who voted. */
function quorum(a: ApprovalRecord): Html | string {
  if (a.approvals_required <= 1) return '';
  const who = a.votes.map((v) => `${v.display} (${v.choice})`).join(', ');
  return html`<p data-quorum>${tallyOf(a)} for ${a.options[0]}${who ? html` <span class="muted">· ${who}</span>` : ''}</p>`;
}

export function approvalsPage(f: Frame, rows: ApprovalRecord[], names: Map<string, string>): Html {
  const canAnswer = hasRole(f.member, 'approver');
  const cards = rows.map(
    (a) => html`<div class="card" data-approval="${a.id}"><p class="question">${a.message}</p>
<p class="muted">${a.agent_id ? (names.get(a.agent_id) ?? 'an agent') : 'a member'} · via ${a.channel} to ${a.recipient} · expires ${when(a.expires_at)}</p>
${metadataTable(a.metadata)}${quorum(a)}${deliveryTrouble(a)}
${canAnswer ? html`${a.options.map((o) => post(f, `/approvals/${a.id}/respond`, o, { choice: o }))}` : ''}</div>`,
  );
  return layout(
    'Approvals',
    f,
    html`<h1>Pending approvals</h1>${rows.length ? cards : html`<p class="muted">Nothing is waiting for an answer.</p>`}`,
  );
}

/** An identity as set, and whether its holder has confirmed it (an unconfirmed one never acts). */
function identity(value: string | null, confirmedAt: Date | null): Html | string {
  if (!value) return '—';
  return confirmedAt ? value : html`${value}<div class="muted" data-unconfirmed>not confirmed yet</div>`;
}

export function membersPage(f: Frame, members: Member[]): Html {
  const rows = members.map(
    (
      m,
    ) => html`<tr><td>${m.display_name ?? ''}<div class="muted">${m.email}</div></td><td>${m.role}</td><td>${identity(m.phone, m.phone_confirmed_at)}</td>
<td>${identity(m.slack_user_id && `${m.slack_team_id}/${m.slack_user_id}`, m.slack_confirmed_at)}</td><td>${identity(m.telegram_user_id, m.telegram_confirmed_at)}</td></tr>`,
  );
  return layout(
    'Members',
    f,
    html`<h1>Members</h1><table><thead><tr><th>Member</th><th>Role</th><th>Phone</th><th>Slack</th><th>Telegram</th></tr></thead><tbody>${rows}</tbody></table>`,
  );
}

export interface EndpointWithFailures {
  id: string;
  url: string;
  events: string[] | null;
  disabled: string | null;
  failed: { id: string; event_type: string; attempts: number; last_error: string | null; updated_at: Date }[];
}

export function webhooksPage(f: Frame, endpoints: EndpointWithFailures[]): Html {
  const canAct = hasRole(f.member, 'owner');
  const cards = endpoints.map(
    (
      e,
    ) => html`<div class="card" data-endpoint="${e.id}"><b>${e.url}</b><p class="muted">${e.events?.join(', ') ?? 'every event'}${e.disabled ? ` · disabled: ${e.disabled}` : ''}</p>
${
  e.failed.length
    ? html`<table><thead><tr><th>Failed event</th><th>Attempts</th><th>Last error</th><th>When</th><th></th></tr></thead><tbody>${e.failed.map(
        (
          d,
        ) => html`<tr data-delivery="${d.id}"><td>${d.event_type}</td><td>${d.attempts}</td><td>${d.last_error ?? ''}</td><td>${when(d.updated_at)}</td>
<td>${canAct ? post(f, `/webhooks/${e.id}/deliveries/${d.id}/redeliver`, 'Redeliver') : ''}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">No failed deliveries.</p>`
}</div>`,
  );
  return layout(
    'Webhooks',
    f,
    html`<h1>Webhook endpoints</h1>${endpoints.length ? cards : html`<p class="muted">No endpoints: add one with POST /v1/webhooks.</p>`}`,
  );
}

export function loginPage(csrf: string, notice?: string, emailEnabled = false): Html {
  return page(
    'Sign in',
    html`<h1>Sign in to Leash</h1>${notice ? html`<div class="card notice" role="status">${notice}</div>` : ''}
<form method="post" action="/login" class="card"><input type="hidden" name="_csrf" value="${csrf}">
<label for="key">Your member API key</label><input id="key" name="key" type="password" autocomplete="current-password" required style="width:100%;font:inherit;padding:.5rem;border-radius:.5rem;border:1px solid var(--line)">
<div class="options"><button type="submit" class="primary">Sign in</button></div></form>
${
  emailEnabled
    ? html`<form method="post" action="/login/email" class="card"><input type="hidden" name="_csrf" value="${csrf}">
<label for="email">Or get a sign-in link by email</label><input id="email" name="email" type="email" autocomplete="email" required style="width:100%;font:inherit;padding:.5rem;border-radius:.5rem;border:1px solid var(--line)">
<div class="options"><button type="submit">Email me a link</button></div></form>`
    : ''
}`,
  );
}

export function confirmLinkPage(csrf: string, action: string): Html {
  return page(
    'Sign in',
    html`<h1>Sign in to Leash</h1><form method="post" action="${action}" class="card"><input type="hidden" name="_csrf" value="${csrf}"><div class="options"><button type="submit" class="primary">Continue to the dashboard</button></div></form>`,
  );
}
