import { describe, expect, it } from 'vitest';
import { isPublicAddress, webhookUrlProblem } from './address-policy.js';
import { verifyWebhookSignature, webhookSignature } from './signature.js';

describe('the webhook address policy (SSRF)', () => {
  it('refuses loopback, private, link-local, shared, documentation, multicast and reserved addresses', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '0.0.0.0',
      '10.0.0.1',
      '100.64.0.1',
      '169.254.169.254',
      '172.16.0.1',
      '172.31.255.255',
      '192.0.2.10',
      '192.168.1.1',
      '198.18.0.1',
      '224.0.0.1',
      '240.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::7f00:1',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '2001:db8::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '2002:c0a8:0101::1',
      'not an address',
    ])
      expect(isPublicAddress(address), address).toBe(false);
  });

  it('allows public addresses, IPv4 and IPv6, mapped or not', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:0808:0808::1',
    ])
      expect(isPublicAddress(address), address).toBe(true);
  });

  it('takes http(s) URLs with a host and without credentials or fragment', () => {
    expect(webhookUrlProblem('https://hooks.example.com/x?y=1')).toBeUndefined();
    expect(webhookUrlProblem('http://203.0.113.9:8080/')).toBeUndefined();
    expect(webhookUrlProblem('hooks.example.com')).toBe('is not an absolute URL');
    expect(webhookUrlProblem('ftp://example.com/')).toMatch(/http/);
    expect(webhookUrlProblem('file:///etc/passwd')).toMatch(/http/);
    expect(webhookUrlProblem('https://user:pw@example.com/')).toMatch(/password/);
    expect(webhookUrlProblem('https://example.com/#x')).toMatch(/fragment/);
    expect(webhookUrlProblem(`https://example.com/${'x'.repeat(2048)}`)).toMatch(/longer/);
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_test-secret-0123456789';
  const body = '{"type":"run.succeeded"}';

  it('signs "<t>.<body>" with HMAC-SHA256 and verifies within the tolerance', () => {
    const header = webhookSignature(secret, 1_700_000_000, body);
    // Computed apart (Python's hmac), so the scheme is what docs/webhooks.md says, not what the code does.
    expect(header).toBe('t=1700000000,v1=b50499d6a100bbcc4de42e45816b62434c070e22bf92b923feea13138518c6fd');
    expect(verifyWebhookSignature(secret, header, body, { nowSeconds: 1_700_000_100 })).toBe(true);
  });

  it('refuses another secret, another body, a stale or future timestamp and malformed headers', () => {
    const header = webhookSignature(secret, 1_700_000_000, body);
    const at = { nowSeconds: 1_700_000_000 };
    expect(verifyWebhookSignature('whsec_other-secret-0123456', header, body, at)).toBe(false);
    expect(verifyWebhookSignature(secret, header, `${body} `, at)).toBe(false);
    expect(verifyWebhookSignature(secret, header, body, { nowSeconds: 1_700_000_301 })).toBe(false);
    expect(verifyWebhookSignature(secret, header, body, { nowSeconds: 1_699_999_699 })).toBe(false);
    expect(verifyWebhookSignature(secret, undefined, body, at)).toBe(false);
    expect(verifyWebhookSignature(secret, 'v1=abc', body, at)).toBe(false);
    expect(verifyWebhookSignature(secret, header.replace('t=1700000000', 't=1700000001'), body, at)).toBe(
      false,
    );
  });
});
