// Prisma Client, for the seed and the test fixtures only: their nested creates of a campaign with
// its actions, texts and targets read best in it. The platform itself queries with Kysely (db.ts).
import type pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

const clients = new WeakMap<pg.Pool, PrismaClient>();

/** A Prisma Client on the given pool (one per pool); the pool's owner closes it. */
export function prismaOn(pool: pg.Pool): PrismaClient {
  let client = clients.get(pool);
  if (!client) {
    client = new PrismaClient({ adapter: new PrismaPg(pool) });
    clients.set(pool, client);
  }
  return client;
}
