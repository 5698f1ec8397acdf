/**
 * Contract checks, on in the test suite (buildApp's `checkContract`): every answer of a contract
 * route must match the contract — a success status the operation declares, a body its schema
 * accepts (checked before serialisation, so a missing or mistyped field is caught, not coerced),
 * and an error code the operation lists; and error bodies have their routes' shape (a data API
 * route's carries a top-level `message` equal to `error.message`, an admin operation's does not:
 * src/http/errors.ts). A violation turns the answer into a 500 and is printed,
 * so the whole suite doubles as a test of the OpenAPI document. Off in production: serialisation
 * through the schemas already keeps undeclared fields out.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorsOf, type Operation } from '../contract/operations.js';
import { isDataApiRoute } from './errors.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
const compiled = new WeakMap<object, ValidateFunction>();
const validatorOf = (schema: object) => {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
};

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

const describe = (request: FastifyRequest, op: Operation) =>
  `${op.schema.operationId} (${request.method} ${request.url.split('?')[0]})`;

export function registerContractChecks(app: FastifyInstance): void {
  app.addHook('preSerialization', async (request, reply, payload) => {
    const op = request.routeOptions.config.operation;
    if (!op || reply.statusCode >= 400) return payload;
    const schema = op.schema.response[reply.statusCode];
    if (!schema) {
      throw new ContractViolation(
        `${describe(request, op)} answered ${reply.statusCode}, which its operation does not declare`,
      );
    }
    const validate = validatorOf(schema);
    if (!validate(payload)) {
      throw new ContractViolation(
        `${describe(request, op)}: the ${reply.statusCode} body does not match its schema: ${ajv.errorsText(validate.errors)}`,
      );
    }
    return payload;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const op = request.routeOptions.config.operation;
    const dataApi = isDataApiRoute(request);
    if (!op && !dataApi) return payload;
    const status = reply.statusCode;
    const json = typeof payload === 'string' && reply.getHeader('content-type')?.toString().includes('json');
    let problem: string | undefined;
    if (status >= 400 && json) {
      const body = JSON.parse(payload as string) as {
        message?: unknown;
        error?: { code?: string; message?: unknown };
      };
      const where = op ? describe(request, op) : `${request.method} ${request.url.split('?')[0]}`;
      if (dataApi && (typeof body.message !== 'string' || body.message !== body.error?.message)) {
        problem = `${where} answered ${status} without a top-level message equal to error.message`;
      } else if (!dataApi && 'message' in body) {
        problem = `${where} answered ${status} with a top-level message (data API routes only)`;
      } else if (op && status < 500) {
        const code = body.error?.code;
        if (!code || !(errorsOf(op) as string[]).includes(code)) {
          problem = `${where} answered ${status} ${code}, a code its operation does not list`;
        }
      }
    } else if (op && status < 300 && !(status in op.schema.response) && !op.html && !op.text) {
      problem = `${describe(request, op)} answered ${status}, which its operation does not declare`;
    }
    if (problem === undefined) return payload;
    console.error(`contract violation: ${problem}`);
    reply.status(500).header('content-type', 'application/json; charset=utf-8');
    const message = `contract violation: ${problem}`;
    return JSON.stringify({
      ...(dataApi ? { message } : {}),
      error: { code: 'INTERNAL', message, requestId: request.id },
    });
  });
}
