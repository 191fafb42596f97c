import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    test: {
      // The reporting log writes a JSON line per request and side effect; tests that check it spy on
      // console.log, so the lines need not also fill the test output.
      onConsoleLog: (log: string) => (log.startsWith('{"ts":') ? false : undefined),
      // Alarms and queue consumers keep writing reporting-log lines for a moment after a file's last test;
      // forwarding such a line while the file's runner closes is not a failure of any test. Only that one
      // error is ignored: every other unhandled error still fails the run.
      onUnhandledError: (error: { name?: string; message?: string }) =>
        error.name === "EnvironmentTeardownError" && (error.message ?? "").includes('"onUserConsoleLog"') ? false : undefined,
      projects: [
        {
          // The domain's rules, over in-memory stores: plain Node, no Workers runtime.
          test: {
            name: "unit",
            include: ["test/unit/**/*.test.ts"],
            environment: "node",
          },
        },
        {
          // Everything else runs in workerd, through the Worker and the Durable Objects.
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                // Test-only bindings: fixed secrets (the suite signs its own tokens) and the D1 migrations.
                bindings: {
                  ADMIN_TOKEN: "test-admin-token",
                  TOKEN_SIGNING_KEY: "test-signing-key-0123456789abcdef",
                  // More than one presence shard, so every presence test also exercises sharding.
                  PRESENCE_SHARDS: "3",
                  TEST_MIGRATIONS: migrations,
                },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/**/*.test.ts"],
            exclude: ["test/unit/**"],
            setupFiles: ["./test/setup.ts"],
            testTimeout: 20_000,
            hookTimeout: 20_000,
          },
        },
      ],
    },
  };
});
