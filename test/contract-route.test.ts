/**
 * Routes registered from the contract: answers are serialised through the operation's response
 * schema (a field the contract does not name never leaves the server), and with the test suite's
 * contract checks on, an answer that breaks the contract becomes a 500 that says why.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { Operation } from '../src/contract/operations.js';
import type { App } from '../src/http/app-types.js';
import { route } from '../src/http/contract.js';
import { registerContractChecks } from '../src/http/contract-checks.js';
import { registerErrorHandling } from '../src/http/errors.js';

const op = {
  method: 'GET',
  url: '/thing/:id',
  auth: 'none',
  schema: {
    operationId: 'getThing',
    summary: 'a thing',
    tags: ['Test'],
    params: Type.Object({ id: Type.String() }),
    response: { 200: Type.Object({ id: Type.String(), name: Type.String() }) },
  },
  errors: ['NOT_FOUND'],
} as const satisfies Operation;

async function appWith(handler: (id: string) => unknown, checks: boolean) {
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  registerErrorHandling(app as unknown as FastifyInstance);
  if (checks) registerContractChecks(app as unknown as FastifyInstance);
  route(app as unknown as App, op, (async (request: { params: { id: string } }) =>
    handler(request.params.id)) as never);
  await app.ready();
  return app;
}

describe('routes from the contract', () => {
  it('serialise through the response schema: undeclared fields never leave', async () => {
    const app = await appWith((id) => ({ id, name: 'n', password_hash: 'secret' }), false);
    const res = await app.inject({ method: 'GET', url: '/thing/1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: '1', name: 'n' });
    expect(res.body).not.toContain('secret');
  });

  it('with contract checks, a body that breaks its schema is a 500 naming the operation', async () => {
    const app = await appWith((id) => ({ id, name: 42 }), true);
    const res = await app.inject({ method: 'GET', url: '/thing/1' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.message).toMatch(/getThing .*does not match its schema/);
  });

  it('with contract checks, an error code the operation does not list is a 500', async () => {
    const { AppError } = await import('../src/errors.js');
    const app = await appWith(() => {
      throw new AppError('KEY_LIMIT_REACHED', 'no');
    }, true);
    const res = await app.inject({ method: 'GET', url: '/thing/1' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.message).toMatch(/KEY_LIMIT_REACHED, a code its operation does not list/);
    const listed = await appWith(() => {
      throw new AppError('NOT_FOUND', 'no thing');
    }, true);
    expect((await listed.inject({ method: 'GET', url: '/thing/1' })).statusCode).toBe(404);
  });
});
