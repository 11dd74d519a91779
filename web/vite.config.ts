/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The console is served by kumo-bff at "/" (same origin as /api/v1).
// `npm run dev` proxies /api to a running kumo-bff (KUMO_BFF, default :8080).
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: process.env.KUMO_WEB_OUT ?? "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 600,
  },
  worker: { format: "es" },
  server: {
    proxy: { "/api": process.env.KUMO_BFF ?? "http://127.0.0.1:8080" },
  },
  test: {
    environment: "happy-dom",
    include: ["tests/unit/**/*.test.{ts,tsx}"],
    setupFiles: ["tests/unit/setup.ts"],
    testTimeout: 30000,
  },
});
