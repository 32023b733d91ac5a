// Prisma CLI configuration: the WebAssembly schema engine with the pg driver adapter,
// so that generate and migrate deploy work offline (see README, "Toolchain").
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('DATABASE_URL must be set for Prisma commands');
    return new PrismaPg({ connectionString: url });
  },
});
