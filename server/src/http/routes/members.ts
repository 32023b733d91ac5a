// Member self-service without accounts: one-click unsubscribe (RFC 8058) and "my data" by
// emailed link (see, change consents, erase). Every answer is no-store: these carry personal data.
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Mailer } from '../../mail/mailer.ts';
import { redactAddresses, sendMyDataLink } from '../../supporter/member-mail.ts';
import {
  consentChangeSchema,
  eraseBodySchema,
  erasedSchema,
  memberTokenParam,
  myDataExportSchema,
  myDataQuery,
  myDataReceivedSchema,
  myDataRequestSchema,
  unsubscribeBodySchema,
  unsubscribeStatusSchema,
  unsubscribedSchema,
} from '../../supporter/supporter.schema.ts';
import { changeConsent, erase, exportMyData, unsubscribe, unsubscribeStatus, type SupporterDeps } from '../../supporter/supporter.service.ts';
import { errorSchema } from './schemas.ts';

export interface MemberRouteOptions {
  pool: SupporterDeps['pool'];
  secret: string;
  clock: () => Date;
  publicBaseUrl: string;
  /** sends "my data" links, straight from the request (low volume) */
  mailer: Mailer;
  mailFrom: string;
  /** at most one "my data" link per supporter per this many seconds; none without redis */
  redis?: Redis;
  myDataLinkIntervalSeconds?: number;
}

const ONE_CLICK_BODY_LIMIT = 8 * 1024;

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 });
}

/** The fields of a small multipart/form-data body (RFC 8058 says mail clients SHOULD use it). */
export function parseMultipartFields(body: string, contentType: string): Record<string, string> | null {
  const m = /boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  if (!m) return null;
  const delimiter = `--${m[1] ?? m[2]}`;
  const fields: [string, string][] = [];
  const parts = body.split(delimiter);
  for (const part of parts.slice(1)) {
    if (part.startsWith('--')) return Object.fromEntries(fields);
    const sep = /\r?\n\r?\n/.exec(part);
    if (!sep) return null;
    const name = /content-disposition:\s*form-data;[^\r\n]*\bname="([^"\r\n]*)"/i.exec(part.slice(0, sep.index))?.[1];
    if (name === undefined || fields.some(([n]) => n === name)) return null;
    fields.push([name, part.slice(sep.index + sep[0].length).replace(/\r?\n$/, '')]);
  }
  return null; // no closing delimiter
}

