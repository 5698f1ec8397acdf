/**
 * `POST /v1/leaked-keys` (GitHub secret-scanning reports, or an in-house scanner's) and
 * `POST /iam/keys/{id}/quarantine/release`. The rules live in src/leaks.
 */
import type { FastifyRequest } from 'fastify';
import { operations as op } from '../../contract/operations.js';
import { type Reporter, releaseQuarantine } from '../../leaks/quarantine.js';
import { ReportKeys } from '../../leaks/report-keys.js';
import { processLeakReport } from '../../leaks/reports.js';
import type { App, RouteDeps } from '../app-types.js';
import { actorOf } from '../auth.js';
import { route } from '../contract.js';

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

export async function leakRoutes(app: App, deps: RouteDeps): Promise<void> {
  const { svc } = deps;
  // Read now: a keys file that cannot be used stops the start.
  const reportKeys = new ReportKeys(svc, svc.config.leakReportKeysFile);
  const signedByGithub = new WeakSet<FastifyRequest>();

  route(
    app,
    op.reportLeakedKeys,
    async (request) => {
      const reporter: Reporter = signedByGithub.has(request)
        ? { kind: 'github' }
        : { kind: 'credentials', actor: actorOf(request) };
      return (await processLeakReport(svc, reporter, request.body)).feedback;
    },
    {
      // GitHub's headers: the signature over the raw body decides, before the body is validated.
      // Without them, the usual credentials (and iam:leaks:report) are required.
      ownAuthentication: (request) => {
        const identifier = header(request, 'github-public-key-identifier');
        const signature = header(request, 'github-public-key-signature');
        if (identifier === undefined && signature === undefined) return false;
        reportKeys.verify(identifier, signature, request.rawBody);
        signedByGithub.add(request);
        return true;
      },
    },
  );

  route(app, op.releaseKeyQuarantine, async (request) =>
    releaseQuarantine(svc, actorOf(request), request.params.accessKeyId),
  );
}
