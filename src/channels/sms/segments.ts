// SMS length: a message that fits the GSM-7 alphabet takes 160 characters in one segment (153 per
// segment when split); anything else is sent as UCS-2, 70 (67 when split). Prompts are kept within
// PROMPT_SEGMENTS so a question never arrives as a wall of parts (or costs ten).

const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** Extension characters: allowed in GSM-7, but each takes two septets. */
const EXTENDED = '^{}\\[~]|€\f';
const BASIC_SET = new Set(BASIC);
const EXTENDED_SET = new Set(EXTENDED);

export const PROMPT_SEGMENTS = 3;

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!BASIC_SET.has(ch) && !EXTENDED_SET.has(ch)) return false;
  return true;
}

/** Length in the encoding's units: septets for GSM-7 (extension characters count 2), UTF-16 units for UCS-2. */
function units(text: string, gsm: boolean): number {
  if (!gsm) return text.length;
  let n = 0;
  for (const ch of text) n += EXTENDED_SET.has(ch) ? 2 : 1;
  return n;
}

export function segments(text: string): { encoding: 'GSM-7' | 'UCS-2'; segments: number } {
  const gsm = isGsm7(text);
  const n = units(text, gsm);
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  return { encoding: gsm ? 'GSM-7' : 'UCS-2', segments: n <= single ? 1 : Math.ceil(n / multi) };
}

/** How many of the question's characters fit beside `tail` within `max` segments. */
export function roomFor(head: string, tail: string, max = PROMPT_SEGMENTS): number {
  const gsm = isGsm7(`${head}${tail}`);
  return (gsm ? 153 : 67) * max - units(tail, gsm) - (gsm ? 3 : 1);
}

/** `head` cut (with …) so that head + tail fits in `max` segments; the tail (the reply
 *  instructions) is never cut. */
export function fit(head: string, tail: string, max = PROMPT_SEGMENTS): string {
  const whole = `${head}${tail}`;
  if (segments(whole).segments <= max) return whole;
  const gsm = isGsm7(whole);
  // '…' is not in GSM-7: it would turn the whole message into UCS-2.
  const ellipsis = gsm ? '...' : '…';
  const budget = (gsm ? 153 : 67) * max - units(tail, gsm) - units(ellipsis, gsm);
  let cut = '';
  for (const ch of head) {
    if (units(cut + ch, gsm) > budget) break;
    cut += ch;
  }
  return `${cut.trimEnd()}${ellipsis}${tail}`;
}
