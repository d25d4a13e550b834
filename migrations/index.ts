// Every migration, in order. Add new ones at the end; never edit or reorder shipped ones.
import type { Migration } from 'kysely';
import * as m0001 from './0001_foundation.js';
import * as m0002 from './0002_approvals_webhooks.js';
import * as m0003 from './0003_messages.js';
import * as m0004 from './0004_live_delivery.js';
import * as m0005 from './0005_chat_surfaces.js';
import * as m0006 from './0006_dashboard.js';
import * as m0007 from './0007_prompts.js';
import * as m0008 from './0008_installation_secret.js';
import * as m0009 from './0009_identity_confirmation.js';
import * as m0010 from './0010_channel_names.js';
import * as m0011 from './0011_request_hash.js';
import * as m0012 from './0012_approvers.js';
import * as m0013 from './0013_policies.js';
import * as m0014 from './0014_retention.js';
import * as m0015 from './0015_drain_fence.js';

export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_approvals_webhooks': m0002,
  '0003_messages': m0003,
  '0004_live_delivery': m0004,
  '0005_chat_surfaces': m0005,
  '0006_dashboard': m0006,
  '0007_prompts': m0007,
  '0008_installation_secret': m0008,
  '0009_identity_confirmation': m0009,
  '0010_channel_names': m0010,
  '0011_request_hash': m0011,
  '0012_approvers': m0012,
  '0013_policies': m0013,
  '0014_retention': m0014,
  '0015_drain_fence': m0015,
};
