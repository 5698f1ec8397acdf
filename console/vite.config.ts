import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = new URL('.', import.meta.url).pathname;

// The service serves the build at /console/ (src/http/routes/console.ts).
export default defineConfig({
  root,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: `${root}dist`,
    emptyOutDir: true,
    // One small app: a single chunk keeps the CSP and caching simple.
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      '/iam': 'http://127.0.0.1:8080',
      '/profile': 'http://127.0.0.1:8080',
      '/version': 'http://127.0.0.1:8080',
      '/agent': 'http://127.0.0.1:8080',
    },
  },
});
