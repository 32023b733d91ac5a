// The API's shapes as the pages name them, all taken from the generated schema (schema.d.ts,
// written from /api/openapi.json at build time by server/bin/web-contract.ts). Nothing here
// restates a shape: a change to a route's schema on the server is a type error here or in the
// page that reads it. Types only: safe to import anywhere.
import type { paths } from './schema';

export type { paths };

type ApiPath = keyof paths;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Operation<P extends ApiPath, M extends Method> = NonNullable<paths[P][M]>;
type Responses<P extends ApiPath, M extends Method> = Operation<P, M> extends { responses: infer R } ? R : never;
type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON of a route's successful answer (200, 201 or 202). */
export type ApiData<P extends ApiPath, M extends Method = 'get'> = Json<Responses<P, M>[Extract<keyof Responses<P, M>, 200 | 201 | 202>]>;

/** The JSON body a route takes. */
export type ApiBody<P extends ApiPath, M extends Method> =
	Operation<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

/** A route's query parameters. */
export type ApiQuery<P extends ApiPath, M extends Method = 'get'> = Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** The body of every error answer: `{ statusCode, error, code, message, issues? }`. */
export type ApiError = Json<Responses<'/api/actions', 'get'>['4XX']>;
/** One bad field of a 422: its path, its code (what is wrong) and the API's English message. */
export type ApiIssue = NonNullable<ApiError['issues']>[number];

// --- names the pages share
export type ActionSummary = ApiData<'/api/actions'>['actions'][number];
export type ActionDetail = ApiData<'/api/actions/{slug}'>;
/** One letter in an action's public proof of delivery. */
export type LedgerEntry = ActionDetail['ledger'][number];
/** A threshold of an action: when it was reached, and where each official stands with its request. */
export type PublicThreshold = ActionDetail['thresholds'][number];
export type MyDataExport = ApiData<'/api/my-data/{token}'>;
export type StaffTarget = ApiData<'/api/admin/targets/{id}'>;
/** What both dashboards show (the overview's and an action's). */
export type Dashboard = ApiData<'/api/admin/dashboard'> | ApiData<'/api/admin/dashboard/actions/{id}'>;
/** The time step of a dashboard's series. */
export type Range = NonNullable<ApiQuery<'/api/admin/dashboard'>['range']>;
