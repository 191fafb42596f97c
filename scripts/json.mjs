#!/usr/bin/env node
// Print one field of the JSON on stdin:  curl … | node scripts/json.mjs messages.0.seq
// Objects print as one line of JSON, strings and numbers bare; no path prints the whole answer.
// Exits 1 (naming the path) when the field is missing, so a shell example stops there.
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const path = process.argv[2] ?? "";
  let value;
  try {
    value = JSON.parse(input);
  } catch {
    console.error(`json: the input is not JSON: ${input.slice(0, 200)}`);
    process.exit(1);
  }
  for (const key of path.split(".").filter(Boolean)) {
    value = value !== null && typeof value === "object" ? value[key] : undefined;
    if (value === undefined) {
      console.error(`json: no field ${path} in ${input.slice(0, 200)}`);
      process.exit(1);
    }
  }
  console.log(typeof value === "object" ? JSON.stringify(value) : String(value));
});
