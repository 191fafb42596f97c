#!/usr/bin/env node
// A stand-in for an in-house push gateway: prints every push the `webhook` platform delivers.
// Usage: npm run push-receiver   (listens on 127.0.0.1:8788, PUSH_RECEIVER_PORT overrides)
import { createServer } from "node:http";

const port = Number(process.env.PUSH_RECEIVER_PORT ?? 8788);
createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    const at = new Date().toISOString();
    try {
      const push = JSON.parse(body);
      console.log(`${at} ${req.method} ${req.url} -> ${push.userId}/${push.deviceId}: [${push.conversationId} #${push.seq}] ${push.sender}: ${push.preview} (badge ${push.badge})`);
    } catch {
      console.log(`${at} ${req.method} ${req.url} -> ${body}`);
    }
    res.writeHead(204).end();
  });
}).listen(port, "127.0.0.1", () => console.log(`push receiver listening on http://127.0.0.1:${port}/push`));