export const memberRoutes: FastifyPluginAsyncZod<MemberRouteOptions> = async (app, opts) => {
  const deps = { pool: opts.pool, secret: opts.secret, clock: opts.clock };
  const noStore = { 'cache-control': 'no-store' };

  // ------------------------------------------------------------ unsubscribe
  await app.register(async (scope) => {
    const oneClick = scope.withTypeProvider<ZodTypeProvider>();
    // a plain POST may say it is JSON and send nothing: that is an empty body, not bad JSON
    const json = oneClick.getDefaultJsonParser('error', 'error');
    oneClick.removeContentTypeParser('application/json');
    oneClick.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      if (String(body).trim() === '') return done(null, undefined);
      json(req, String(body), done);
    });
    oneClick.addContentTypeParser('multipart/form-data', { parseAs: 'string', bodyLimit: ONE_CLICK_BODY_LIMIT }, (req, body, done) => {
      const fields = parseMultipartFields(String(body), String(req.headers['content-type'] ?? ''));
      if (!fields) return done(badRequest('The multipart body is not valid'), undefined);
      done(null, fields);
    });

    oneClick.get(
      '/unsubscribe/:token',
      {
        schema: {
          summary: 'Look at an unsubscribe link without unsubscribing',
          description: 'Safe for link scanners: reading changes nothing. POST to the same path unsubscribes.',
          tags: ['members'],
          params: memberTokenParam,
          response: { 200: unsubscribeStatusSchema, 404: errorSchema, 410: errorSchema },
        },
      },
      async (req, reply) => {
        reply.headers(noStore);
        return unsubscribeStatus(deps, req.params.token);
      },
    );

    oneClick.post(
      '/unsubscribe/:token',
      {
        bodyLimit: ONE_CLICK_BODY_LIMIT,
        schema: {
          summary: 'Unsubscribe (RFC 8058 one-click)',
          description:
            'The target of the List-Unsubscribe header. Accepts no body, JSON {}, or the form body ' +
            '`List-Unsubscribe=One-Click` (urlencoded or multipart). Idempotent: stops all optional email; ' +
            'emails the member asks for (such as confirming a new signature) are still sent.',
          tags: ['members'],
          params: memberTokenParam,
          body: unsubscribeBodySchema,
          response: { 200: unsubscribedSchema, 400: errorSchema, 404: errorSchema, 410: errorSchema, 422: errorSchema },
        },
      },
      async (req, reply) => {
        reply.headers(noStore);
        return unsubscribe(deps, req.params.token);
      },
    );
  });

  // ------------------------------------------------------------ my data
  const background = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled([...background]);
  });

  app.post(
    '/my-data/requests',
    {
      bodyLimit: 16 * 1024,
      schema: {
        summary: 'Ask for a link to one’s data',
        description:
          'Always answers 202, whether or not the address is known: the answer never tells who has signed. ' +
          'If a supporter has this address, a link valid for 24 hours is emailed to the address on file.',
        tags: ['members'],
        body: myDataRequestSchema,
        response: { 202: myDataReceivedSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      // looked up and sent after answering, so the time taken does not tell known from unknown
      const task = sendMyDataLink(
        {
          ...deps,
          publicBaseUrl: opts.publicBaseUrl,
          mailer: opts.mailer,
          mailFrom: opts.mailFrom,
          throttle: opts.redis ? { redis: opts.redis, seconds: opts.myDataLinkIntervalSeconds ?? 60 } : undefined,
          log: req.log,
        },
        req.body,
      )
        .catch((err: unknown) => {
          req.log.warn({ err: redactAddresses(err instanceof Error ? err.message : String(err)) }, 'my-data link not sent');
        })
        .finally(() => background.delete(task));
      background.add(task);
      return reply.code(202).headers(noStore).send({ status: 'received' });
    },
  );

  app.get(
    '/my-data/:token',
    {
      schema: {
        summary: 'Everything held about the supporter a "my data" link was sent to',
        description: 'JSON export; `?download=1` sends it as a file.',
        tags: ['members'],
        params: memberTokenParam,
        querystring: myDataQuery,
        response: { 200: myDataExportSchema, 404: errorSchema, 410: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      reply.headers(noStore);
      const data = await exportMyData(deps, req.params.token);
      if (req.query.download === '1') reply.header('content-disposition', 'attachment; filename="chorus-my-data.json"');
      return data;
    },
  );

  app.post(
    '/my-data/:token/consents',
    {
      bodyLimit: 16 * 1024,
      schema: {
        summary: 'Give or withdraw one consent',
        description:
          'NAMED_DISCLOSURE, NAMED_TO_OWN_COUNTRY and PUBLIC_WALL apply to one signature (signatureId); CONTACT to the ' +
          'supporter. Each change is added to the consent history. Withdrawing named disclosure also withdraws naming to ' +
          'one’s own country; giving the latter needs the former (409). Answers with the updated export.',
        tags: ['members'],
        params: memberTokenParam,
        body: consentChangeSchema,
        response: { 200: myDataExportSchema, 404: errorSchema, 409: errorSchema, 410: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      reply.headers(noStore);
      return changeConsent(deps, req.params.token, req.body);
    },
  );

  app.post(
    '/my-data/:token/erase',
    {
      bodyLimit: 16 * 1024,
      schema: {
        summary: 'Erase one’s personal data',
        description:
          'Removes the email address, names, personalised letters and IP hashes, and every consent to be named or shown. ' +
          'Signatures stay counted, without anything that identifies the signer. The link stops working.',
        tags: ['members'],
        params: memberTokenParam,
        body: eraseBodySchema,
        response: { 200: erasedSchema, 404: errorSchema, 410: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      reply.headers(noStore);
      return erase(deps, req.params.token);
    },
  );
};
