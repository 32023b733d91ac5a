// Domain errors carry an HTTP status and a stable machine-readable code; the HTTP error
// handler turns them into { statusCode, error, code, message }. Anything else becomes a
// generic 500 with no internals in the body.
import type { IssueCode } from './issues.ts';

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** per-field (or per-line) problems, sent as `issues` like a schema validation failure */
    readonly issues?: Issue[],
  ) {
    super(message);
  }
}

/** One problem of a request: where (a field's path, or a line of a file), what (a code the pages translate: shared/issues.ts), and in English. */
export interface Issue {
  path: string;
  code?: IssueCode;
  /** the bound broken, for too_short and out_of_range below (shared/issues.ts issueBound) */
  min?: number;
  /** the bound broken, for too_long and out_of_range above */
  max?: number;
  message: string;
}

/** 422 with the list of what is wrong, each with its path. */
export const invalid = (code: string, message: string, issues: Issue[]) =>
  new AppError(422, code, message, {}, issues);

export const notFound = (code: string, message: string) => new AppError(404, code, message);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const gone = (code: string, message: string) => new AppError(410, code, message);
export const unavailable = (code: string, message: string, retryAfterSeconds: number) =>
  new AppError(503, code, message, { 'retry-after': String(retryAfterSeconds) });
export const tooMany = (code: string, message: string, retryAfterSeconds: number) =>
  new AppError(429, code, message, { 'retry-after': String(retryAfterSeconds) });
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
