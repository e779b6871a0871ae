// Properties of the header-value tokenizers (seeded, bounded fast-check runs): never throw on any input, round-trip
// what formatExtensions writes, and accept exactly what a reference splitter accepts for subprotocol lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatExtensions,
  headerHasToken,
  isToken,
  parseExtensions,
  parseSubprotocols,
  type ExtensionOffer,
  type ExtensionParam,
} from '../../src/protocol/header-values.js';

const runs = { seed: 0x6a7e, numRuns: 500 };
const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
const headerChars = fc.string({ unit: fc.constantFrom(...'abc ;,="\\\t!#-_0\x00\r\n\u00e9'.split('')), maxLength: 60 });

test('the tokenizers never throw and always answer ok or a reason, whatever the header', () => {
  fc.assert(
    fc.property(fc.oneof(headerChars, fc.string({ unit: 'binary-ascii', maxLength: 80 })), (value) => {
      const extensions = parseExtensions(value);
      assert.equal(typeof extensions.ok, 'boolean');
      if (!extensions.ok) assert.ok(extensions.reason.length > 0);
      const protocols = parseSubprotocols(value);
      assert.equal(typeof protocols.ok, 'boolean');
      assert.equal(typeof headerHasToken(value, 'upgrade'), 'boolean');
    }),
    runs,
  );
});

test('parseExtensions reads back every list formatExtensions writes', () => {
  const param = fc.tuple(token, fc.oneof(fc.constant(true as const), token)) as fc.Arbitrary<ExtensionParam>;
  const offer: fc.Arbitrary<ExtensionOffer> = fc
    .tuple(token, fc.array(param, { maxLength: 4 }))
    .map(([name, params]) => ({ name, params: params.map(([n, v]): ExtensionParam => [n, v]) }));
  fc.assert(
    fc.property(fc.array(offer, { maxLength: 4 }), (offers) => {
      assert.deepEqual(parseExtensions(formatExtensions(offers)), { ok: true, value: offers });
    }),
    runs,
  );
});

test('parseExtensions unescapes quoted parameter values that are tokens', () => {
  fc.assert(
    fc.property(token, token, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (name, value, escapes) => {
      const quoted = '"' + [...value].map((c, i) => (escapes[i] ? '\\' + c : c)).join('') + '"';
      assert.deepEqual(parseExtensions(`x; ${name}=${quoted}`), { ok: true, value: [{ name: 'x', params: [[name, value]] }] });
    }),
    runs,
  );
});

test('parseSubprotocols agrees with a split-and-trim reference on lists of tokens and junk', () => {
  const element = fc.oneof(token, fc.constantFrom('', ' ', 'a b', 'x;y', '"q"', 'é'));
  fc.assert(
    fc.property(fc.array(element, { maxLength: 6 }), (elements) => {
      const header = elements.join(', ');
      const parts = header.split(',').map((part) => part.trim()).filter((part) => part !== '');
      const valid = parts.every(isToken) && new Set(parts).size === parts.length;
      const result = parseSubprotocols(header);
      assert.equal(result.ok, valid, header);
      if (result.ok) assert.deepEqual(result.value, parts);
    }),
    runs,
  );
});
