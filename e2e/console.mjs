// Browser end-to-end test of the operator console, against a running stack:
//
//   node e2e/console.mjs BASE_URL TOKEN OUT_DIR     (scripts/console-e2e.sh runs it)
//
// Drives Debian's Chromium through playwright-core: signs in by keyboard,
// creates a coupon whose product id and metadata are an XSS payload,
// consumes it through the API, and follows it to the coupon's page, the
// overview chart and an xlsx export read back with openpyxl; checks the
// CSP, that no payload ran or became markup, and that the page fits 360 px.
// Prints one line per step; exits non-zero on the first failure.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [BASE_ARG, TOKEN, OUT_DIR] = process.argv.slice(2);
if (!BASE_ARG || !TOKEN || !OUT_DIR) {
  console.error("usage: node e2e/console.mjs BASE_URL TOKEN OUT_DIR");
  process.exit(2);
}
const BASE = BASE_ARG.replace(/\/+$/, "");
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = process.env.PYTHON || path.join(REPO, ".venv/bin/python");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PAYLOAD = "<img src=x onerror=alert(1)>";
const TODAY = new Date().toISOString().slice(0, 10);
const RUN_LIMIT_MS = 140_000; // scripts/console-e2e.sh kills at 150 s in any case
const STEP_TIMEOUT_MS = 15_000;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const isLoopback = (url) => {
  try {
    return LOOPBACK.has(new URL(url).hostname);
  } catch {
    return false;
  }
};
if (!isLoopback(BASE)) {
  console.error(`e2e: ${BASE} is not a loopback address`);
  process.exit(2);
}

// ---------------------------------------------------------------- bookkeeping

