// What the core knows of a channel: which recipients it can reach, and whether the response page
// may decide its questions. Each channel folder provides these facts (src/channels/list.ts); the
// composition root hands them to the core, which never imports a channel.

export interface ChannelRules {
  readonly name: string;
  /** Why `recipient` is not an address on this channel, or undefined if it is. */
  recipientProblem(recipient: string, opts: { allowHttp?: boolean }): string | undefined;
  /** The response page decides this channel's questions: true where the link is the channel
   *  (web) or Leash sent it to the recipient (email). A question sent by SMS, Slack or Telegram is
   *  answered there, so a link that reached someone else (the asking agent, say) cannot decide it. */
  readonly linkDecides: boolean;
  /** The recipient may answer without being a member (the link, the phone the question went to),
   *  counted as one decider by its address: web, email, sms. */
  readonly recipientDecides: boolean;
}

/** The channels of this build (`known`: what a request may name) and of this installation
 *  (`available`: configured; the rest are refused with channel_unavailable). */
export interface ChannelSet {
  readonly known: readonly ChannelRules[];
  readonly available: ReadonlySet<string>;
}

/** The channels whose questions the response page decides (see ChannelRules.linkDecides). */
export const linkDeciding = (channels: ChannelSet): string[] =>
  channels.known.filter((c) => c.linkDecides).map((c) => c.name);
