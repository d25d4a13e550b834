// How a tool call reads to the human asked about it (src/mcp/summary.ts).
import { describe, expect, it } from 'vitest';
import { METADATA_LIMIT } from '../src/approvals/request.js';
import { permissionMessage, permissionMetadata } from '../src/mcp/summary.js';

describe('permission questions', () => {
  it.each([
    [
      'Edit',
      { file_path: '/src/a.ts', old_string: 'a\nb', new_string: 'a\nb\nc' },
      'Allow Edit?\n/src/a.ts (2 lines → 3 lines)',
    ],
    ['MultiEdit', { file_path: '/src/a.ts', edits: [{}, {}] }, 'Allow MultiEdit?\n/src/a.ts (2 edits)'],
    ['WebFetch', { url: 'https://example.com/x', prompt: 'summarise' }, 'Allow WebFetch?\nhttps://example.com/x'],
    ['Read', { file_path: '/etc/passwd' }, 'Allow Read?\n/etc/passwd'],
    ['Grep', { pattern: 'TODO', path: 'src' }, 'Allow Grep?\n/TODO/ in src'],
    [
      'mcp__bank__wire',
      { to: 'Acme', amount: 340, currency: 'USD', memo: { a: 1 } },
      'Allow mcp__bank__wire?\nto: Acme, amount: 340, currency: USD (+1 more argument)',
    ],
    ['Bash', { no_command: true }, 'Allow Bash?\nno_command: true'],
    ['Anything', {}, 'Allow Anything?'],
  ])('%s', (tool, input, message) => {
    expect(permissionMessage(tool, input)).toBe(message);
  });

  it('cuts a long command in the message; the metadata keeps it whole while it fits', () => {
    const command = `echo ${'x'.repeat(5000)}`;
    const message = permissionMessage('Bash', { command });
    expect(message.length).toBeLessThan(700);
    expect(message.endsWith('…')).toBe(true);
    expect(permissionMetadata('Bash', { command }, 'toolu_1')).toEqual({
      tool_name: 'Bash',
      input: { command },
      tool_use_id: 'toolu_1',
    });
  });

  it('a file too large for the metadata is shortened there, saying by how much', () => {
    const content = 'y'.repeat(100_000);
    const meta = permissionMetadata('Write', { file_path: '/big', content }, undefined) as any;
    expect(Buffer.byteLength(JSON.stringify(meta))).toBeLessThanOrEqual(METADATA_LIMIT);
    expect(meta.input.file_path).toBe('/big');
    expect(meta.input.content).toBe(`${'y'.repeat(4000)}… (96000 more characters)`);
    expect(meta.tool_use_id).toBeNull();
  });
});
