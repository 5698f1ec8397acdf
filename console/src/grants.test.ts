import { describe, expect, it } from 'vitest';
import {
  GRANT_REASON,
  type Grantable,
  grantOptions,
  keyBeyondYou,
  patternMatches,
  permissionsNotHeld,
} from './grants';

const item = (id: string, grantable: boolean, isProtected = false): Grantable => ({
  id,
  name: id,
  grantable,
  protected: isProtected,
});

describe('grantOptions', () => {
  it('offers what the person can grant and disables the rest with the reason', () => {
    const options = grantOptions([item('Readers', true), item('Finance', false)], []);
    expect(options).toEqual([
      { value: 'Readers', label: 'Readers', disabled: false, reason: null },
      { value: 'Finance', label: 'Finance', disabled: true, reason: GRANT_REASON },
    ]);
  });

  it('keeps an assigned item the person cannot grant: removable, unless it is protected', () => {
    const options = grantOptions(
      [item('Finance', false), item('Administrators', false, true)],
      [
        { id: 'Finance', name: 'Finance' },
        { id: 'Administrators', name: 'Administrators' },
      ],
    );
    expect(options[0]).toMatchObject({
      disabled: false,
      reason: expect.stringContaining('not give it back'),
    });
    expect(options[1]).toMatchObject({
      disabled: true,
      reason: expect.stringContaining('every permission (*)'),
    });
  });

  it('lists assigned items missing from the readable list, locked', () => {
    const options = grantOptions([], [{ id: 'rol_1', name: 'Hidden' }]);
    expect(options).toEqual([
      { value: 'rol_1', label: 'Hidden', disabled: true, reason: expect.stringContaining(GRANT_REASON) },
    ]);
  });

  it('a protected item the person can grant (they hold *) is a normal option', () => {
    expect(grantOptions([item('Administrators', true, true)], [])[0]).toMatchObject({ disabled: false });
  });
});

describe('permissions the person holds', () => {
  const catalogue = ['agent:read', 'agent:write', 'customer:read', 'iam:users:read', 'iam:users:manage'];

  it('matches patterns as the server does', () => {
    expect(patternMatches('*', 'iam:users:read')).toBe(true);
    expect(patternMatches('*:read', 'agent:read')).toBe(true);
    expect(patternMatches('*:read', 'iam:users:read')).toBe(false);
    expect(patternMatches('iam:*', 'iam:users:read')).toBe(true);
    expect(patternMatches('agent:*', 'agent')).toBe(false);
  });

  it('names the typed patterns that reach a permission the person does not hold', () => {
    const held = ['agent:read', 'iam:users:read'];
    expect(
      permissionsNotHeld(['agent:read', 'agent:*', '*:read', 'iam:users:read'], held, catalogue),
    ).toEqual(['agent:*', '*:read']);
    expect(permissionsNotHeld(['*'], catalogue, catalogue)).toEqual([]);
  });

  it('names what a key holds beyond the person', () => {
    expect(keyBeyondYou(['agent:read', 'iam:users:manage'], ['agent:read'])).toEqual(['iam:users:manage']);
    expect(keyBeyondYou(['agent:read'], ['agent:read', 'agent:write'])).toEqual([]);
  });
});
