/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The build goes straight into the Python package, where `tav serve` finds it.
// `npm run dev` proxies the API to a server on 127.0.0.1:8000 (`make run`), the WebSockets
// of the workflows' live drafts included.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: '../src/tav/web',
    emptyOutDir: true,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: { '/api': { target: 'http://127.0.0.1:8000', ws: true } },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
})
