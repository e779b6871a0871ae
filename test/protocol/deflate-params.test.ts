// permessage-deflate negotiation tables (RFC 7692 §7.1): the server's choice among offers, the client's offer and its
// judgement of the response, and a round trip through both codecs for every combination of options.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptPerMessageDeflateResponse,
  negotiatePerMessageDeflate,
  perMessageDeflateOffer,
  type PerMessageDeflateOptions,
} from '../../src/protocol/deflate-params.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { parseExtensions } from '../../src/protocol/header-values.js';
import type { PerMessageDeflate } from '../../src/protocol/permessage-deflate.js';

function serverResponse(offer: string | undefined, options: PerMessageDeflateOptions | boolean = {}): string | null {
  const result = negotiatePerMessageDeflate(offer, options);
  result?.extension.release();
  return result === null ? null : result.response;
}

describe('server: negotiatePerMessageDeflate', () => {
  const accepted: [offer: string, options: PerMessageDeflateOptions, response: string][] = [
    ['permessage-deflate', {}, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits', {}, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits=10', {}, 'permessage-deflate; client_max_window_bits=10'],
    ['permessage-deflate; client_max_window_bits="10"', {}, 'permessage-deflate; client_max_window_bits=10'],
    ['permessage-deflate; server_no_context_takeover', {}, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate; client_no_context_takeover', {}, 'permessage-deflate; client_no_context_takeover'],
    ['permessage-deflate', { serverNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate', { clientNoContextTakeover: true }, 'permessage-deflate; client_no_context_takeover'],
    ['permessage-deflate; server_max_window_bits=10', {}, 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 12 }, 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 9 }, 'permessage-deflate; server_max_window_bits=9'],
    ['permessage-deflate', { serverMaxWindowBits: 12 }, 'permessage-deflate; server_max_window_bits=12'],
    ['permessage-deflate; server_max_window_bits=8', {}, 'permessage-deflate; server_max_window_bits=8'],
    ['permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10'],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10'],
    ['permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=9'],
    ['permessage-deflate; client_max_window_bits=8', {}, 'permessage-deflate; client_max_window_bits=8'],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: false }, 'permessage-deflate'],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12',
      {},
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12',
    ],
    // Fallback offers: the first acceptable one wins.
    ['permessage-deflate; server_max_window_bits=10, permessage-deflate', {}, 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate; foo=1, permessage-deflate; client_max_window_bits=11', {}, 'permessage-deflate; client_max_window_bits=11'],
    ['permessage-deflate; server_no_context_takeover, permessage-deflate', { serverNoContextTakeover: false }, 'permessage-deflate'],
    ['permessage-deflate, permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 9 }, 'permessage-deflate; client_max_window_bits=9'],
    ['x-webkit-deflate-frame, permessage-deflate; client_max_window_bits', {}, 'permessage-deflate'],
  ];
  for (const [offer, options, response] of accepted) {
    test(`answers "${offer}" with ${JSON.stringify(options)} by "${response}"`, () => {
      assert.equal(serverResponse(offer, options), response);
    });
  }

  const declined: [offer: string, options: PerMessageDeflateOptions, why: string][] = [
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, 'a duplicated parameter'],
    ['permessage-deflate; client_max_window_bits=10; client_max_window_bits=11', {}, 'a duplicated window'],
    ['permessage-deflate; client_max_window_bits; client_max_window_bits', {}, 'a duplicated valueless parameter'],
    ['permessage-deflate; foo', {}, 'an unknown parameter'],
    ['permessage-deflate; mux=1', {}, 'an unknown parameter with a value'],
    ['permessage-deflate; server_max_window_bits=7', {}, 'a window under 8'],
    ['permessage-deflate; server_max_window_bits=16', {}, 'a window over 15'],
    ['permessage-deflate; client_max_window_bits=16', {}, 'a client window over 15'],
    ['permessage-deflate; client_max_window_bits=0', {}, 'a client window of 0'],
    ['permessage-deflate; server_max_window_bits=010', {}, 'a leading zero'],
    ['permessage-deflate; server_max_window_bits=abc', {}, 'a non-numeric window'],
    ['permessage-deflate; server_max_window_bits', {}, 'a valueless server_max_window_bits'],
    ['permessage-deflate; server_no_context_takeover=1', {}, 'a value on server_no_context_takeover'],
    ['permessage-deflate; client_no_context_takeover=true', {}, 'a value on client_no_context_takeover'],
    ['permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: false }, 'server_no_context_takeover refused by the options'],
    ['permessage-deflate', { clientMaxWindowBits: 10 }, 'no client_max_window_bits to bound the client window'],
    ['x-webkit-deflate-frame', {}, 'no permessage-deflate offer'],
    ['permessage-deflate;', {}, 'a malformed header'],
  ];
  for (const [offer, options, why] of declined) {
    test(`declines "${offer}" (${why})`, () => {
      assert.equal(serverResponse(offer, options), null);
    });
  }

  test('declines everything when compression is off, and negotiates defaults with `true`', () => {
    assert.equal(serverResponse('permessage-deflate', false), null);
    assert.equal(serverResponse('permessage-deflate; client_max_window_bits', true), 'permessage-deflate');
    assert.equal(serverResponse(undefined, true), null);
    assert.equal(serverResponse('', true), null);
  });

  test('accepts offers already parsed by header-values.ts', () => {
    const parsed = parseExtensions('permessage-deflate; client_max_window_bits=12');
    assert.ok(parsed.ok);
    const result = negotiatePerMessageDeflate(parsed.value, {});
    assert.equal(result?.response, 'permessage-deflate; client_max_window_bits=12');
    result?.extension.release();
  });

  test('gives the codec the response header and a shareKey only with server_no_context_takeover', () => {
    const shared = negotiatePerMessageDeflate('permessage-deflate; server_no_context_takeover', {});
    const own = negotiatePerMessageDeflate('permessage-deflate', {});
    assert.ok(shared !== null && own !== null);
    assert.equal(shared.extension.responseHeader, shared.response);
    assert.equal(shared.extension.name, 'permessage-deflate');
    assert.notEqual(shared.extension.shareKey, null);
    assert.equal(own.extension.shareKey, null);
  });

  test('throws a RangeError on invalid options', () => {
    assert.throws(() => negotiatePerMessageDeflate('permessage-deflate', { serverMaxWindowBits: 16 }), RangeError);
    assert.throws(() => negotiatePerMessageDeflate('permessage-deflate', { clientMaxWindowBits: 7 }), RangeError);
    assert.throws(() => negotiatePerMessageDeflate('permessage-deflate', { threshold: -1 }), RangeError);
    assert.throws(() => negotiatePerMessageDeflate('permessage-deflate', { zlibDeflateOptions: { level: 10 } }), RangeError);
    assert.throws(() => perMessageDeflateOffer({ zlibDeflateOptions: { memLevel: 0 } }), RangeError);
  });
});

