import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import path from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/** The first load may download at most this much JavaScript, gzipped (issue: keep the app small). */
const FIRST_LOAD_BUDGET = 150 * 1024;
const api = `http://127.0.0.1:${process.env.PORT ?? "8787"}`;

/**
 * Measures the JavaScript a browser downloads for the first screen (the entry chunk and the chunks it
 * imports statically, gzipped) and fails the build when it is over budget.
 */
function firstLoadBudget(): Plugin {
  let outDir = "";
  return {
    name: "switchboard-first-load-budget",
    apply: "build",
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    writeBundle(_options, bundle) {
      const entry = Object.values(bundle).find((c) => c.type === "chunk" && c.isEntry);
      if (!entry || entry.type !== "chunk") return;
      const seen = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        const chunk = bundle[file];
        if (chunk?.type === "chunk") chunk.imports.forEach(visit);
      };
      visit(entry.fileName);
      let gzipped = 0;
      for (const file of seen) gzipped += gzipSync(readFileSync(path.join(outDir, file))).byteLength;
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      const line = `first-load JavaScript: ${kb(gzipped)} gzipped (${seen.size} file${seen.size === 1 ? "" : "s"}; budget ${kb(FIRST_LOAD_BUDGET)})`;
      if (gzipped > FIRST_LOAD_BUDGET) this.error(`${line}: over budget`);
      console.log(line);
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), firstLoadBudget()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  // `npm run dev:web`: hot reload here, the API of the stack that `npm start` runs.
  server: {
    host: "127.0.0.1",
    port: Number(process.env.WEB_PORT ?? 5173),
    proxy: { "/v1": { target: api, ws: true }, "/health": api },
    fs: { allow: [path.resolve(import.meta.dirname, "..")] },
  },
});
