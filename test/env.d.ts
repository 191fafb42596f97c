import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Test-only: the D1 migrations, read by vitest.config.mts and applied in setup.ts. */
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
