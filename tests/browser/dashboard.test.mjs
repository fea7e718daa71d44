// End-to-end test of `pool dashboard` in a real browser: Debian's chromium,
// headless, driven by playwright-core. Run by run.sh with BIN_DIR (the folder
// holding `pool` and `pool-query`) and SCREENSHOT (where the picture goes).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import net from "node:net";
import http from "node:http";
import { chromium } from "playwright-core";

const BIN_DIR = process.env.BIN_DIR;
const SCREENSHOT = process.env.SCREENSHOT || "target/browser/dashboard.png";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
assert.ok(BIN_DIR, "set BIN_DIR to the folder holding pool and pool-query");

const work = mkdtempSync(path.join(tmpdir(), "pool-browser-"));
const poolDir = path.join(work, "pool");
const env = { ...process.env, POOL_DIR: poolDir, CLAUDE_INSTANCE: "" };
let server, url, port, context, page;

function pool(...args) {
  return execFileSync(path.join(BIN_DIR, "pool"), args, { env, encoding: "utf8" });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A raw GET, so the test controls every header (fetch would set Host itself). */
function rawRequest(pathAndQuery, headers = {}, method = "GET", body = null) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: pathAndQuery, method, headers, timeout: 5000 },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode, body: data }));
      },
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

before(async () => {
  mkdirSync(poolDir, { recursive: true, mode: 0o700 });
  writeFileSync(
    path.join(poolDir, "config.json"),
    JSON.stringify({
      instances: { A: { role: "builder", domain: ["api"] }, B: { role: "reviewer" } },
    }),
  );
  // A's session as its hooks record it (src/presence.rs): where it works.
  mkdirSync(path.join(poolDir, "presence"), { mode: 0o700 });
  const nowSecs = Math.floor(Date.now() / 1000);
  writeFileSync(
    path.join(poolDir, "presence", "0123456789abcdef0123456789abcdef.json"),
    JSON.stringify({
      instance: "A", session_id: "s-a", cwd: "/work/app-A/src", worktree: "/work/app-A",
      branch: "pool/A", host: "devbox", first_seen: nowSecs - 60, last_seen: nowSecs, ended: null,
    }),
  );
  pool("post", "--instance", "A", "--action", "completed", "--topic", "Seeded by the CLI",
    "--summary", "<b>not bold</b><script>window.__pwned = 1</script>");
  pool("post", "--instance", "A", "--action", "claimed", "--topic", "Auth", "--affects", "src/auth/");
  pool("post", "--instance", "B", "--action", "claimed", "--topic", "Tokens", "--affects", "src/auth/token.rs");

  port = await freePort();
  server = spawn(path.join(BIN_DIR, "pool"), ["dashboard", "--port", String(port)], {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("no URL printed: " + out)), 10000);
    server.stdout.on("data", (c) => {
      out += c;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    server.once("exit", (code) => reject(new Error("pool dashboard exited " + code + ": " + out)));
  });

  context = await chromium.launchPersistentContext(path.join(work, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15000);
  page = context.pages()[0] || (await context.newPage());
});

after(async () => {
  if (page) {
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => {});
  }
  await context?.close().catch(() => {});
  server?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

test("the page loads with the token and shows entries written by the CLI", async () => {
  const resp = await page.goto(url);
  assert.equal(resp.status(), 200);
  const seeded = page.locator("#stream li[data-id]", { hasText: "Seeded by the CLI" });
  await seeded.waitFor();
  // Entry text is shown as text, never parsed as HTML.
  assert.equal(
    await seeded.locator(".summary").textContent(),
    "<b>not bold</b><script>window.__pwned = 1</script>",
  );
  assert.equal(await page.locator("#stream b, #stream script").count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  const cardA = page.locator('.card[data-instance="A"]');
  await cardA.waitFor();
  assert.match(await cardA.textContent(), /the builder/);
  assert.match(await cardA.textContent(), /src\/auth\//);
  assert.match(await cardA.textContent(), /\/work\/app-A \(pool\/A\)/);
  assert.match(await cardA.textContent(), /host: devbox/);
  assert.equal(await cardA.getAttribute("class"), "card active");
  await page.locator("#conflicts li.conflict").waitFor();
  assert.match(await page.locator("#conflicts").textContent(), /src\/auth\/token\.rs/);
});

test("a new entry appears live, without a reload", async () => {
  await page.locator("#conn.live").waitFor();
  await page.evaluate(() => (window.__sameDocument = true));
  pool("post", "--instance", "C", "--action", "blocked", "--topic", "Appended while watching");
  await page.locator("#stream li[data-id]", { hasText: "Appended while watching" }).waitFor({ timeout: 5000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload happened");
  assert.match(await page.locator("#stream li[data-id]").first().textContent(), /Appended while watching/);
  await page.locator('.card[data-instance="C"]').waitFor();
});

test("the filters narrow the stream", async () => {
  await page.selectOption("#filter-action", "blocked");
  const items = page.locator("#stream li[data-id]");
  assert.equal(await items.count(), 1);
  await page.selectOption("#filter-action", "");
  assert.ok((await items.count()) >= 4);
});

test("a handoff posted through the form lands in the pool", async () => {
  await page.fill("#f-instance", "human");
  await page.fill("#f-to", "B");
  await page.selectOption("#f-action", "signaling");
  await page.fill("#f-topic", "Please review the auth change");
  await page.fill("#f-summary", "see src/auth/");
  await page.click("#f-submit");
  await page.locator("#post-result", { hasText: "posted" }).waitFor();
  const lines = pool("query", "--json", "--instance", "human")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const h = lines.find((e) => e.topic === "Please review the auth change");
  assert.ok(h, "the handoff is in the pool: " + JSON.stringify(lines));
  assert.equal(h.to, "B");
  assert.equal(h.source_instance, "human");
  const viaQuery = execFileSync(path.join(BIN_DIR, "pool-query"), ["--json", "--instance", "human"], {
    env,
    encoding: "utf8",
  });
  assert.match(viaQuery, /Please review the auth change/);
  await page.locator("#handoffs li", { hasText: "Please review the auth change" }).waitFor();
  assert.match(await page.locator('.card[data-instance="B"]').textContent(), /1 handoff/);
});

test("requests without the token, from another host or another origin are refused", async () => {
  const bare = await rawRequest("/");
  assert.equal(bare.status, 403);
  assert.equal((await rawRequest("/api/state")).status, 403);
  assert.equal((await rawRequest("/events?token=wrong")).status, 403);
  const token = new URL(url).searchParams.get("token");
  assert.equal((await rawRequest("/api/state?token=" + token)).status, 200);
  const rebound = await rawRequest("/api/state?token=" + token, { Host: "evil.example:" + port });
  assert.equal(rebound.status, 403, "DNS rebinding: a foreign Host is refused");
  const cross = await rawRequest(
    "/api/post?token=" + token,
    { Origin: "http://evil.example", "Content-Type": "application/json" },
    "POST",
    JSON.stringify({ instance: "evil", topic: "x" }),
  );
  assert.equal(cross.status, 403);
  // And the browser, without the token, gets the refusal too.
  const resp = await (await context.newPage()).goto(`http://127.0.0.1:${port}/`);
  assert.equal(resp.status(), 403);
});
