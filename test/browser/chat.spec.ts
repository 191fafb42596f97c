/**
 * The web app in Chromium against the stack as `npm start` serves it, with several people signed in
 * at once in separate browser contexts. Run: `npm run test:browser` (needs /usr/bin/chromium).
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { api, deliverStandardWebhook, launchBrowser, signedIn, startStack, type Stack } from "./stack.ts";

const SHOTS = path.resolve(import.meta.dirname, "../../test-results/browser");
/** A 2×2 PNG (red, green, blue, white). */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==",
  "base64",
);

let stack: Stack;
let browser: Browser;
const people: Record<string, { context: BrowserContext; page: Page }> = {};

const texts = (page: Page) => page.locator("article.message:not(.outgoing) p.text").allTextContents();
/** Open a conversation (its button is named by its title first) and wait until its socket is ready. */
async function openConversation(page: Page, title: string): Promise<void> {
  await page.getByRole("navigation").getByRole("button", { name: new RegExp(`^${title}`) }).click();
  await page.locator(`section.conversation[data-state="open"]`).filter({ has: page.getByRole("heading", { name: title }) }).waitFor();
}
const composer = (page: Page) => page.getByRole("textbox", { name: "Message" });

async function say(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

/** Wait (Playwright watches the page; no fixed sleep) until `who` sees a message whose text is exactly `text`. */
async function seen(page: Page, text: string, who: string): Promise<void> {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  await page.locator("article.message:not(.outgoing) p.text").filter({ hasText: exact }).first().waitFor({ timeout: 30_000 }).catch((err: unknown) => {
    throw new Error(`${who} never saw “${text}”`, { cause: err });
  });
}

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  for (const who of ["alice", "bob", "carol"]) people[who] = await signedIn(browser, stack.links[who]!);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("the web app", () => {
  test("sign-in drops the token from the address bar and keeps it in this tab only", async () => {
    const { page } = people.alice!;
    assert.equal(new URL(page.url()).hash, "");
    const stored = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: Object.keys(localStorage) }));
    assert.ok(stored.session.includes("switchboard.token"));
    assert.deepEqual(stored.local, []);
    const stranger = await browser.newContext();
    const blank = await stranger.newPage();
    await blank.goto(`${stack.links.alice!.split("#")[0]}#token=not-a-token`);
    await blank.getByRole("heading", { name: "Your sign-in has expired" }).waitFor();
    await stranger.close();
  });

  test("messages arrive on the other side in the order they were sent", async () => {
    const { alice, bob } = people;
    await openConversation(alice!.page, "Sales team");
    await openConversation(bob!.page, "Sales team");
    const sent = ["first", "second", "third", "fourth", "fifth"].map((w) => `order ${w}`);
    for (const text of sent) await say(alice!.page, text);
    await seen(bob!.page, sent.at(-1)!, "bob");
    // carol has no conversation open: her list shows the group's unread count, live from the device channel.
    await people.carol!.page.locator("button[data-conversation]", { hasText: "Sales team" }).locator(".unread", { hasText: "5" }).waitFor();
    assert.deepEqual((await texts(bob!.page)).filter((t) => t.startsWith("order ")), sent);
    await say(bob!.page, "order reply");
    await seen(alice!.page, "order reply", "alice");
    assert.deepEqual((await texts(alice!.page)).filter((t) => t.startsWith("order ")), [...sent, "order reply"]);
  });

  test("the other side sees typing, then a read receipt", async () => {
    const { alice, bob } = people;
    await openConversation(alice!.page, "Bob Chen");
    await openConversation(bob!.page, "Alice Martin");
    await composer(bob!.page).pressSequentially("typing something");
    await alice!.page.getByText("Bob Chen is typing…").waitFor();
    await composer(bob!.page).fill("");
    await say(alice!.page, "did you read this?");
    await seen(bob!.page, "did you read this?", "bob");
    await alice!.page.locator("article.message", { hasText: "did you read this?" }).getByRole("button", { name: "Read by 1 of 1" }).waitFor();
    await alice!.page.getByRole("button", { name: "Read by 1 of 1" }).last().click();
    await alice!.page.getByRole("dialog", { name: "Read by" }).getByText("Bob Chen").waitFor();
    await alice!.page.keyboard.press("Escape");
  });

  test("going offline and back loses and doubles nothing", async () => {
    const { alice, bob } = people;
    await openConversation(alice!.page, "Sales team");
    await openConversation(bob!.page, "Sales team");
    await alice!.context.setOffline(true);
    await alice!.page.getByText("You are offline").waitFor();
    const offline = ["offline one", "offline two", "offline three"];
    for (const text of offline) await say(alice!.page, text);
    await say(bob!.page, "while alice was away");
    assert.equal(await alice!.page.locator("article.outgoing", { hasText: "Sending…" }).count(), 3);
    // Wait until the client itself notices the dead link (its ping goes unanswered), so coming back
    // exercises the real path: a new socket, resume with after=, re-send with the same clientIds.
    await alice!.page.locator('section.conversation[data-state="connecting"]').waitFor({ timeout: 30_000 });
    await alice!.context.setOffline(false);
    await seen(bob!.page, "offline three", "bob");
    await seen(alice!.page, "while alice was away", "alice");
    await alice!.page.locator("article.outgoing").first().waitFor({ state: "detached" }); // alice's outbox is empty
    for (const page of [alice!.page, bob!.page]) {
      const all = await texts(page);
      for (const text of [...offline, "while alice was away"]) assert.equal(all.filter((t) => t === text).length, 1, `${text} exactly once`);
      assert.deepEqual(all.filter((t) => t.startsWith("offline ")), offline);
    }
  });

  test("a picture uploaded by one person is seen by the other", async () => {
    const { alice, bob } = people;
    await alice!.page.locator('input[type="file"]').setInputFiles({ name: "whiteboard.png", mimeType: "image/png", buffer: PNG });
    const image = bob!.page.getByRole("img", { name: "whiteboard.png" });
    await image.waitFor();
    // The picture has loaded for bob (checked by the browser on each frame).
    await bob!.page.waitForFunction((img) => img instanceof HTMLImageElement && img.complete && img.naturalWidth === 2, await image.elementHandle());
  });

  test("an approval decided by the approver changes the card on both sides", async () => {
    const { alice, bob } = people;
    await alice!.page.getByRole("button", { name: "Approval request" }).click();
    const form = alice!.page.getByRole("dialog", { name: "Approval request" });
    await form.getByLabel("Title").fill("Discount for ACME");
    await form.getByLabel("Amount").fill("1200");
    await form.getByLabel("Currency").fill("EUR");
    await form.getByRole("checkbox", { name: "Bob Chen" }).check();
    await form.getByRole("button", { name: "Send" }).click();
    const bobCard = bob!.page.locator(".approval-card", { hasText: "Discount for ACME" });
    await bobCard.getByRole("button", { name: "Approve" }).click();
    await bobCard.locator(".approval-state", { hasText: "Approved" }).waitFor();
    const aliceCard = alice!.page.locator(".approval-card", { hasText: "Discount for ACME" });
    await aliceCard.locator(".approval-state", { hasText: "Approved" }).waitFor();
    assert.equal(await bobCard.getByRole("button", { name: "Approve" }).count(), 0);
  });

  test("a signed CRM webhook makes a lead card appear live", async () => {
    const { alice, carol } = people;
    await openConversation(carol!.page, "Sales team");
    const integration = await api<{ url: string; secret: string }>("POST", "/v1/integrations", stack.apiKey, { kind: "standard", name: "CRM", conversationId: stack.groupId });
    const res = await deliverStandardWebhook(integration.url, integration.secret, {
      type: "lead.created",
      data: { id: "lead-42", title: "ACME expansion", company: "ACME Corp", contact: "Dana Lee", amount: 50000, currency: "USD", stage: "new", owner: "alice" },
    });
    assert.equal(res.status, 200, await res.text());
    for (const page of [alice!.page, carol!.page]) {
      const card = page.locator(".crm-card", { hasText: "ACME expansion" });
      await card.waitFor();
      await card.getByText("ACME Corp").waitFor();
    }
    // A later event about the same lead is a new card, and the first card shows it too.
    const update = await deliverStandardWebhook(integration.url, integration.secret, {
      type: "lead.updated",
      data: { id: "lead-42", title: "ACME expansion", company: "ACME Corp", stage: "qualified", owner: "alice" },
    });
    assert.equal(update.status, 200, await update.text());
    await carol!.page.locator(".crm-card", { hasText: "ACME expansion" }).first().locator(".crm-latest", { hasText: "qualified" }).waitFor();
  });

  test("searching a two-character Chinese term finds the message and jumps to it", async () => {
    const { alice, bob } = people;
    await say(alice!.page, "请跟进这个线索");
    await seen(bob!.page, "请跟进这个线索", "bob");
    // Push the hit out of the first page of history, so the jump has to load back to it.
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) => batch * 10 + j).map((i) =>
          api("POST", `/v1/conversations/${stack.groupId}/messages`, stack.tokens.carol!, { clientId: `filler-${i}`, kind: "text", body: { text: `filler ${i}` } }),
        ),
      );
    }
    await openConversation(bob!.page, "Alice Martin"); // leave the group, so the jump opens it afresh
    const result = bob!.page.getByRole("button", { name: /Open in conversation: Sales team/ });
    // Search follows the D1 mirror (within about a second): search again until the message is found,
    // each attempt paced by its own answer, not by a sleep.
    for (let attempt = 1; ; attempt++) {
      await bob!.page.getByRole("searchbox", { name: "Search" }).fill("线索");
      await bob!.page.getByRole("searchbox", { name: "Search" }).press("Enter");
      await bob!.page.getByRole("heading", { name: /Search/ }).waitFor();
      await bob!.page.getByText("Loading…").waitFor({ state: "detached" });
      if ((await result.count()) > 0) break;
      assert.ok(attempt < 200, "the search never found 线索");
    }
    assert.equal(await result.first().locator("mark").first().textContent(), "线索");
    await result.first().click();
    const hit = bob!.page.locator("article.message.highlighted", { hasText: "请跟进这个线索" });
    await hit.waitFor();
    await bob!.page.waitForFunction((el) => el === document.activeElement, await hit.elementHandle()); // the hit has focus
  });

  test("Enter while an input method is composing does not send", async () => {
    const page = people.alice!.page;
    const alice = people.alice;
    await composer(page).click();
    const cdp = await alice!.context.newCDPSession(page);
    await cdp.send("Input.imeSetComposition", { text: "xian", selectionStart: 4, selectionEnd: 4 });
    await page.keyboard.press("Enter");
    await cdp.send("Input.insertText", { text: "线索已更新" });
    // Nothing was sent: the composer still holds the committed text (a real IME also swallows that Enter).
    assert.equal((await composer(page).inputValue()).trim(), "线索已更新");
    await page.keyboard.press("Enter");
    // The committed text is stored; had the first Enter sent, "xian" would have been stored before it.
    await seen(page, "线索已更新", "alice");
    const { messages } = await api<{ messages: { sender: string; body: { text?: string } }[] }>("GET", `/v1/conversations/${stack.groupId}/messages?limit=5`, stack.tokens.bob!);
    const mine = messages.filter((m) => m.sender === "alice").map((m) => m.body.text);
    assert.equal(mine.at(-1), "线索已更新");
    assert.equal(mine.filter((t) => t?.includes("xian")).length, 0);
  });

  test("the main screen, saved for this run", async () => {
    mkdirSync(SHOTS, { recursive: true });
    const { page } = people.alice!;
    await openConversation(page, "Sales team");
    await seen(page, "filler 59", "alice");
    await page.screenshot({ path: path.join(SHOTS, `main-${new Date().toISOString().replace(/[:.]/g, "-")}.png`) });
  });
});
