// Tokenizers for Sec-WebSocket-Protocol, Sec-WebSocket-Extensions and Connection/Upgrade token lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatExtensions,
  headerHasToken,
  isFieldValue,
  isToken,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
  type ExtensionOffer,
} from '../../src/protocol/header-values.js';

test('isToken accepts RFC 7230 tchars and rejects separators, spaces, controls and non-ASCII', () => {
  for (const ok of ['chat', "!#$%&'*+-.^_`|~09azAZ", 'v2.bookings.example.net']) assert.equal(isToken(ok), true, ok);
  for (const bad of ['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'a/b', 'a:b', '(a)', 'a\tb', 'é', 'a\r\n', '[x]', '{x}', 'a@b', 'a?b']) {
    assert.equal(isToken(bad), false, JSON.stringify(bad));
  }
});

test('isFieldValue rejects CR, LF, NUL and DEL but accepts tabs and obs-text', () => {
  assert.equal(isFieldValue('a value\twith tab'), true);
  assert.equal(isFieldValue('caf\u00e9'), true);
  for (const bad of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b', 'a\x7fb', '\u2028']) assert.equal(isFieldValue(bad), false, JSON.stringify(bad));
});

const subprotocolCases: { value: string | string[] | undefined; expect: string[] | 'invalid' }[] = [
  { value: undefined, expect: [] },
  { value: '', expect: [] },
  { value: 'chat', expect: ['chat'] },
  { value: 'chat, superchat', expect: ['chat', 'superchat'] },
  { value: 'chat,superchat', expect: ['chat', 'superchat'] },
  { value: ' chat ,\tsuperchat ', expect: ['chat', 'superchat'] },
  { value: ['chat', 'superchat'], expect: ['chat', 'superchat'] },
  { value: 'chat, , superchat,', expect: ['chat', 'superchat'] },
  { value: 'Chat, chat', expect: ['Chat', 'chat'] },
  { value: 'chat, chat', expect: 'invalid' },
  { value: ['chat', 'chat'], expect: 'invalid' },
  { value: 'chat superchat', expect: 'invalid' },
  { value: 'chat;q=1', expect: 'invalid' },
  { value: '"chat"', expect: 'invalid' },
  { value: 'ch@t', expect: 'invalid' },
  { value: 'chät', expect: 'invalid' },
];

for (const { value, expect } of subprotocolCases) {
  test(`parseSubprotocols(${JSON.stringify(value)}) gives ${JSON.stringify(expect)}`, () => {
    const result = parseSubprotocols(value);
    if (expect === 'invalid') assert.equal(result.ok, false);
    else assert.deepEqual(result, { ok: true, value: expect });
  });
}

const extensionCases: { value: string | undefined; expect: ExtensionOffer[] | 'invalid' }[] = [
  { value: undefined, expect: [] },
  { value: '', expect: [] },
  { value: 'permessage-deflate', expect: [{ name: 'permessage-deflate', params: [] }] },
  {
    value: 'permessage-deflate; client_max_window_bits',
    expect: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
  },
  {
    value: 'permessage-deflate;server_max_window_bits=10;client_no_context_takeover',
    expect: [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10'], ['client_no_context_takeover', true]] }],
  },
  {
    value: 'permessage-deflate; server_max_window_bits="10", permessage-deflate',
    expect: [
      { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
      { name: 'permessage-deflate', params: [] },
    ],
  },
  { value: 'foo ; a = 1 ; b = "x\\y" , bar', expect: [{ name: 'foo', params: [['a', '1'], ['b', 'xy']] }, { name: 'bar', params: [] }] },
  { value: 'foo; a=1; a=2', expect: [{ name: 'foo', params: [['a', '1'], ['a', '2']] }] },
  { value: ', foo ,, bar ,', expect: [{ name: 'foo', params: [] }, { name: 'bar', params: [] }] },
  { value: 'foo;', expect: 'invalid' },
  { value: 'foo; =1', expect: 'invalid' },
  { value: 'foo; a=', expect: 'invalid' },
  { value: 'foo; a="', expect: 'invalid' },
  { value: 'foo; a="10', expect: 'invalid' },
  { value: 'foo; a=""', expect: 'invalid' },
  { value: 'foo; a="1 0"', expect: 'invalid' },
  { value: 'foo; a="1,0"', expect: 'invalid' },
  { value: 'foo; a=1 0', expect: 'invalid' },
  { value: 'foo bar', expect: 'invalid' },
  { value: '; a', expect: 'invalid' },
  { value: 'foo; a=1=2', expect: 'invalid' },
  { value: 'foo; a="x\\', expect: 'invalid' },
  { value: 'foo; a="\x01"', expect: 'invalid' },
  { value: 'f\u00f6o', expect: 'invalid' },
];

for (const { value, expect } of extensionCases) {
  test(`parseExtensions(${JSON.stringify(value)}) gives ${expect === 'invalid' ? 'invalid' : JSON.stringify(expect)}`, () => {
    const result = parseExtensions(value);
    if (expect === 'invalid') assert.equal(result.ok, false, JSON.stringify(result));
    else assert.deepEqual(result, { ok: true, value: expect });
  });
}

test('parseExtensions joins several header lines as one list', () => {
  assert.deepEqual(parseExtensions(['a; x', 'b']), { ok: true, value: [{ name: 'a', params: [['x', true]] }, { name: 'b', params: [] }] });
});

test('formatExtensions writes what parseExtensions reads back', () => {
  const offers: ExtensionOffer[] = [
    { name: 'permessage-deflate', params: [['client_max_window_bits', true], ['server_max_window_bits', '10']] },
    { name: 'x-other', params: [] },
  ];
  const text = formatExtensions(offers);
  assert.equal(text, 'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-other');
  assert.deepEqual(parseExtensions(text), { ok: true, value: offers });
});

test('formatExtensions refuses names and values that are not tokens (no header injection)', () => {
  assert.throws(() => formatExtensions([{ name: 'a\r\nX: y', params: [] }]), TypeError);
  assert.throws(() => formatExtensions([{ name: 'a', params: [['b c', true]] }]), TypeError);
  assert.throws(() => formatExtensions([{ name: 'a', params: [['b', '1\r\n']] }]), TypeError);
});

test('headerHasToken finds Upgrade in Connection lists case-insensitively', () => {
  assert.equal(headerHasToken('Upgrade', 'upgrade'), true);
  assert.equal(headerHasToken('keep-alive, UPGRADE', 'upgrade'), true);
  assert.equal(headerHasToken(['keep-alive', 'upgrade'], 'upgrade'), true);
  assert.equal(headerHasToken('keep-alive', 'upgrade'), false);
  assert.equal(headerHasToken('upgraded', 'upgrade'), false);
  assert.equal(headerHasToken(undefined, 'upgrade'), false);
  assert.equal(headerHasToken('websocket/13, h2c', 'websocket/13'), true);
  assert.equal(headerHasToken('websocket/13', 'websocket'), false);
  assert.equal(headerHasToken('keep alive, upgrade', 'upgrade'), false);
  // the one-token shortcut folds the case of letters only: CR and "-" (0x0d, 0x2d) or "@" and "`" differ by 0x20 too
  assert.equal(headerHasToken('WebSocket', 'websocket'), true);
  assert.equal(headerHasToken('a\rb', 'a-b'), false);
  assert.equal(headerHasToken('@', '`'), false);
  assert.equal(headerHasToken('websockes', 'websocket'), false);
});

test('parseTokenList rejects separators inside elements', () => {
  assert.deepEqual(parseTokenList('a, b'), { ok: true, value: ['a', 'b'] });
  assert.equal(parseTokenList('a b').ok, false);
  assert.equal(parseTokenList('a;b').ok, false);
});

test('header values longer than maxLength are rejected before parsing', () => {
  const long = 'a'.repeat(9000);
  assert.equal(parseExtensions(long).ok, false);
  assert.equal(parseSubprotocols(long).ok, false);
  assert.equal(parseExtensions(long, { maxLength: 10_000 }).ok, true);
  assert.equal(parseSubprotocols(['a'.repeat(5000), 'b'.repeat(5000)]).ok, false);
  assert.equal(headerHasToken(`${' '.repeat(9000)}upgrade`, 'upgrade'), false);
});

test('pathological headers cost linear time: 1 MiB of quote, backslash, semicolon and comma patterns', () => {
  // Each shape below defeats a backtracking regular expression; the tokenizer must finish all in one pass each.
  // We assert only the outcome (no timing): a quadratic implementation would make this test hit the runner timeout.
  const size = 1 << 20;
  const shapes = [
    'a;'.repeat(size / 2),
    'a; b="' + '\\"'.repeat(size / 2),
    'a' + ' '.repeat(size) + 'b',
    ',' .repeat(size),
    'a; b=' + '1'.repeat(size),
    'a;b;'.repeat(size / 4) + '=',
    'x, '.repeat(size / 3) + 'x x',
  ];
  for (const shape of shapes) {
    const result = parseExtensions(shape, { maxLength: shape.length });
    assert.equal(typeof result.ok, 'boolean');
    parseSubprotocols(shape, { maxLength: shape.length });
    headerHasToken(shape, 'upgrade', { maxLength: shape.length });
  }
  assert.equal(parseExtensions(',' .repeat(size), { maxLength: size }).ok, true);
  assert.equal(parseExtensions('x, '.repeat(size / 3) + 'x x', { maxLength: size * 2 }).ok, false);
});