let stepNo = 0;
const started = Date.now();
async function step(name, fn) {
  stepNo += 1;
  const t0 = Date.now();
  try {
    const result = await fn();
    console.log(`ok ${String(stepNo).padStart(2)} ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return result;
  } catch (err) {
    console.log(`FAIL ${stepNo} ${name}: ${err.message.split("\n")[0]}`);
    throw err;
  }
}

// What the page did that it should not have: dialogs (a payload ran), CSP
// violations, console errors, uncaught exceptions, requests off loopback.
const incidents = [];
const violations = [];
let expectViolation = false; // only while we inject an inline script on purpose
let expectConsole = null; // a console error one step provokes on purpose (a regexp)

async function api(method, route, body) {
  const res = await fetch(`${BASE}${route}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const data = await res.json().catch(() => null);
  return { status: res.status, data };
}

/** Polls `fn` until it returns a truthy value, or fails after `ms`. */
async function until(what, fn, ms, every = 1000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// ------------------------------------------------------------------- browser

mkdirSync(OUT_DIR, { recursive: true });
const profile = mkdtempSync(path.join(tmpdir(), "console-e2e-"));
let context;

const watchdog = setTimeout(() => {
  console.log(`FAIL the run took over ${RUN_LIMIT_MS / 1000} s`);
  context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}, RUN_LIMIT_MS);

try {
  await main();
  console.log(`e2e: all ${stepNo} steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${OUT_DIR}`);
} catch (err) {
  console.error(err.stack || String(err));
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

async function main() {
  context = await step("launch Chromium", () => chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-proxy-server"],
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    timeout: 30_000,
  }));
  context.setDefaultTimeout(STEP_TIMEOUT_MS);

  // Loopback only: anything else is refused and reported.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    incidents.push(`request off loopback: ${url}`);
    return route.abort("blockedbyclient");
  });
  await context.exposeBinding("__e2eViolation", (_source, v) => {
    if (expectViolation) violations.push(v);
    else incidents.push(`CSP violation: ${JSON.stringify(v)}`);
  });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__e2eViolation({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample });
    });
  });

  const page = context.pages()[0] ?? await context.newPage();
  page.on("dialog", (dialog) => {
    incidents.push(`dialog (${dialog.type()}): ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on("pageerror", (err) => incidents.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    // Chromium reports the refused inline script in the console too.
    if (expectViolation && /Content Security Policy/.test(msg.text())) return;
    if (expectConsole?.test(msg.text())) return;
    incidents.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  const noIncidents = () => assert.deepEqual(incidents, [], "nothing unexpected happened in the page");

  await step("GET /console/ answers with a strict CSP and safe headers", async () => {
    const res = await page.goto(`${BASE}/console/`);
    assert.equal(res.status(), 200);
    const headers = res.headers();
    const csp = headers["content-security-policy"] ?? "";
    const directive = (name) => csp.split(";").map((d) => d.trim()).find((d) => d.startsWith(`${name} `));
    assert.equal(directive("script-src"), "script-src 'self'", csp);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, "no unsafe sources or wildcards");
    assert.equal(directive("connect-src"), "connect-src 'self'");
    assert.equal(directive("frame-ancestors"), "frame-ancestors 'none'");
    assert.equal(directive("default-src"), "default-src 'none'");
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["referrer-policy"], "no-referrer");
  });

  await step("a refused token keeps the sign-in form and says why", async () => {
    expectConsole = /status of 401/; // Chromium logs the refused request
    try {
      await page.locator("form.signin input[name=token]").fill("cms_not_a_token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("form.signin .error").getByText("refused the token").waitFor();
    } finally {
      expectConsole = null;
    }
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not kept");
  });

  await step("sign in by keyboard: type the token, press Enter", async () => {
    await page.locator("form.signin input[name=token]").waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.name), "token", "the token field has the focus");
    await page.keyboard.type(TOKEN);
    await page.keyboard.press("Enter");
    await page.locator("h1", { hasText: "Overview" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 1, "the token is in sessionStorage");
  });

  await step("every script has a src; an injected inline script does not run", async () => {
    const inline = await page.$$eval("script", (scripts) => scripts.filter((s) => !s.src).length);
    assert.equal(inline, 0, "no inline <script> in the page");
    expectViolation = true;
    try {
      await page.addScriptTag({ content: "window.__inlineRan = true" }).catch(() => {});
      await until("the CSP violation report", () => violations.length > 0, 5000, 100);
    } finally {
      expectViolation = false;
    }
    assert.equal(await page.evaluate(() => typeof window.__inlineRan), "undefined", "the inline script was refused");
    assert.ok(violations.some((v) => v.directive?.startsWith("script-src")), JSON.stringify(violations));
    await page.evaluate(() => document.querySelectorAll("script:not([src])").forEach((s) => s.remove()));
  });

  await step("keyboard: the skip link comes first; Tab to Coupons, Enter", async () => {
    // A reload keeps the session (sessionStorage) and starts Tab at the top.
    await page.reload();
    await page.locator("h1", { hasText: "Overview" }).waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.className), "skip", "the skip link is the first stop");
    // It moves focus past the navigation to the view's heading, leaving
    // the route in the address as it is.
    await page.keyboard.press("Enter");
    const focused = await page.evaluate(() => document.activeElement?.textContent);
    assert.equal(focused, "Overview", "the skip link focuses the content");
    assert.equal(new URL(page.url()).hash, "#/overview");
    // An address with the link's own #main (a bookmark) still shows a view.
    await page.goto(`${BASE}/console/#main`);
    await page.reload();
    await page.locator("h1", { hasText: "Overview" }).waitFor();
    await page.keyboard.press("Tab");
    for (let i = 0; i < 12; i++) {
      if (await page.evaluate(() => document.activeElement?.textContent === "Coupons")) break;
      await page.keyboard.press("Tab");
    }
    const outline = await page.evaluate(() => {
      const el = document.activeElement;
      const s = getComputedStyle(el);
      return { text: el.textContent, style: s.outlineStyle, width: s.outlineWidth };
    });
    assert.equal(outline.text, "Coupons", "Tab reaches the Coupons link");
    assert.ok(outline.style !== "none" && outline.width !== "0px", `focus is visible: ${JSON.stringify(outline)}`);
    await page.keyboard.press("Enter");
    await page.locator("h1", { hasText: "Coupons" }).waitFor();
    assert.equal(new URL(page.url()).hash, "#/coupons");
  });

  const code = await step("create a coupon through the form, payload in product id and metadata", async () => {
    await page.getByRole("link", { name: "New coupon" }).click();
    await page.locator("h1", { hasText: "New coupon" }).waitFor();
    // A generated code with a prefix that sorts first in the code-ordered list.
    await page.getByText("Generated code format").click();
    await page.getByLabel("Prefix").fill("0E2E-");
    await page.getByLabel("Uses", { exact: true }).fill("5");
    await page.getByLabel("Discount", { exact: true }).selectOption("fixed");
    await page.getByLabel("Discount value").fill("5.00");
    await page.getByLabel("Currency").fill("EUR");
    await page.getByLabel("Product id").fill(PAYLOAD);
    await page.getByRole("button", { name: "Add a key" }).click();
    await page.getByLabel("Key 1", { exact: true }).fill("note");
    await page.getByLabel("Value 1", { exact: true }).fill(PAYLOAD);
    await page.getByRole("button", { name: "Create coupon" }).click();
    const heading = page.locator("h1[data-code]");
    await page.waitForURL(/#\/coupons\/(?!new)[A-Z0-9_-]+$/);
    await heading.waitFor();
    const made = await heading.getAttribute("data-code");
    assert.match(made, /^0E2E-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/, "a generated readable code");
    return made;
  });
  console.log(`   code ${code}`);

  // Today's count before the consume, so the chart must show this one.
  const before = (await api("GET", `/stats?from=${TODAY}&to=${TODAY}`)).data?.days?.[0]?.redemptions ?? 0;

  const redemption = await step("consume it through the API (40.00 EUR order)", async () => {
    const res = await api("POST", "/coupon/consume", { code, product_id: PAYLOAD, order_amount: "40.00", currency: "EUR" });
    assert.equal(res.status, 200, JSON.stringify(res.data));
    assert.equal(res.data.pricing.discount_amount, "5.00");
    return res.data;
  });

  await step("the coupon's page shows the redemption and the payload as text", async () => {
    await page.locator(".page-head").getByRole("button", { name: "Refresh" }).click();
    await page.locator(`tr[data-redemption-id="${redemption.redemption_id}"]`).waitFor();
    await assertNoInjectedMarkup(page);
    // The terms, the metadata and the redemptions load apart: wait until
    // the page has settled with the payload in all three, each visible.
    const payloads = page.getByText(PAYLOAD, { exact: true });
    await until("the payload as visible text in product id, metadata value and the redemption's product", async () => {
      const found = await payloads.all();
      if (found.length < 3) return false;
      for (const el of found) if (!(await el.isVisible())) return false;
      return true;
    }, STEP_TIMEOUT_MS, 200);
    await assertNoInjectedMarkup(page);
    await page.keyboard.press("Escape"); // dismisses the message, if one shows
    await page.screenshot({ path: path.join(OUT_DIR, "console-coupon.png"), fullPage: true });
    noIncidents();
  });

  await step("the coupon list shows it, escaped", async () => {
    await page.getByRole("navigation").getByRole("link", { name: "Coupons" }).click();
    const row = page.locator(`tr[data-code="${code}"]`);
    await until("the code in the list", async () => {
      if (await row.count()) return true;
      const more = page.getByRole("button", { name: "Load more" });
      if (await more.count()) await more.click();
      return false;
    }, 30_000, 250);
    assert.ok(await row.getByText(PAYLOAD, { exact: true }).isVisible());
    await assertNoInjectedMarkup(page);
    noIncidents();
  });

  await step(`the overview chart counts today's redemption (${TODAY})`, async () => {
    await page.getByRole("navigation").getByRole("link", { name: "Overview" }).click();
    const bar = page.locator(`svg[data-chart] rect.bar[data-date="${TODAY}"]`);
    const refresh = page.getByRole("button", { name: "Refresh" });
    await bar.waitFor();
    // The figures come from the table's stream: seconds behind the consume.
    await until(`data-redemptions >= ${before + 1}`, async () => {
      if (Number(await bar.getAttribute("data-redemptions")) >= before + 1) return true;
      await refresh.click();
      await page.waitForFunction(() => !document.getElementById("refresh-stats")?.disabled);
      return false;
    }, 60_000, 2000);
    const title = await bar.locator("xpath=../*[local-name()='title']").textContent();
    assert.match(title, /redemption/, "the bar has a <title> for hover");
    assert.ok(Number(await bar.getAttribute("data-discount-minor")) >= 500, "EUR discount on today's bar");
    assert.equal(await page.locator("svg[data-chart]").getAttribute("data-currency"), "EUR");
    await page.keyboard.press("Escape"); // dismisses the message, if one shows
    await page.screenshot({ path: path.join(OUT_DIR, "console-overview.png") });
    noIncidents();
  });

  const xlsx = await step("create an export for today and download it through its link", async () => {
    await page.getByRole("navigation").getByRole("link", { name: "Exports" }).click();
    await page.locator("h1", { hasText: "Exports" }).waitFor();
    assert.equal(await page.getByLabel("From (UTC day)").inputValue(), TODAY);
    const [created] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/exports") && r.request().method() === "POST"),
      page.getByRole("button", { name: "Create export" }).click(),
    ]);
    assert.equal(created.status(), 201);
    const { key } = await created.json();
    const link = page.locator(`tr[data-export-key="${key}"] a.download`);
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const file = path.join(OUT_DIR, "console-export.xlsx");
    await download.saveAs(file);
    assert.equal(await download.failure(), null);
    return file;
  });

  await step("the workbook has the redemption's row (openpyxl)", async () => {
    const script = [
      "import json, sys, openpyxl",
      "wb = openpyxl.load_workbook(sys.argv[1], read_only=True)",
      "rows = []",
      "for ws in wb.worksheets:",
      "    it = ws.iter_rows(values_only=True)",
      "    header = next(it)",
      "    rows += [dict(zip(header, r)) for r in it if dict(zip(header, r)).get('code') == sys.argv[2]]",
      "print(json.dumps(rows, default=str))",
    ].join("\n");
    const rows = JSON.parse(execFileSync(PYTHON, ["-c", script, xlsx, code], { encoding: "utf8", timeout: 30_000 }));
    const row = rows.find((r) => r.redemption_id === redemption.redemption_id);
    assert.ok(row, `a row for ${code}: ${JSON.stringify(rows)}`);
    assert.equal(row.kind, "consume");
    assert.equal(row.product_id, PAYLOAD);
    assert.equal(Number(row.discount_amount), 5);
    assert.equal(Number(row.order_amount), 40);
  });

  await step("at 360 px no page scrolls sideways", async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    for (const [hash, ready] of [
      ["#/overview", `svg[data-chart] rect.bar[data-date="${TODAY}"]`],
      ["#/coupons", `tr[data-code]`],
      ["#/exports", "tr[data-export-key]"],
      ["#/coupons/new", "form.create"],
      [`#/coupons/${code}`, `tr[data-redemption-id="${redemption.redemption_id}"]`],
    ]) {
      await page.evaluate((h) => { location.hash = h; }, hash);
      await page.locator(ready).first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${hash} is ${width} px wide`);
    }
    await assertNoInjectedMarkup(page);
    await page.keyboard.press("Escape"); // dismisses the message, if one shows
    await page.screenshot({ path: path.join(OUT_DIR, "console-mobile.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step("edit terms, switch off and delete it through the coupon's page", async () => {
    await page.evaluate((h) => { location.hash = h; }, `#/coupons/${code}`);
    await page.getByRole("button", { name: "Edit terms" }).click();
    await page.getByLabel("Uses", { exact: true }).fill("10");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.locator(".terms div", { hasText: "Uses left" }).locator("dd", { hasText: /^10$/ }).waitFor();
    await page.getByRole("button", { name: "Switch off" }).click();
    await page.locator(".page-head .badge", { hasText: "switched off" }).waitFor();
    const off = await api("GET", `/coupon?code=${code}`);
    assert.equal(off.data.active, false);
    assert.equal(off.data.availability_count, 10);
    assert.equal(off.data.product_id, PAYLOAD, "an edit keeps what it did not change");
    await page.getByRole("button", { name: "Delete…" }).click();
    // The confirmation step: focus is on Cancel, the safe choice.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel");
    await page.getByRole("button", { name: `Delete ${code}` }).click();
    await page.waitForURL(/#\/coupons$/);
    assert.equal((await api("GET", `/coupon?code=${code}`)).status, 404, "the coupon is gone");
    noIncidents();
  });

  await step("sign out: no token left, the sign-in form shows", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("form.signin input[name=token]").waitFor();
    const stored = await page.evaluate(() => Object.values(sessionStorage));
    assert.ok(!stored.some((v) => v.includes(TOKEN)), "no token in sessionStorage");
    assert.equal(stored.length, 0);
    assert.ok(await page.locator("#top").isHidden(), "the navigation is hidden");
    await page.evaluate(() => { location.hash = "#/coupons"; });
    await page.locator("form.signin").waitFor();
    assert.equal(await page.locator("h1[data-code], table").count(), 0, "no data without a token");
  });

  await step("no dialog, CSP violation, console error or stray request the whole run", async () => {
    noIncidents();
  });
}

/** The payload must never have become an element or an attribute. */
async function assertNoInjectedMarkup(page) {
  const found = await page.evaluate(() => ({
    img: document.querySelectorAll('img[src="x"]').length,
    onerror: document.querySelectorAll("[onerror]").length,
  }));
  assert.deepEqual(found, { img: 0, onerror: 0 }, "no element made from the payload");
}
