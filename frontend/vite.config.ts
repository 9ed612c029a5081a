/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The build goes straight into the Python package, where `tav serve` finds it.
// `npm run dev` proxies the API to a server on 127.0.0.1:8000 (`make run`).
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: '../src/tav/web',
    emptyOutDir: true,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
})