describe('client: perMessageDeflateOffer', () => {
  const offers: [options: PerMessageDeflateOptions | boolean | undefined, offer: string][] = [
    [undefined, 'permessage-deflate; client_max_window_bits'],
    [true, 'permessage-deflate; client_max_window_bits'],
    [{}, 'permessage-deflate; client_max_window_bits'],
    [{ clientMaxWindowBits: false }, 'permessage-deflate'],
    [{ clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10'],
    [
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    ],
    [false, ''],
  ];
  for (const [options, offer] of offers) {
    test(`offers "${offer}" for ${JSON.stringify(options)}`, () => {
      assert.equal(perMessageDeflateOffer(options), offer);
    });
  }
});

describe('client: acceptPerMessageDeflateResponse', () => {
  const ok: [response: string | undefined, options: PerMessageDeflateOptions][] = [
    [undefined, {}],
    ['', {}],
    ['permessage-deflate', {}],
    ['permessage-deflate; client_max_window_bits=10', {}],
    ['permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: 10 }],
    ['permessage-deflate; server_max_window_bits=12', {}],
    ['permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 }],
    ['permessage-deflate; server_no_context_takeover', {}],
    ['permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }],
    ['permessage-deflate; client_no_context_takeover', {}],
    ['permessage-deflate; server_max_window_bits="8"', {}],
  ];
  for (const [response, options] of ok) {
    test(`accepts "${response}" after offering ${JSON.stringify(options)}`, () => {
      const result = acceptPerMessageDeflateResponse(response, options);
      assert.ok('extension' in result, 'error' in result ? result.error : '');
      if (response === undefined || response === '') assert.equal(result.extension, null);
      else assert.ok(result.extension !== null);
      result.extension?.release();
    });
  }

  const failed: [response: string, options: PerMessageDeflateOptions | boolean, why: string][] = [
    ['x-webkit-deflate-frame', {}, 'an extension that was not offered'],
    ['permessage-deflate, x-foo', {}, 'an extra extension that was not offered'],
    ['permessage-deflate', false, 'permessage-deflate when it was not offered'],
    ['permessage-deflate, permessage-deflate', {}, 'permessage-deflate twice'],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, 'a duplicated parameter'],
    ['permessage-deflate; foo', {}, 'an unknown parameter'],
    ['permessage-deflate; client_max_window_bits', {}, 'a valueless client_max_window_bits'],
    ['permessage-deflate; server_max_window_bits=16', {}, 'an out-of-range server window'],
    ['permessage-deflate; client_max_window_bits=7', {}, 'an out-of-range client window'],
    ['permessage-deflate; server_no_context_takeover=x', {}, 'a value on a valueless parameter'],
    ['permessage-deflate; client_max_window_bits=11', { clientMaxWindowBits: 10 }, 'a client window above the offered one'],
    ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }, 'client_max_window_bits that was not offered'],
    ['permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 }, 'a server window above the requested one'],
    ['permessage-deflate', { serverMaxWindowBits: 10 }, 'server_max_window_bits left unanswered'],
    ['permessage-deflate', { serverNoContextTakeover: true }, 'server_no_context_takeover left unanswered'],
    ['permessage-deflate; client_no_context_takeover', { clientNoContextTakeover: false }, 'client_no_context_takeover the options forbid'],
    ['permessage-deflate; ', {}, 'a malformed header'],
  ];
  for (const [response, options, why] of failed) {
    test(`fails "${response}" after offering ${JSON.stringify(options)} (${why})`, () => {
      const result = acceptPerMessageDeflateResponse(response, options);
      assert.ok('error' in result, 'expected an error');
      assert.equal(typeof result.error, 'string');
    });
  }
});

describe('round trip through both ends', () => {
  function exchange(sender: PerMessageDeflate, receiver: PerMessageDeflate, message: Buffer): Buffer {
    const compressed = sender.compress(message);
    assert.ok(compressed !== null);
    const out = receiver.decompress(compressed, true, 1 << 20);
    if (out instanceof ProtocolError) assert.fail(out.message);
    return out;
  }

  const windows = [undefined, 8, 9, 12, 15] as const;
  const flags = [undefined, true] as const;
  let n = 0;
  for (const serverNoContextTakeover of flags) {
    for (const clientNoContextTakeover of flags) {
      for (const serverMaxWindowBits of windows) {
        for (const clientMaxWindowBits of windows) {
          const clientOptions: PerMessageDeflateOptions = { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits, threshold: 0 };
          const serverOptions: PerMessageDeflateOptions = n++ % 2 === 0 ? { threshold: 0 } : { ...clientOptions };
          test(`negotiates and exchanges messages both ways: client ${JSON.stringify(clientOptions)}, server ${JSON.stringify(serverOptions)}`, (t) => {
            const offer = perMessageDeflateOffer(clientOptions);
            const negotiated = negotiatePerMessageDeflate(offer, serverOptions);
            assert.ok(negotiated !== null, `server declined ${offer}`);
            const accepted = acceptPerMessageDeflateResponse(negotiated.response, clientOptions);
            assert.ok('extension' in accepted && accepted.extension !== null, 'error' in accepted ? accepted.error : 'no extension');
            const server = negotiated.extension;
            const client = accepted.extension;
            t.after(() => {
              server.release();
              client.release();
            });
            for (let i = 0; i < 3; i++) {
              const text = Buffer.from(`{"n":${i},"text":"${'hello world '.repeat(40 + i)}"}`);
              assert.deepEqual(exchange(client, server, text), text);
              assert.deepEqual(exchange(server, client, text), text);
            }
          });
        }
      }
    }
  }
});
