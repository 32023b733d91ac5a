// Response shapes shared by the routes and documented in the OpenAPI.
import { z } from 'zod';
import { ISSUE_CODES } from '../../shared/issues.ts';
import { LOCALES } from '../../shared/locales.ts';

export const errorSchema = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  code: z.string(),
  message: z.string(),
  issues: z
    .array(
      z.object({
        path: z.string().describe('the field, dotted ("attachments.0.data"), or the line of a file'),
        code: z.enum(ISSUE_CODES).optional().describe('what is wrong with it, for a program to tell the cases apart (every issue a request schema finds has one)'),
        min: z.number().optional().describe('the bound it broke, for too_short and out_of_range below: the fewest characters or items, or the lowest number'),
        max: z.number().optional().describe('the bound it broke, for too_long and out_of_range above: the most characters or items, or the highest number'),
        message: z.string().describe('the same in English, for people'),
      }),
    )
    .optional(),
}).meta({
  examples: [
    { statusCode: 404, error: 'Not Found', code: 'action_not_found', message: 'No action is published at "free-them"' },
    {
      statusCode: 422,
      error: 'Unprocessable Entity',
      code: 'validation_failed',
      message: 'email: Email is not a valid address',
      issues: [{ path: 'email', code: 'invalid', message: 'Email is not a valid address' }],
    },
  ],
});

export const localeQuery = z.object({
  locale: z.enum(LOCALES).optional().describe('language of the texts; falls back to the action default'),
});

export const slugParam = z.object({
  slug: z.string().max(80).regex(/^[a-z0-9][a-z0-9-]*$/, 'slug must be lower-case letters, digits and dashes'),
});

/** Public counts by country (action.service.ts, publicCountries): the same fields wherever they are answered. */
export const publicCountryFields = {
  countries: z
    .array(z.object({ country: z.string(), count: z.number().int() }))
    .describe('countries with at least `countryMin` signers, as of the start of the day (UTC): updated once a day'),
  otherCountries: z.number().int().describe('the signers of every other country, counted together'),
  countryMin: z.number().int().describe('PUBLIC_COUNTRY_MIN: no country with fewer signers is shown'),
};
