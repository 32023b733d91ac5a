import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
	plugins: [sveltekit()],
	build: {
		rollupOptions: {
			// zod (the sign form's schema, shared with the API) carries comments Rollup cannot
			// place; they are dropped either way, and saying so at every build is noise
			onLog(level, log, handler) {
				if (log.code === 'INVALID_ANNOTATION' && log.id?.includes('/node_modules/zod/')) return;
				handler(level, log);
			}
		}
	},
	ssr: {
		// Bundle every dependency into the server build. The root node_modules is shared
		// with the API server and may hold other major versions of packages that SvelteKit
		// uses (cookie 2 at the top, SvelteKit's cookie 0.6 nested): resolving them from
		// .svelte-kit/output at run time would pick the wrong one.
		noExternal: true
	},
	server: {
		fs: {
			// $shared lives outside web/ (server/src/shared), and its enums are generated from the schema
			allow: ['../server/src/shared', '../server/src/generated/kysely']
		}
	}
});
