// Does the README's Configuration table name exactly the bindings, vars and secrets that wrangler.toml
// and .dev.vars.example define? Used by the README test; returns the disagreements (empty when none).

/** Names defined by wrangler.toml: [vars] keys, binding names, required secrets. */
export function wranglerNames(toml) {
  const names = new Set();
  let section = "";
  for (const raw of toml.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const header = /^\[\[?([\w.]+)\]\]?$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const kv = /^([\w]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv;
    const quoted = /^"([^"]+)"/.exec(value)?.[1];
    if (section === "vars") names.add(key);
    else if (key === "binding" && quoted) names.add(quoted);
    else if (key === "name" && quoted && (section === "durable_objects.bindings" || section === "ratelimits")) names.add(quoted);
    else if (section === "secrets" && key === "required") for (const m of value.matchAll(/"(\w+)"/g)) names.add(m[1]);
  }
  return names;
}

/** Keys of a dotenv file such as .dev.vars.example. */
export function dotenvNames(text) {
  return new Set([...text.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*=/gm)].map((m) => m[1]));
}

/** Upper-case names in backticks in the first column of the table under "## Configuration". */
export function tableNames(markdown) {
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1] ?? "";
  const names = new Set();
  for (const row of section.split("\n").filter((l) => l.startsWith("|"))) {
    const first = row.split("|")[1] ?? "";
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(m[1]);
  }
  return names;
}

export function checkConfiguration(markdown, toml, devVarsExample) {
  const defined = new Set([...wranglerNames(toml), ...dotenvNames(devVarsExample)]);
  const listed = tableNames(markdown);
  const problems = [];
  for (const n of defined) if (!listed.has(n)) problems.push(`${n} is defined (wrangler.toml or .dev.vars.example) but not in the README's Configuration table`);
  for (const n of listed) if (!defined.has(n)) problems.push(`${n} is in the README's Configuration table but defined in neither wrangler.toml nor .dev.vars.example`);
  return problems;
}
