// Opens a host page in Chromium and waits until its #status says `expected`: the embedded join
// page joined and its postMessage reached the host page's listener (which checks the origin).
//   node test/examples/open-in-browser.js <page url> <expected #status text>
"use strict";
/* global document -- waitForFunction's callback runs in the page */
const { chromium } = require("playwright-core");
const { findChromium } = require("./chromium");

(async () => {
  const [url, expected] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: findChromium(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    try {
      await page.waitForFunction((text) => document.getElementById("status").textContent === text, expected, {
        timeout: 20_000,
      });
    } catch {
      throw new Error(`#status says "${await page.textContent("#status")}", not "${expected}"`);
    }
    console.log(`in Chromium, the host page heard from the iframe: "${expected}"`);
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(`examples: FAIL: ${error.message}`);
  process.exit(1);
});
