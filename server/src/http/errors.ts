// What an error becomes on the wire. Every error answer has one body,
// `{ statusCode, error, code, message, issues? }`: a 422 names each bad field (path and
// message), an AppError (shared/errors.ts) speaks for itself, Fastify's own client errors (bad
// JSON, wrong content type, too large) say what without saying where, PostgreSQL or Redis away
// and a transaction that lost its race are a 503 with Retry-After, and anything else is a 500
// that is logged and says nothing of the cause.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../shared/errors.ts';
import { isTransientConflict } from '../db/conflict.ts';
import { redactUrl } from './logging.ts';
import { endRefused } from './refusals.ts';
import { validationIssues } from './validation-issues.ts';

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = validationIssues(err.validation, err.validationContext, req);
    return reply.code(422).send({
      statusCode: 422,
      error: 'Unprocessable Entity',
      code: 'validation_failed',
      message: issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
      issues,
    });
  }
  if (err instanceof AppError) {
    return reply
      .code(err.statusCode)
      .headers(err.headers)
      .send({
        statusCode: err.statusCode,
        error: reasonPhrase(err.statusCode),
        code: err.code,
        message: err.message,
        ...(err.issues ? { issues: err.issues } : {}),
      });
  }
  const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
  // Fastify closes the connection after a body too large; behind nginx it stays open and the
  // rest of the body is dropped instead (refusals.ts: there, the close lost the answer)
  if (status === 413) endRefused(req, reply);
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (bad JSON, wrong content type, too large): say what, not where
    return reply.code(status).send({ statusCode: status, error: reasonPhrase(status), code: clientCode(status, err as Error), message: clientMessage(status, err as Error) });
  }
  if ((err as { code?: unknown }).code === '22008') {
    // PostgreSQL's "timestamp out of range": a date the request gave (a year before 4713 BC, say)
    // that the schema's date check let through; the request, not the server, is at fault
    return reply.code(422).send({
      statusCode: 422,
      error: 'Unprocessable Entity',
      code: 'date_out_of_range',
      message: 'A date given is outside the range that can be stored (4713 BC to 294276 AD)',
    });
  }
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ code: (err as { code?: string }).code }, 'PostgreSQL or Redis unavailable');
    return reply
      .code(503)
      .header('retry-after', '5')
      .send({ statusCode: 503, error: 'Service Unavailable', code: 'unavailable', message: 'The service is briefly unavailable; please try again shortly' });
  }
  if (isTransientConflict(err)) {
    // a transaction that lost a race with another (deadlock, serialization failure) and
    // still did after its retries: nothing of it was written; trying again is the answer
    req.log.warn({ code: (err as { code?: string }).code }, 'transaction conflict after retries');
    return reply
      .code(503)
      .header('retry-after', '1')
      .send({ statusCode: 503, error: 'Service Unavailable', code: 'busy', message: 'Too many changes to the same record at once; please try again in a moment' });
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', code: 'internal', message: 'Something went wrong on our side; it has been logged' });
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply) {
  reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'not_found', message: `No route for ${req.method} ${redactUrl(req.url)}` });
}

function reasonPhrase(status: number): string {
  const phrases: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    409: 'Conflict',
    410: 'Gone',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  };
  return phrases[status] ?? 'Error';
}

function clientCode(status: number, err: Error): string {
  const code = (err as { code?: string }).code;
  if (status === 413) return 'body_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'empty_body';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return 'invalid_json';
  return 'bad_request';
}

function clientMessage(status: number, err: Error): string {
  if (status === 413) return 'The request body is too large';
  if (status === 415) return 'Send the body as application/json or application/x-www-form-urlencoded';
  const code = (err as { code?: string }).code;
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'The JSON body is empty';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return 'The body is not valid JSON';
  return err.message.length < 200 ? err.message : 'The request is not valid';
}

function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  const msg = String((err as { message?: string })?.message ?? '');
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === '57P01' ||
    code === '57P03' ||
    code === '08006' ||
    code === '08001' ||
    (err as { name?: string })?.name === 'MaxRetriesPerRequestError' ||
    /timeout exceeded when trying to connect|Connection terminated|Connection is closed|Stream isn't writeable/i.test(msg)
  );
}
